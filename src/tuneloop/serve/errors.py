"""OpenAI-style error answers: ``{"error": {"message", "type", "param", "code"}}`` with the right status.

Every failure the server answers goes through :class:`ApiError`, so a client (the openai SDK) always
gets an error object it can parse; an unexpected exception is logged and answered as a 500 error
object, never as a traceback.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi.responses import JSONResponse

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "timeout_error",
}


class ApiError(Exception):
    """A failure answered to the client with ``status`` and an OpenAI error object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    @property
    def type(self) -> str:
        return _TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_request(message: str, *, param: str | None = None, code: str = "invalid_request") -> ApiError:
    return ApiError(400, message, code=code, param=param)


def unsupported_parameter(param: str) -> ApiError:
    return ApiError(
        400,
        f"'{param}' is not supported by this server; remove it from the request",
        code="unsupported_parameter",
        param=param,
    )


def validation_error(message: str, param: str | None) -> ApiError:
    return ApiError(422, message, code="invalid_value", param=param)


def unauthorized(message: str = "a valid API key is required (Authorization: Bearer <key>)") -> ApiError:
    return ApiError(401, message, code="invalid_api_key")


def forbidden(message: str, *, param: str | None = None) -> ApiError:
    return ApiError(403, message, code="permission_denied", param=param)


def not_found(message: str, *, param: str | None = None, code: str = "not_found") -> ApiError:
    return ApiError(404, message, code=code, param=param)


def body_too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is larger than {limit} bytes", code="body_too_large")


def rate_limited(retry_after_s: float, message: str) -> ApiError:
    seconds = max(1, math.ceil(retry_after_s))
    return ApiError(429, message, code="queue_full", headers={"Retry-After": str(seconds)})


def not_ready(message: str) -> ApiError:
    return ApiError(503, message, code="not_ready", headers={"Retry-After": "1"})


def timed_out(seconds: float) -> ApiError:
    return ApiError(504, f"no answer within {seconds:g} s; the generation was cancelled", code="timeout")


def internal_error() -> ApiError:
    return ApiError(500, "internal server error (see the server log)", code="internal_error")
