"""A small, careful reference implementation of unpacking (the OCI layer spec, plainly), a
snapshot of a directory to compare unpacks with, and skopeo as the peer that reads layers.

Trusted input only: tests compare hoist's unpack, rootfs export and flatten against it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zstandard

from support.skopeo import skopeo

__all__ = ["decompress", "reference_unpack", "skopeo_layers", "snapshot"]


def decompress(blob: bytes) -> bytes:
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    return blob


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        for child in path.iterdir():
            _remove(child)
        path.rmdir()


def reference_unpack(layer_blobs: Sequence[bytes], dest: Path) -> None:
    """The OCI layer spec, plainly: per layer, deletions against what is below, then every
    other entry, replacing what is there unless both are directories. Trusted input only."""
    dest.mkdir()
    for blob in layer_blobs:
        with tarfile.open(fileobj=io.BytesIO(decompress(blob))) as tar:
            members = tar.getmembers()
            for m in members:
                base = os.path.basename(m.name)
                parent = dest / os.path.dirname(m.name)
                if base == ".wh..wh..opq" and parent.is_dir():
                    for child in parent.iterdir():
                        _remove(child)
                elif base.startswith(".wh.") and not base.startswith(".wh..wh."):
                    target = parent / base[4:]
                    if target.exists() or target.is_symlink():
                        _remove(target)
            for m in members:
                if os.path.basename(m.name).startswith(".wh."):
                    continue
                target = dest / m.name
                if (target.exists() or target.is_symlink()) and not (
                    m.isdir() and target.is_dir() and not target.is_symlink()
                ):
                    _remove(target)
                tar.extract(m, dest, numeric_owner=True, filter="fully_trusted")


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every path under ``root``: type, permissions, owner, and content or link target."""
    out: dict[str, tuple[Any, ...]] = {}
    inodes: dict[int, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            kind = stat.S_IFMT(st.st_mode)
            detail: Any = None
            if stat.S_ISREG(st.st_mode):
                detail = hashlib.sha256(path.read_bytes()).hexdigest()
                if st.st_nlink > 1:
                    detail += " linked with " + inodes.setdefault(st.st_ino, rel)
            elif stat.S_ISLNK(st.st_mode):
                detail = os.readlink(path)
            mtime = int(st.st_mtime) if stat.S_ISREG(st.st_mode) else None
            perm = None if stat.S_ISLNK(st.st_mode) else stat.S_IMODE(st.st_mode)
            out[rel] = (kind, perm, st.st_uid, st.st_gid, detail, mtime)
    return out


def skopeo_layers(ref: str, tmp: Path) -> list[bytes]:
    """The layer blobs as skopeo copies them out of a layout (``ocidir://PATH:TAG``) or a
    registry (``docker://HOST/REPO:TAG``), with the ``dir:`` transport."""
    if ref.startswith("docker://"):
        source = ref
    else:
        path, _, tag = ref.removeprefix("ocidir://").rpartition(":")
        source = f"oci:{path}:{tag}"
    out = tmp / "skopeo-dir"
    skopeo("copy", source, f"dir:{out}")
    manifest = json.loads((out / "manifest.json").read_bytes())
    return [(out / layer["digest"].split(":")[1]).read_bytes() for layer in manifest["layers"]]
