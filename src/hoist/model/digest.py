"""Content digests: parse, compute, and verify while reading."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from hoist.errors import DigestMismatch, InvalidDigest

__all__ = [
    "ALGORITHMS",
    "Digest",
    "Readable",
    "VerifyingReader",
    "digest_of",
    "digest_stream",
]

ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}
"""Supported algorithms and the length of their lowercase hex encoding."""

CHUNK = 1 << 20
_HEX = re.compile(r"[a-f0-9]+")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, order=True, slots=True)
class Digest:
    """A content digest ``algorithm:hex``; ``str(d)`` is canonical."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        length = ALGORITHMS.get(self.algorithm)
        if length is None:
            raise InvalidDigest(f"unsupported digest algorithm {self.algorithm!r}")
        if len(self.hex) != length or not _HEX.fullmatch(self.hex):
            raise InvalidDigest(
                f"invalid {self.algorithm} digest: want {length} lowercase hex characters, "
                f"got {self.hex!r}"
            )

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``sha256:<64 hex>`` or ``sha512:<128 hex>``."""
        algorithm, sep, hexpart = text.partition(":")
        if not sep:
            raise InvalidDigest(f"invalid digest {text!r}: want algorithm:hex")
        return cls(algorithm, hexpart)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        """The first 12 hex characters, for people."""
        return self.hex[:12]

    def hasher(self) -> Any:
        """A fresh hashlib object of this digest's algorithm."""
        return hashlib.new(self.algorithm)


def digest_of(data: bytes, algorithm: str = "sha256") -> Digest:
    """The digest of ``data``."""
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())


def digest_stream(chunks: Iterable[bytes], algorithm: str = "sha256") -> tuple[Digest, int]:
    """Digest and total size of a stream of chunks."""
    h = hashlib.new(algorithm)
    size = 0
    for chunk in chunks:
        h.update(chunk)
        size += len(chunk)
    return Digest(algorithm, h.hexdigest()), size


class VerifyingReader:
    """Wraps a readable and checks size and digest as the bytes pass.

    Reading past ``size`` raises at once; a digest or size mismatch raises at end of stream,
    so a caller that consumes the whole stream never trusts a body it did not hash.
    :meth:`hand_over` stops the hashing (never the size checks) for bytes whose receiver
    checks the digest itself.
    """

    def __init__(self, source: Readable, expected: Digest, size: int | None = None) -> None:
        self._source = source
        self.expected = expected
        self.size = size
        self._hash: Any = expected.hasher()
        self.read_bytes = 0
        self.verified = False
        self.handed_over = False
        """Whether :meth:`hand_over` moved the digest check to the receiver of the bytes."""

    def hand_over(self) -> None:
        """Leave the digest check to whoever receives these bytes (a registry that verifies an
        upload against its ``?digest=``, obliged by the distribution spec): no hashing from
        here on, sizes still checked, and :attr:`verified` stays False. Only before the first
        byte."""
        if self.read_bytes:
            raise ValueError("hand_over after reading began")
        self._hash = None
        self.handed_over = True

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        data = self._source.read(size)
        if data:
            self.read_bytes += len(data)
            if self.size is not None and self.read_bytes > self.size:
                raise DigestMismatch(
                    f"{self.expected}: more than the expected {self.size} bytes",
                    expected=str(self.size),
                    actual=f">{self.size}",
                )
            if self._hash is not None:
                self._hash.update(data)
        elif size > 0 and not self.verified:
            self._finish()
        return data

    def transfer_to(self, sink: object, limit: int) -> int | None:
        """Have the source move up to ``limit`` bytes straight into ``sink`` (a socket), when it
        can and nothing is to be hashed (:meth:`hand_over`): how many, 0 at the end; else None,
        and the bytes are to be read. Sizes are checked as for :meth:`read`; no more than
        ``size`` bytes are ever moved."""
        move = getattr(self._source, "transfer_to", None)
        if self._hash is not None or move is None:
            return None
        if self.size is not None:
            limit = min(limit, self.size - self.read_bytes)
            if limit <= 0:
                self._finish()
                return 0
        moved: int | None = move(sink, limit)
        if moved is None:
            return None
        self.read_bytes += moved
        if moved == 0:
            self._finish()
        return moved

    def _finish(self) -> None:
        if self.size is not None and self.read_bytes != self.size:
            raise DigestMismatch(
                f"{self.expected}: got {self.read_bytes} bytes, expected {self.size}",
                expected=str(self.size),
                actual=str(self.read_bytes),
            )
        if self._hash is None:
            return  # handed over: the receiver checks the digest
        actual = Digest(self.expected.algorithm, self._hash.hexdigest())
        if actual != self.expected:
            raise DigestMismatch(
                f"digest mismatch: expected {self.expected}, got {actual}",
                expected=str(self.expected),
                actual=str(actual),
            )
        self.verified = True

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
