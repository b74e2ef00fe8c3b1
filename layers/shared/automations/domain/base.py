"""Base models: camelCase on the wire and in the table, snake_case in Python; the moment type of
requests."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """Strict about input: unknown fields are an error, not silently dropped.

    Every model's validator is built on its first use (``defer_build``), not at import: a cold
    start imports every record and node model and uses a few of them.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True)

    def dump(self) -> dict:
        """JSON-ready dict with wire names, without unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RecordModel(CamelModel):
    """A stored record: tolerant of attributes added by newer versions of the engine."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def _iso_text(value: Any) -> Any:
    # pydantic would read a number (or a numeric string, as a query gives it) as Unix seconds, so
    # `to=0.5` would mean 1970: a moment here is ISO 8601 text
    if not isinstance(value, datetime) and not (isinstance(value, str) and _ISO_DATE.match(value)):
        raise ValueError("expected an ISO 8601 date and time with an offset, e.g. 2026-11-25T09:00:00Z")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
