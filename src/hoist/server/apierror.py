"""Errors the registry answers with: the distribution-spec codes, their statuses, their JSON.

Handlers raise :class:`ApiError` with a :class:`~hoist.errors.ErrorCode` (the enum hoist's
registry client reads the same answers with); the error middleware in :mod:`hoist.server.app`
turns it into ``{"errors": [{"code", "message", "detail"}]}``. This module does not import aiohttp.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from hoist.errors import ErrorCode

__all__ = ["CODES", "ApiError", "error_body"]

CODES: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.BLOB_UNKNOWN: (404, "blob unknown to registry"),
    ErrorCode.BLOB_UPLOAD_INVALID: (400, "blob upload invalid"),
    ErrorCode.BLOB_UPLOAD_UNKNOWN: (404, "blob upload unknown to registry"),
    ErrorCode.DIGEST_INVALID: (400, "provided digest did not match uploaded content"),
    ErrorCode.MANIFEST_BLOB_UNKNOWN: (
        400,
        "manifest references a manifest or blob unknown to registry",
    ),
    ErrorCode.MANIFEST_INVALID: (400, "manifest invalid"),
    ErrorCode.MANIFEST_UNKNOWN: (404, "manifest unknown to registry"),
    ErrorCode.NAME_INVALID: (400, "invalid repository name"),
    ErrorCode.NAME_UNKNOWN: (404, "repository name not known to registry"),
    ErrorCode.SIZE_INVALID: (400, "provided length did not match content length"),
    ErrorCode.UNAUTHORIZED: (401, "authentication required"),
    ErrorCode.DENIED: (403, "requested access to the resource is denied"),
    ErrorCode.UNSUPPORTED: (405, "the operation is unsupported"),
    ErrorCode.TOOMANYREQUESTS: (429, "too many requests"),
}
"""Every code of the distribution spec (v1.1) (each :class:`~hoist.errors.ErrorCode`), with its
usual status and description.

The spec allows no other code in a JSON error body, so conditions that distribution reports
with its own codes (RANGE_INVALID, PAGINATION_NUMBER_INVALID) use the closest spec code with
the status the spec asks for (416 for an out-of-order chunk, 400 for a bad ``n``).
"""


class ApiError(Exception):
    """An error answer: spec ``code``, HTTP ``status``, message, detail and extra headers.

    ``errors`` carries further ``(code, message, detail)`` entries for answers that report
    several problems at once (a manifest referencing several unknown blobs).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str = "",
        *,
        status: int | None = None,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[tuple[ErrorCode, str, Any]] = (),
    ) -> None:
        if code not in CODES:
            raise ValueError(f"not a distribution-spec error code: {code}")
        code = ErrorCode(code)
        default_status, description = CODES[code]
        self.code = code
        self.message = message or description
        self.status = status if status is not None else default_status
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = [(code, self.message, detail), *errors]
        super().__init__(f"{code}: {self.message}")

    def body(self) -> bytes:
        """The JSON error body."""
        return error_body(self.errors)


def error_body(errors: Sequence[tuple[ErrorCode, str, Any]]) -> bytes:
    """``{"errors": [...]}`` for ``(code, message, detail)`` triples (detail left out if None)."""
    entries = []
    for code, message, detail in errors:
        entry: dict[str, Any] = {"code": code, "message": message}
        if detail is not None:
            entry["detail"] = detail
        entries.append(entry)
    return json.dumps({"errors": entries}, separators=(",", ":")).encode()
