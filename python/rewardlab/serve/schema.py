"""The request bodies the service accepts, and the errors it answers bad ones with.

Bodies are parsed and validated in one step by pydantic from the raw bytes (invalid UTF-8 and
lone surrogates are refused there, so no text that cannot be hashed or tokenized gets queued).
Every refusal names the field: ``query[3]``, ``items[0].response``.
"""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError, field_validator


class RequestError(Exception):
    """A request the service refuses: HTTP ``status``, the ``field`` at fault and why."""

    def __init__(self, status: int, field: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.status, self.field, self.message, self.headers = status, field, message, headers or {}

    @classmethod
    def from_invalid(cls, err: Exception) -> "RequestError":
        """422 for an ``InvalidInputError`` (``"field: reason"``) raised while reading a request."""
        field, _, message = str(err).partition(": ")
        return cls(422, field, message or field)

    def body(self) -> dict:
        """The JSON error body."""
        return {"error": {"status": self.status, "field": self.field, "message": self.message}}


class GetRewardRequest(BaseModel):
    """OpenRLHF's remote reward request (``openrlhf/utils/agent.py``, ``_fetch_rewards_via_http``):
    each query is its prompt followed by the policy's response; labels are passed through unused."""

    model_config = ConfigDict(extra="ignore")
    query: list[StrictStr]
    prompts: list[StrictStr]
    labels: Union[list[Any], None] = None


class ScoreItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: StrictStr
    response: StrictStr
    group: Any = None

    @field_validator("group")
    @classmethod
    def _group_key(cls, value: Any) -> Union[str, int, None]:
        if value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise ValueError(f"must be a string, an integer or null, got {type(value).__name__}")


class ScoreRequest(BaseModel):
    """The native request: items, optionally grouped (the samples of one prompt share a group)."""

    model_config = ConfigDict(extra="forbid")
    items: list[ScoreItem]


def field_path(loc: tuple) -> str:
    """``("items", 3, "prompt")`` as ``items[3].prompt``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def parse(model: type[BaseModel], body: bytes) -> Any:
    """The validated request, or :class:`RequestError` (400 for a body that is not JSON, 422 for
    JSON of the wrong shape) naming the first field at fault."""
    try:
        return model.model_validate_json(body)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        first = errors[0]
        more = f" ({len(errors) - 1} more errors)" if len(errors) > 1 else ""
        if first["type"] == "json_invalid":
            raise RequestError(400, "body", f"not valid JSON in UTF-8: {first['msg']}") from None
        raise RequestError(422, field_path(tuple(first["loc"])), f"{first['msg']}{more}") from None
