"""The one error type the client raises, read from the gateway's error extensions."""

from typing import Any, Dict, List, Mapping, Optional

# Codes the gateway marks retryable, or that say "not now" rather than "not this":
# a rate limit (with retryAfterMs) and a database that is down or restarting.
RETRYABLE_CODES = frozenset({"RATE_LIMITED", "UNAVAILABLE"})


class MemoryGatewayError(Exception):
    """An error the gateway answered, or one reaching it.

    code: the gateway's extensions.code (BAD_USER_INPUT, NOT_FOUND, CONFLICT, FORBIDDEN,
      UNAUTHENTICATED, RATE_LIMITED, UNAVAILABLE, ...); UNAVAILABLE also when the gateway
      cannot be reached, TIMEOUT when a wait runs out.
    field: the input field at fault (input.content, input.turns[3].role), when one is.
    retryable: sending the same request again may succeed.
    retry_after_ms: how long the gateway asks to wait first (rate limits).
    extensions: every extension the gateway gave (reason, limit, ...).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: Optional[str] = None,
        retryable: Optional[bool] = None,
        retry_after_ms: Optional[int] = None,
        path: Optional[List[Any]] = None,
        extensions: Optional[Mapping[str, Any]] = None,
        http_status: Optional[int] = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field
        if retryable is None:
            retryable = code in RETRYABLE_CODES
        self.retryable = retryable
        self.retry_after_ms = retry_after_ms
        self.path = path
        self.extensions: Dict[str, Any] = dict(extensions or {})
        self.http_status = http_status

    @classmethod
    def from_graphql(cls, error: Mapping[str, Any], http_status: Optional[int] = None) -> "MemoryGatewayError":
        """The error of one entry of a GraphQL response's errors list."""
        ext = error.get("extensions") or {}
        retry_after = ext.get("retryAfterMs")
        retryable = ext.get("retryable")
        return cls(
            str(ext.get("code") or "INTERNAL"),
            str(error.get("message") or ""),
            field=ext.get("field"),
            retryable=bool(retryable) if retryable is not None else None,
            retry_after_ms=int(retry_after) if isinstance(retry_after, (int, float)) else None,
            path=error.get("path"),
            extensions=ext,
            http_status=http_status,
        )

    def __repr__(self) -> str:
        return (
            f"MemoryGatewayError(code={self.code!r}, message={self.message!r}, field={self.field!r}, "
            f"retryable={self.retryable!r}, retry_after_ms={self.retry_after_ms!r})"
        )
