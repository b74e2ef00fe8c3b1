"""Request and response bodies of /keys: a key is shown by id, prefix and times, its secret once."""

from __future__ import annotations

from pydantic import Field

from automations.api.schemas import ApiModel
from automations.logic.accounts import NewKey
from automations.ports import ApiKeyRecord


class CreateKeyRequest(ApiModel):
    name: str | None = Field(default=None, min_length=1, max_length=100, description="What the key is for")


class KeyView(ApiModel):
    key_id: str = Field(description="The key's public id (run history records it as `by`)")
    prefix: str = Field(description="The key's first characters, safe to show")
    created_at: str
    revoked_at: str | None = Field(default=None, description="When it was revoked (it answers 401 since)")
    name: str | None = None

    @classmethod
    def of(cls, key: ApiKeyRecord) -> KeyView:
        return cls(
            key_id=key.key_id, prefix=key.prefix, created_at=key.created_at, revoked_at=key.revoked_at, name=key.name
        )


class KeyList(ApiModel):
    items: list[KeyView] = Field(description="The account's keys, newest first")


class KeyCreated(ApiModel):
    key_id: str
    api_key: str = Field(description="The key itself: shown this once, stored only as a hash")
    prefix: str
    created_at: str
    name: str | None = None

    @classmethod
    def of(cls, created: NewKey) -> KeyCreated:
        key = created.key
        return cls(
            key_id=key.key_id, api_key=created.secret, prefix=key.prefix, created_at=key.created_at, name=key.name
        )
