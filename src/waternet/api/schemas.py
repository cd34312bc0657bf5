"""HTTP shapes of the application itself: the one error body and the probes' answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    """One problem of an error: which input (``field``, or null) and what is wrong with it.

    Extra keys may follow (``in`` and ``type`` for request validation; ``severity``, ``code``,
    ``element``, ``layer``, ``message`` for network import issues; ``valve`` for stuck valves...).
    """

    model_config = ConfigDict(extra="allow")
    field: str | None = Field(
        default=None,
        description="the input concerned: a parameter name or a dotted path into the body "
        "(`point.lon`, `0.code` for item 0 of a list body); null when no single input is at fault",
    )
    problem: str = Field(description="what is wrong, for people")


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer of the API (see ``waternet.api.errors``)."""

    error: str = Field(description="stable machine-readable code", examples=["not_found"])
    message: str = Field(description="what went wrong, for people")
    details: list[ErrorDetail] = Field(
        default_factory=list, description="every problem found (empty when there is no more to say)"
    )


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    """Readiness probe: 200 when ready, 503 (same body) when not."""

    ready: bool
    checks: dict[str, str] = Field(description="check name -> ok, or why not")
