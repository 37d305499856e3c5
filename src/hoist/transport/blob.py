"""A blob body that resumes with a Range request when the connection drops mid-stream."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hoist.errors import TransportError
from hoist.model.digest import CHUNK

if TYPE_CHECKING:
    from hoist.transport.http import Transport
    from hoist.transport.response import Response

__all__ = ["ResumingReader", "parse_content_range"]

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+(\d{1,19})-(\d{1,19})/(\d{1,19}|\*)\s*", re.IGNORECASE)
"""A 206's ``Content-Range``; offsets of more than 19 digits (past 2**63) are not ranges."""


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``(first, last, total)`` from ``bytes FIRST-LAST/TOTAL`` (total None for ``*``); None
    for anything else, a hostile header included (``first`` past ``last``, 5000 digits)."""
    m = _CONTENT_RANGE.fullmatch(value or "")
    if m is None:
        return None
    first, last = int(m.group(1)), int(m.group(2))
    total = None if m.group(3) == "*" else int(m.group(3))
    if first > last or (total is not None and last >= total):
        return None
    return first, last, total


class ResumingReader:
    """Reads a blob GET; when the connection is cut, asks for ``Range: bytes=N-`` and goes on.

    ``N`` counts the bytes already returned to the caller, so nothing is read twice or skipped.
    A 206 must start at ``N``; a 200 (Range ignored) has its first ``N`` bytes skipped. At most
    ``attempts`` resumptions. Verification is the caller's (see ``Transport.open_blob``).
    """

    def __init__(
        self,
        transport: Transport,
        host: str,
        path: str,
        scopes: Sequence[str],
        response: Response,
        *,
        attempts: int = 5,
    ) -> None:
        self._transport = transport
        self._host = host
        self._path = path
        self._scopes = scopes
        self._response = response
        self._attempts = attempts
        self._resumed = 0
        self.offset = 0
        """Bytes returned so far."""

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        while True:
            try:
                data = self._response.read(size)
            except TransportError as exc:
                self._resume(exc)
                continue
            self.offset += len(data)
            return data

    def transfer_to(self, sink: object, limit: int) -> int | None:
        """Move up to ``limit`` bytes into the socket ``sink`` without reading them (see
        :meth:`Response.transfer_to`), resuming as :meth:`read` does; None when the body has to
        be read instead."""
        while True:
            try:
                moved = self._response.transfer_to(sink, limit)
            except TransportError as exc:
                self._resume(exc)
                continue
            if moved is not None:
                self.offset += moved
            return moved

    def _resume(self, cause: TransportError) -> None:
        """Open a new response that continues at ``self.offset``."""
        while True:
            self._response.close()
            self._resumed += 1
            if self._resumed > self._attempts:
                raise TransportError(
                    f"{cause} (gave up at byte {self.offset} after {self._attempts} resumptions)"
                ) from cause
            time.sleep(self._transport.backoff(self._resumed - 1))
            log.info(
                "%s%s: connection lost at byte %d; resuming", self._host, self._path, self.offset
            )
            response = self._transport.request(
                "GET",
                self._host,
                self._path,
                headers={"Range": f"bytes={self.offset}-"},
                scopes=self._scopes,
                expect=(200, 206),
                stream=True,
            )
            self._response = response
            if response.status == 206:
                self._check_range(response)
                return
            try:
                self._skip(response, self.offset)
                return
            except TransportError as exc:  # cut again while skipping
                cause = exc

    def _check_range(self, response: Response) -> None:
        value = response.headers.get("Content-Range", "")
        parsed = parse_content_range(value)
        if parsed is None or parsed[0] != self.offset:
            response.close()
            raise TransportError(
                f"{self._host}: resumed {self._path} at {value or 'an unknown range'!r}, "
                f"wanted byte {self.offset}"
            )

    @staticmethod
    def _skip(response: Response, count: int) -> None:
        """Discard the first ``count`` bytes of a response that ignored the Range header."""
        left = count
        while left > 0:
            data = response.read(min(left, CHUNK))
            if not data:
                response.close()
                raise TransportError(f"{response.url}: body ended before byte {count}")
            left -= len(data)

    def close(self) -> None:
        self._response.close()
