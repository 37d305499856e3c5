"""``hoist serve verify``: hash every stored blob and find those that do not match their name.

A blob under ``blobs/<alg>/<hex>`` whose bytes hash to something else (content written by a
hoist before the upload race was fixed, a disk fault, an edit behind hoist's back) is never
served by a running server, which hashes such a file before serving it, and is replaced by the
next verified push of that blob. This finds them all at once, without changing anything.
This module does not import aiohttp.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from hoist.errors import NotFound
from hoist.model.digest import Digest
from hoist.server.storage import Storage, hash_file

__all__ = ["Corrupt", "VerifyResult", "verify"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Corrupt:
    """A stored file that does not match its digest."""

    digest: Digest
    actual: str
    """What the file hashes to (``alg:hex``), or why it could not be read."""
    size: int


@dataclass
class VerifyResult:
    """What :func:`verify` checked and found."""

    checked: int = 0
    bytes: int = 0
    corrupt: list[Corrupt] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per corrupt file, for people."""
        return [f"corrupt blob {c.digest}: {c.size} bytes hash to {c.actual}" for c in self.corrupt]

    def summary(self) -> str:
        return f"{self.checked} blob(s), {self.bytes} bytes checked; {len(self.corrupt)} corrupt"


def verify(root: str | os.PathLike[str]) -> VerifyResult:
    """Hash every blob stored under ``root``; NotFound if it is not a registry root."""
    if not (Path(root) / "repositories").is_dir():
        raise NotFound(f"{root}: not a hoist registry root (no repositories/ directory)")
    storage = Storage(root)
    result = VerifyResult()
    for digest in sorted(storage.all_blobs()):
        path = storage.blob_path(digest)
        try:
            size = path.stat().st_size
            actual = f"{digest.algorithm}:{hash_file(path, digest.algorithm)}"
        except FileNotFoundError:
            continue  # removed while we looked (gc)
        except OSError as exc:
            result.corrupt.append(Corrupt(digest, f"unreadable ({exc.strerror or exc})", 0))
            continue
        result.checked += 1
        result.bytes += size
        if actual != str(digest):
            result.corrupt.append(Corrupt(digest, actual, size))
    log.info("verify %s: %s", root, result.summary())
    return result
