"""Request bodies: bytes, files or chunk iterables, and whether they can be sent again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeAlias, cast

from hoist.model.digest import CHUNK, Readable

__all__ = ["Body", "Passthrough", "RequestBody"]

TRANSFER = 8 << 20
"""Bytes moved per :meth:`Passthrough.send_to` step (progress is told after each)."""

Body: TypeAlias = bytes | bytearray | memoryview | Readable | Iterable[bytes] | None
"""A request body: bytes, a file-like object (replayable when seekable), or an iterable of chunks
(replayable when a list or tuple; any other iterator is sent once and never retried)."""


class RequestBody:
    """A request body that knows whether it can be sent again."""

    def __init__(self, body: Body) -> None:
        self._data: bytes | bytearray | memoryview | None = None
        self._file: Any = None
        self._chunks: Iterable[bytes] | None = None
        self._start = 0
        self._touched = False
        self.length: int | None = None
        """Known length of a seekable file body (for Content-Length)."""
        if body is None or isinstance(body, bytes | bytearray | memoryview):
            self._data = body
        elif hasattr(body, "read"):
            self._file = file = cast(Any, body)
            seekable = getattr(file, "seekable", None)
            if callable(seekable) and seekable():
                self._start = file.tell()
                self.length = file.seek(0, 2) - self._start
                file.seek(self._start)
        elif isinstance(body, list | tuple):
            self._chunks = body
        else:
            self._chunks = iter(body)

    def payload(self) -> Any:
        if self._file is not None:
            if callable(getattr(self._file, "transfer_to", None)):
                return self._track(iter((Passthrough(self._file),)))
            return self._track(iter(lambda: self._file.read(CHUNK), b""))
        if self._chunks is not None:
            return self._track(iter(self._chunks))
        return self._data

    def _track(self, chunks: Iterator[Any]) -> Iterator[Any]:
        for chunk in chunks:
            self._touched = True
            yield chunk

    def rewind(self) -> bool:
        """Make the body ready to send again; False when it cannot be."""
        if not self._touched or isinstance(self._chunks, list | tuple):
            return True
        if self._file is not None and self.length is not None:
            self._file.seek(self._start)
            self._touched = False
            return True
        return False


class Passthrough:
    """A file body its connection sends itself (see ``send_to``): the connections of
    :class:`~hoist.transport.http.Transport` know it; anything else reads it like a file."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def send_to(self, sock: Any) -> None:
        """Send the whole body into ``sock``: moved by the source straight from its socket while
        it can (``transfer_to``), the rest read and sent in chunks."""
        while (moved := self._source.transfer_to(sock, TRANSFER)) is not None:
            if moved == 0:
                return
        while data := self._source.read(CHUNK):
            sock.sendall(data)

    def read(self, n: int = -1, /) -> bytes:
        data: bytes = self._source.read(n)
        return data
