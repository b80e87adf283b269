"""Reply step, HTTP side: every error as OpenAI's error object, so an OpenAI client raises the right class.

``{"error": {"message", "type", "param", "code"}}`` with the status OpenAI uses: 400 bad request,
401 bad key, 403 not allowed, 404 unknown model or route, 413 too large, 429 rate limit,
500 newsbot failed, 503 busy (with Retry-After).
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import JSONResponse

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
}


def error_object(message: str, code: str, status: int, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": TYPES.get(status, "server_error"), "param": param, "code": code}
    }


def error_body(message: str, code: str, status: int) -> bytes:
    return json.dumps(error_object(message, code, status)).encode()


def error_response(
    status: int, message: str, code: str, *, param: str | None = None, retry_after: float | None = None
) -> JSONResponse:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after is not None else None
    return JSONResponse(error_object(message, code, status, param), status_code=status, headers=headers)
