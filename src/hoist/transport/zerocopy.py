"""Zero-copy sends into a plain socket: ``os.splice`` from another socket, ``os.sendfile`` from
a file.

A blob copied between two registries spoken to over plain HTTP needs no byte of it in Python:
the destination checks the digest of an upload that names it, so the client only has to move
the bytes. The kernel moves them from the source's socket into a pipe and from the pipe into the
destination's socket, without copying them to user space and back. Linux only; over TLS, or
where ``os.splice`` is missing, callers read and send as before (see
:meth:`hoist.transport.response.Response.transfer_to`). A blob read from an OCI layout goes the
same way with ``os.sendfile`` (:class:`FileReader`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, BinaryIO, cast

if TYPE_CHECKING:
    import socket

__all__ = ["SPLICE_MIN", "FileReader", "Pipe", "SourceLost", "plain_socket", "splice_available"]

SPLICE_MIN = 1 << 20
"""Bodies shorter than this are read, not spliced: their bytes cost little to copy, and a
splice costs a pipe and several system calls per piece."""

_PIPE_SIZE = 1 << 20
"""The pipe's capacity asked for (Linux allows up to ``/proc/sys/fs/pipe-max-size``, 1 MiB by
default, without privileges): each splice moves at most this much."""
_F_SETPIPE_SZ = 1031


class SourceLost(OSError):
    """Reading the source socket failed (the destination's failures are plain OSErrors)."""

    @classmethod
    def of(cls, exc: OSError) -> SourceLost:
        """``exc``, a failure reading the source, as a SourceLost (raise it ``from exc``)."""
        return exc if isinstance(exc, SourceLost) else cls(exc.errno, exc.strerror or str(exc))


def splice_available() -> bool:
    """Whether this platform has ``os.splice`` (Linux with Python 3.10 or later)."""
    return hasattr(os, "splice")


def plain_socket(sock: object) -> socket.socket | None:
    """``sock`` when it is a plain socket (not TLS, which has to pass through Python), else
    None."""
    # Not imported here: a command that reads a layout and opens no socket never loads it.
    module = sys.modules.get("socket")
    if module is not None and type(sock) is module.socket:
        return cast("socket.socket", sock)
    return None


class Pipe:
    """A pipe that moves bytes from one socket to another; :meth:`close` it when done."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        self.capacity = 1 << 16
        with contextlib.suppress(OSError):
            import fcntl

            self.capacity = fcntl.fcntl(self._write, _F_SETPIPE_SZ, _PIPE_SIZE)

    def move(self, src: socket.socket, dst: socket.socket, count: int) -> int:
        """Move up to ``count`` bytes from ``src`` to ``dst``: fewer only when ``src`` ended.

        Waits for each socket at most its own timeout (``TimeoutError``). A failure reading
        ``src`` is a :class:`SourceLost`, raised only once every byte taken from it reached
        ``dst``; a failure writing ``dst`` is the OSError itself.
        """
        moved = 0
        while moved < count:
            try:
                got = self._fill(src, min(count - moved, self.capacity))
            except OSError as exc:
                raise SourceLost.of(exc) from exc
            if got == 0:
                break
            self._drain(dst, got)
            moved += got
        return moved

    def _fill(self, src: socket.socket, count: int) -> int:
        while True:
            try:
                return os.splice(src.fileno(), self._write, count)
            except BlockingIOError:
                _wait(src, "reading")

    def _drain(self, dst: socket.socket, count: int) -> None:
        left = count
        while left:
            try:
                left -= os.splice(self._read, dst.fileno(), left)
            except BlockingIOError:
                _wait(dst, "writing")

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


class FileReader:
    """A file read as usual, that can also send itself into a plain socket (``transfer_to``)
    with ``os.sendfile``, its bytes never entering Python: only when it holds exactly ``size``
    bytes, so a file that grew or shrank is read, and its reader's size check fails before the
    request that carries it is complete."""

    def __init__(self, file: BinaryIO, size: int | None) -> None:
        self._file = file
        self._size = size
        self._whole: bool | None = None

    def read(self, n: int = -1, /) -> bytes:
        return self._file.read(n)

    def transfer_to(self, sink: object, limit: int) -> int | None:
        """Send up to ``limit`` bytes from the current position into the socket ``sink``: how
        many, 0 at the end of the file; None when ``sink`` is no plain socket (read instead)."""
        dst = plain_socket(sink)
        if dst is None or not hasattr(os, "sendfile"):
            return None
        if self._whole is None:
            self._whole = os.fstat(self._file.fileno()).st_size == self._size
        if not self._whole:
            return None
        offset = self._file.tell()
        while True:
            try:
                sent = os.sendfile(dst.fileno(), self._file.fileno(), offset, limit)
                break
            except BlockingIOError:
                _wait(dst, "writing")
        self._file.seek(offset + sent)
        return sent

    def close(self) -> None:
        self._file.close()


def _wait(sock: socket.socket, doing: str) -> None:
    """Wait until ``sock`` is ready for ``doing`` (``reading`` or ``writing``), at most its
    timeout."""
    import select

    timeout = sock.gettimeout()
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLOUT if doing == "writing" else select.POLLIN)
    ready = poller.poll(None if timeout is None else timeout * 1000)
    if not ready:
        raise TimeoutError(f"timed out {doing}")
