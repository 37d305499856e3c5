"""Recognising content that verifies itself, so a store does not hash the same bytes twice.

A blob copy reads the source through a :class:`~hoist.model.digest.VerifyingReader`: it raises
on the first byte past the expected size and, at the end of the stream, when the digest differs.
A destination handed such a reader, for the digest and size it was asked to store, gets the
same guarantee by reading it to the end, so it can skip its own hash. ``hoist.copy`` wraps the
reader to report progress; the wrapper exposes the reader it wraps as ``verifying``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hoist.model.digest import VerifyingReader

if TYPE_CHECKING:
    from hoist.model.digest import Digest

__all__ = ["self_verifying"]


def self_verifying(
    content: object, digest: Digest | None, size: int | None
) -> VerifyingReader | None:
    """The VerifyingReader behind ``content`` when reading ``content`` to its end checks exactly
    ``digest`` and ``size`` (and nothing was read from it yet); else None."""
    reader = (
        content if isinstance(content, VerifyingReader) else getattr(content, "verifying", None)
    )
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
