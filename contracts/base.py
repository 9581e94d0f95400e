"""What every event shares: identity, time, version and the sealed-secret type."""

from datetime import UTC, datetime
from typing import Annotated, ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Sealed = Annotated[
    str,
    Field(
        description=(
            "A secret sealed with a libsodium sealed box (crypto_box_seal) to the public key of "
            "the one party that must read it; standard base64."
        ),
        json_schema_extra={"contentEncoding": "base64", "x-sealed-box": True},
        min_length=40,
    ),
]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every published event. Consumers ignore fields they do not know yet, so a new
    optional field is a compatible change within a major version."""

    # Fields with defaults are always present in a published payload: the schema says so.
    model_config = ConfigDict(extra="ignore", frozen=True, json_schema_serialization_defaults_required=True)

    SUBJECT: ClassVar[str]
    STREAM: ClassVar[str]

    event_id: UUID = Field(default_factory=uuid4, description="Also the Nats-Msg-Id header.")
    occurred_at: AwareDatetime = Field(default_factory=utc_now, description="UTC.")
    version: int = Field(default=1, description="Major version; the subject ends in it.")


class UserEvent(Event):
    """An event about one account, naming the person so a reader needs no lookup."""

    user_id: UUID
    email: str = Field(max_length=254)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)


class PostalAddress(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    street: str = Field(min_length=1, max_length=200)
    postal_code: str = Field(min_length=4, max_length=10)
    city: str = Field(min_length=1, max_length=100)
    country: str = Field(default="DE", min_length=2, max_length=2)
