"""The one verifying path of every store's ``blob_put``: content checked against digest and size.

:class:`VerifiedContent` reads what a store is given once, counting and hashing it, and its
:meth:`~VerifiedContent.finish` says which digest the bytes have, raising DigestMismatch when they
are not the digest or size asked for. Stores write what it reads and move the result where
readers find it only after ``finish`` succeeded.

It recognises content that verifies itself, so a store does not hash the same bytes twice. A
blob copy reads the source through a :class:`~hoist.model.digest.VerifyingReader`: it raises on
the first byte past the expected size and, at the end of the stream, when the digest differs. A
destination handed such a reader, for the digest and size it was asked to store, gets the same
guarantee by reading it to the end, so it can skip its own hash. ``hoist.copy`` wraps the reader
to report progress; the wrapper exposes the reader it wraps as ``verifying``
(:class:`WrapsVerifier`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hoist.errors import DigestMismatch
from hoist.model.digest import CHUNK, Digest, VerifyingReader

if TYPE_CHECKING:
    from hoist.model.digest import Readable

__all__ = ["VerifiedContent", "WrapsVerifier", "self_verifying", "verify_bytes"]


@runtime_checkable
class WrapsVerifier(Protocol):
    """A reader over a :class:`VerifyingReader` (a copy's progress wrapper) that exposes it."""

    @property
    def verifying(self) -> object:
        """The VerifyingReader this reader reads from."""
        ...


def self_verifying(
    content: object, digest: Digest | None, size: int | None
) -> VerifyingReader | None:
    """The VerifyingReader behind ``content`` when reading ``content`` to its end checks exactly
    ``digest`` and ``size`` (and nothing was read from it yet); else None."""
    reader = content.verifying if isinstance(content, WrapsVerifier) else content
    if (
        isinstance(reader, VerifyingReader)
        and digest is not None
        and reader.expected == digest
        and reader.size is not None
        and (size is None or size == reader.size)
        and reader.read_bytes == 0
        and not reader.verified
    ):
        return reader
    return None


class VerifiedContent:
    """Content being stored, read once: counted, hashed, and checked by :meth:`finish` against
    ``digest`` and ``size`` (either may be None: not known yet).

    A source that verifies itself for ``digest`` and ``size`` (see :func:`self_verifying`) is
    only counted: it raises on a mismatch itself, and hashing its bytes a second time would cost
    a full pass of the CPU over the blob. Reading past ``size`` raises at once.

    ``receiver_verifies`` (with a ``digest``) says the bytes go to a receiver that checks the
    digest itself: a registry completing an upload with ``?digest=`` must refuse other content
    (distribution-spec), so neither this nor a self-verifying source hashes (its digest check is
    handed over, :meth:`~hoist.model.digest.VerifyingReader.hand_over`); sizes are still
    checked here. :attr:`handed_over` is then True and the caller checks the receiver's answer.
    """

    def __init__(
        self,
        content: bytes | Readable,
        digest: Digest | None,
        size: int | None,
        *,
        receiver_verifies: bool = False,
    ) -> None:
        if isinstance(content, bytes | bytearray | memoryview):
            content = io.BytesIO(bytes(content))
        self._source = content
        self._expected = digest
        self._size = size
        self.algorithm = digest.algorithm if digest is not None else "sha256"
        """The digest algorithm: ``digest``'s, else sha256."""
        self._verifier = self_verifying(content, digest, size)
        self.handed_over = receiver_verifies and digest is not None
        """No digest was computed: the receiver of the bytes checks it (``receiver_verifies``)."""
        if self.handed_over and self._verifier is not None:
            self._verifier.hand_over()
        own = self._verifier is None and not self.handed_over
        self._hash = hashlib.new(self.algorithm) if own else None
        self._result: Digest | None = None
        self.count = 0
        """Bytes read so far."""

    def read(self, n: int = -1, /) -> bytes:
        """Up to ``n`` bytes (all the rest when ``n`` < 0); ``b""`` at the end."""
        if n is None or n < 0:
            return b"".join(self.chunks())
        data = self._source.read(n)
        self.count += len(data)
        if self._size is not None and self.count > self._size:
            raise DigestMismatch(
                f"blob is larger than the expected {self._size} bytes",
                expected=str(self._size),
                actual=f">{self._size}",
            )
        if self._hash is not None:
            self._hash.update(data)
        return data

    def transfer_to(self, sink: object, limit: int) -> int | None:
        """Have the source move up to ``limit`` bytes straight into ``sink`` (a socket) when
        nothing is hashed here and the source can (see
        :meth:`~hoist.model.digest.VerifyingReader.transfer_to`): how many, 0 at the end; else
        None, and the content is to be read. Counted and size-checked as :meth:`read` is."""
        move = getattr(self._source, "transfer_to", None)
        if self._hash is not None or move is None:
            return None
        if self._size is not None:
            limit = min(limit, self._size - self.count)
            if limit <= 0:
                return 0
        moved: int | None = move(sink, limit)
        if moved:
            self.count += moved
        return moved

    def read_exact(self, n: int) -> bytes:
        """``n`` bytes, fewer only at the end."""
        parts, got = [], 0
        while got < n:
            data = self.read(min(CHUNK, n - got))
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def chunks(self) -> Iterator[bytes]:
        """The rest of the content in chunks."""
        while data := self.read(CHUNK):
            yield data

    def finish(self) -> Digest:
        """Read whatever is left, then the digest of the content: DigestMismatch when it is not
        the digest or size expected. Calling it again returns the same digest."""
        if self._result is not None:
            return self._result
        for _ in self.chunks():  # the end is where a self-verifying source checks its digest
            pass
        if self.handed_over:
            assert self._expected is not None
            actual = self._expected  # as far as sizes go; the receiver checks the digest
        elif self._verifier is not None:
            assert self._expected is not None
            if not self._verifier.verified:
                raise DigestMismatch(
                    f"blob {self._expected} was not verified", expected=str(self._expected)
                )
            actual = self._expected
        else:
            assert self._hash is not None
            actual = Digest(self.algorithm, self._hash.hexdigest())
        if self._size is not None and self.count != self._size:
            raise DigestMismatch(
                f"blob {self._expected or actual}: got {self.count} bytes, expected {self._size}",
                expected=str(self._size),
                actual=str(self.count),
            )
        if self._expected is not None and actual != self._expected:
            raise DigestMismatch(
                f"digest mismatch: expected {self._expected}, got {actual}",
                expected=str(self._expected),
                actual=str(actual),
            )
        self._result = actual
        return actual


def verify_bytes(data: bytes, digest: Digest | None, size: int | None) -> Digest:
    """The digest of ``data``; DigestMismatch when that is not ``digest`` or its length not
    ``size``."""
    return VerifiedContent(data, digest, size).finish()
