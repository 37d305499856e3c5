"""Small formatting helpers shared by the insight reports."""

from __future__ import annotations

from hoist.model.digest import Digest

__all__ = ["human_size", "short_digest"]


def human_size(n: int) -> str:
    """Bytes for people: 1.5 MB (powers of 1000, like registries show)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def short_digest(digest: Digest | None, full: bool = False) -> str:
    """``sha256:0123456789ab`` (12 hex characters) unless ``full``."""
    if digest is None:
        return "-"
    return str(digest) if full else f"{digest.algorithm}:{digest.short}"
