"""Decompress a layer blob while it streams, hashing the uncompressed bytes (its diff_id).

A layer has two digests: the manifest's (sha256 of the compressed blob, checked by the
store's verifying reader when the blob is read to its end) and the config's diff_id (sha256
of the uncompressed tar, computed here). :class:`LayerStream` gives both in one pass, never
touching the disk, and stops a decompression bomb at ``max_bytes``.

gzip uses ``isal`` (igzip), falling back to the standard library's zlib when isal is
missing; zstd uses ``zstandard``; both are imported only when a layer is opened. Large blobs
are read and decompressed in two background threads, so hashing the compressed bytes,
decompressing, hashing the result and parsing the tar overlap.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
import zlib
from typing import TYPE_CHECKING, Any, cast

from hoist.errors import HoistError, InvalidLayer, LayerTooLarge
from hoist.model import mediatype as mt
from hoist.model.digest import CHUNK, Digest

if TYPE_CHECKING:
    from hoist.model.digest import Readable

__all__ = [
    "DEFAULT_MAX_BYTES",
    "LayerStream",
    "decompressor",
    "sniff_compression",
]

DEFAULT_MAX_BYTES = 64 * 1024**3
"""Default limit on the uncompressed size of one layer (64 GiB): beyond it, LayerTooLarge."""

THREADED_MIN_SIZE = 4 * 1024 * 1024
"""Blobs at least this large are read and decompressed in background threads."""

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def sniff_compression(head: bytes) -> str:
    """``gzip``, ``zstd`` or ``none`` from the first bytes of a blob."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return "none"


class _Source:
    """The compressed blob as the decompressors want it (``read`` and ``readinto``), with
    any bytes already taken to sniff the compression put back in front."""

    def __init__(self, source: Readable, head: bytes = b"") -> None:
        self._head = head
        self._source = source

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                head, self._head = self._head, b""
                return head
            head, self._head = self._head[:size], self._head[size:]
            return head
        return self._source.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        return n

    def readable(self) -> bool:
        return True


def decompressor(source: Readable, compression: str) -> Readable:
    """A reader of the uncompressed bytes of ``source`` (``gzip``, ``zstd`` or ``none``)."""
    if compression == "none":
        return source
    if compression == "zstd":
        import zstandard

        zstd: Any = zstandard
        reader: Readable = zstd.ZstdDecompressor().stream_reader(
            source, read_size=CHUNK, read_across_frames=True, closefd=False
        )
        return reader
    if compression == "gzip":
        try:
            from isal import igzip

            single: Any = igzip
            reader = single.IGzipFile(fileobj=source, mode="rb")
            return reader
        except ImportError:
            import gzip

            fallback: Any = gzip
            reader = fallback.GzipFile(fileobj=source, mode="rb")
            return reader
    raise InvalidLayer(f"unknown layer compression {compression!r}")


def _corrupt_errors() -> tuple[type[BaseException], ...]:
    errors: list[Any] = [EOFError, OSError, zlib.error, ValueError]
    try:
        from isal import isal_zlib

        errors.append(cast(Any, isal_zlib).error)
    except ImportError:
        pass
    try:
        import zstandard

        errors.append(cast(Any, zstandard).ZstdError)
    except ImportError:
        pass
    return tuple(errors)


class _ReadAhead:
    """Reads ``source`` in a background thread, a few chunks ahead of the consumer.

    The stages of a layer (hash the compressed bytes, decompress, hash the result, parse
    the tar) mostly run in C code that releases the GIL, so they overlap across threads.
    Errors in the thread are raised in the consumer.
    """

    _END = object()

    def __init__(self, source: Readable, *, depth: int = 4) -> None:
        self._source = source
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._chunk = memoryview(b"")
        self._pos = 0
        self._eof = False
        self._thread = threading.Thread(target=self._run, name="hoist-layer-read", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._source.read(CHUNK)
                if not data:
                    break
                self._put(data)
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            size = CHUNK
        while self._pos >= len(self._chunk):
            if self._eof:
                return b""
            item = self._queue.get()
            if item is self._END:
                self._eof = True
                return b""
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            self._chunk = memoryview(item)
            self._pos = 0
        end = self._pos + size
        if self._pos == 0 and end >= len(self._chunk):
            data = self._chunk.obj
            self._pos = len(self._chunk)
            return data  # type: ignore[return-value]
        data = bytes(self._chunk[self._pos : end])
        self._pos += len(data)
        return data

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        self._thread.join()


class _Counting:
    """Hashes and counts the uncompressed bytes, enforces the limit, names corrupt data."""

    def __init__(self, source: Readable, compressed: Readable, stream: LayerStream) -> None:
        self._source = source
        self._compressed = compressed
        self._stream = stream
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        stream = self._stream
        try:
            data = self._source.read(size)
        except HoistError:
            raise
        except _corrupt_errors() as exc:
            # Bad data is most often a blob that is not what its descriptor says: read the
            # rest so the verifying reader can say so (DigestMismatch) before blaming the
            # compression.
            with contextlib.suppress(*_corrupt_errors()):
                while self._compressed.read(CHUNK):
                    pass
            raise InvalidLayer(f"{stream.name}: corrupt {stream.compression} data: {exc}") from None
        if data:
            self.size += len(data)
            if stream.max_bytes is not None and self.size > stream.max_bytes:
                raise LayerTooLarge(
                    f"{stream.name}: uncompressed size exceeds the limit of {stream.max_bytes} "
                    "bytes (a decompression bomb?); raise the limit if the layer is genuine",
                    stream.max_bytes,
                )
            self.hash.update(data)
        return data

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()


class LayerStream:
    """The uncompressed bytes of one layer blob, hashed (diff_id) and counted as they pass.

    ``blob`` is what ``Store.blob_get`` returns; reading it to the end verifies the
    compressed digest. Call :meth:`finish` after the consumer (a tar reader) is done: it
    drains what is left, so the compressed digest is checked and :attr:`diff_id` covers
    every byte. Blobs of ``THREADED_MIN_SIZE`` or more are read, decompressed and hashed in
    two background threads. Use as a context manager to close the blob and the threads.
    """

    def __init__(
        self,
        blob: Readable,
        media_type: str | None = None,
        *,
        compression: str | None = None,
        name: str = "layer",
        size_hint: int = 0,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
    ) -> None:
        self.name = name
        self.max_bytes = max_bytes
        self._blob = blob
        if compression is None and media_type:
            compression = mt.compression_of(media_type)
            if compression == "none" and not mt.is_layer(media_type):
                compression = None  # not a layer type we know: look at the bytes
        head = b""
        if compression is None:
            head = blob.read(4)
            compression = sniff_compression(head)
        self.compression = compression
        self._source = _Source(blob, head)
        self._threads: list[_ReadAhead] = []
        self._counting: _Counting | None = None
        self._compressed: Readable = self._source
        self._reader: Readable | None = None
        self._size_hint = size_hint
        self._diff_id: Digest | None = None

    @property
    def size(self) -> int:
        """Uncompressed bytes read so far."""
        return self._counting.size if self._counting is not None else 0

    def _open(self) -> Readable:
        if self._reader is None:
            threaded = self._size_hint >= THREADED_MIN_SIZE
            source: Readable = self._source
            if threaded:
                self._threads.append(_ReadAhead(source))
                source = _Source(self._threads[-1])
            self._compressed = source
            self._counting = _Counting(decompressor(source, self.compression), source, self)
            self._reader = self._counting
            if threaded:
                self._threads.append(_ReadAhead(self._counting))
                self._reader = self._threads[-1]
        return self._reader

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        return self._open().read(size)

    def finish(self) -> Digest:
        """Drain the rest (verifying the compressed digest) and return the diff_id."""
        if self._diff_id is not None:
            return self._diff_id
        while self.read(CHUNK):
            pass
        # The decompressor may stop at the end of its stream without reading the blob's last
        # bytes (or its EOF): read on until the verifying reader sees the end.
        while self._compressed.read(CHUNK):
            if self.compression != "none":
                raise InvalidLayer(f"{self.name}: data after the end of the compressed stream")
        assert self._counting is not None
        self._diff_id = Digest("sha256", self._counting.hash.hexdigest())
        return self._diff_id

    @property
    def diff_id(self) -> Digest:
        """The uncompressed digest; only after :meth:`finish`."""
        if self._diff_id is None:
            raise RuntimeError("diff_id is known only after finish()")
        return self._diff_id

    def close(self) -> None:
        try:
            for thread in reversed(self._threads):
                thread.close()
            if self._counting is not None:
                self._counting.close()
        finally:
            self._threads.clear()
            close_blob = getattr(self._blob, "close", None)
            if close_blob is not None:
                close_blob()

    def __enter__(self) -> LayerStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
