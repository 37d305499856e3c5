"""Atomic file writes: a file appears under its name whole, or not at all (stdlib only).

::

    write_atomic(path, data)                  # temp file, fsync, rename, fsync the directory
    with atomic_file(path) as f:              # the same, streaming
        for chunk in chunks:
            f.write(chunk)

The temporary file lives next to the target (a rename never crosses filesystems) and is
named ``.hoist-tmp-<hex>``, so directory walkers can skip it; it is removed when the write
fails. ``fsync=False`` trades durability for speed: the rename stays atomic, but a crash
may leave an empty or old file.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TMP_PREFIX",
    "atomic_file",
    "fsync_dir",
    "sync_filesystem",
    "temp_path",
    "write_atomic",
]

TMP_PREFIX = ".hoist-tmp-"
"""How temporary files start; never a valid digest, tag or repository name."""

StrPath = str | os.PathLike[str]


def fsync_dir(path: StrPath) -> None:
    """Flush directory ``path`` itself, so entries renamed into it survive a crash."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(path: StrPath) -> None:
    """Flush every pending write of the filesystem ``path`` is on, at once: Linux's
    ``syncfs(2)`` (one writeback and one journal commit for many files, where fsyncing each
    costs a commit apiece); ``os.sync()`` where there is none."""
    try:
        import ctypes

        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


def temp_path(directory: StrPath) -> Path:
    """A fresh temporary name in ``directory``."""
    return Path(directory) / f"{TMP_PREFIX}{uuid.uuid4().hex}"


@contextlib.contextmanager
def atomic_file(
    path: StrPath, *, fsync: bool = True, mode: int | None = None
) -> Iterator[BinaryIO]:
    """A binary file renamed to ``path`` when the block succeeds, removed when it raises.

    ``mode`` sets the permissions (the file is private until then); by default they follow
    the umask like any new file. The directory must exist.
    """
    target = Path(path)
    tmp = temp_path(target.parent)
    perm = 0o666 if mode is None else 0o600
    try:
        with open(tmp, "xb", opener=lambda name, flags: os.open(name, flags, perm)) as f:
            yield f
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if fsync:
        fsync_dir(target.parent)


def write_atomic(
    path: StrPath, data: bytes, *, fsync: bool = True, mode: int | None = None
) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename (see atomic_file)."""
    with atomic_file(path, fsync=fsync, mode=mode) as f:
        f.write(data)
