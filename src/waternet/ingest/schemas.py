"""HTTP shapes of the ingest API: push acknowledgements and the quarantine summary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

# rendered by isoformat(), as before the model (pydantic would write UTC as Z)
IsoDatetime = Annotated[
    datetime,
    PlainSerializer(lambda t: t.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class PushAck(BaseModel):
    result: str = "ok"
    stored: int
    duplicates: int
    quarantined: int
    spooled: int


class QuarantineGroup(BaseModel):
    """Quarantined input of one reason from one source."""

    reason: str = Field(examples=["bad_signature"])
    source: str
    n: int = Field(description="quarantined messages")
    last_at: IsoDatetime = Field(description="when the latest one was received")
