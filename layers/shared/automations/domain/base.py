"""Base model: camelCase on the wire and in the table, snake_case in Python."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """Strict about input: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def dump(self) -> dict:
        """JSON-ready dict with wire names, without unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RecordModel(CamelModel):
    """A stored record: tolerant of attributes added by newer versions of the engine."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")
