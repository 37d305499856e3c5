"""Layer tars for tests: entries of every kind, layouts written from them, the rich image."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import zstandard

from hoist.client import Client
from hoist.image import Image
from hoist.model import mediatype as mt
from hoist.model.config import History
from hoist.model.descriptor import Descriptor
from hoist.model.digest import Digest, digest_of
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import Layer, SampleImage, build_image, write_image

MTIME = 1_700_000_000
AMD64 = Platform("linux", "amd64")

# --------------------------------------------------------------------------- building layers

Item = tuple[tarfile.TarInfo, bytes | None]


def _info(name: str, kind: bytes, mode: int, **extra: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = extra.pop("mtime", MTIME)
    info.uid = extra.pop("uid", 0)
    info.gid = extra.pop("gid", 0)
    for key, value in extra.items():
        setattr(info, key, value)
    return info


def f(name: str, data: bytes = b"", mode: int = 0o644, **extra: Any) -> Item:
    info = _info(name, tarfile.REGTYPE, mode, **extra)
    info.size = len(data)
    return info, data


def d(name: str, mode: int = 0o755, **extra: Any) -> Item:
    return _info(name, tarfile.DIRTYPE, mode, **extra), None


def sym(name: str, target: str) -> Item:
    return _info(name, tarfile.SYMTYPE, 0o777, linkname=target), None


def hard(name: str, target: str) -> Item:
    return _info(name, tarfile.LNKTYPE, 0o644, linkname=target), None


def wh(path: str) -> Item:
    parent, _, base = path.rpartition("/")
    return f(f"{parent}/.wh.{base}" if parent else f".wh.{base}")


def opq(directory: str) -> Item:
    return f(f"{directory}/.wh..wh..opq")


def chardev(name: str, major: int = 1, minor: int = 3) -> Item:
    return _info(name, tarfile.CHRTYPE, 0o666, devmajor=major, devminor=minor), None


def fifo(name: str) -> Item:
    return _info(name, tarfile.FIFOTYPE, 0o644), None


def make_tar(items: Iterable[Item]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in items:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


MEDIA = {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD, "none": mt.OCI_LAYER}


def compress(tar: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(tar, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(tar)
    return tar


def tar_layer(items: Iterable[Item], compression: str = "gzip") -> Layer:
    tar = make_tar(items)
    blob = compress(tar, compression)
    return Layer(blob, Descriptor.of(MEDIA[compression], blob), digest_of(tar))


def write_layers(
    root: Path,
    tag: str,
    layer_list: Sequence[Layer],
    *,
    config: dict[str, Any] | None = None,
    diff_ids: Sequence[Digest] | None = None,
    docker: bool = False,
) -> str:
    """Write an image of ``layer_list`` to the layout at ``root``; its reference text."""
    if diff_ids is not None:
        layer_list = [
            Layer(x.blob, x.descriptor, d) for x, d in zip(layer_list, diff_ids, strict=True)
        ]
    manifest, blobs = build_image(
        layer_list,
        [History(created_by=f"layer {i}") for i in range(len(layer_list))],
        platform=AMD64,
        config=config,
        docker=docker,
    )
    ref = LayoutReference("ocidir", str(root), tag)
    write_image(OCIDirStore(fsync=False), ref, SampleImage(blobs, [], manifest))
    return f"ocidir://{root}:{tag}"


def image(ref: str) -> Image:
    return Client().image(ref)


# --------------------------------------------------------------------------- the rich image

BASE = [
    d("etc"),
    f("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
    f("etc/old.conf", b"old\n", mode=0o600),
    f("etc/hardsrc", b"shared inode\n"),
    hard("etc/hardlink", "etc/hardsrc"),
    d("usr"),
    d("usr/lib"),
    d("usr/bin"),
    f("usr/lib/libfoo.so", b"\x7fELF foo", mode=0o755),
    f("usr/bin/tool", b"#!/bin/sh\necho tool\n", mode=0o755, uid=1000, gid=1000),
    sym("lib", "usr/lib"),
    sym("bin", "usr/bin"),
    d("data"),
    f("data/a.txt", b"a\n"),
    d("data/sub"),
    f("data/sub/b.txt", b"b\n"),
    d("opt"),
    d("opt/keep"),
    f("opt/keep/x", b"x\n"),
    d("opt/drop"),
    f("opt/drop/y", b"y\n"),
    d("home/u", mode=0o700, uid=1000, gid=1000),
    f("home/u/.profile", b"export PS1='$ '\n", uid=1000, gid=1000),
]
MIDDLE = [
    wh("etc/old.conf"),
    d("data"),
    opq("data"),
    f("data/c.txt", b"c\n"),
    wh("opt/drop"),
    f("lib/libbar.so", b"\x7fELF bar"),  # written through the relative symlink lib -> usr/lib
    f("etc/passwd", b"root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"),
    sym("etc/alt", "/usr/bin/tool"),
    hard("usr/bin/tool2", "usr/bin/tool"),
    f("etc/.wh..wh.plnk", b""),  # AUFS bookkeeping: ignored
]
TOP = [
    f("data2/new", b"new\n"),
    f("opt/keep", b"now a file\n"),  # a directory replaced by a file
    d("data2"),
    opq("data2"),  # listed after the entries it must not hide
    sym("link1", "link2"),
    sym("link2", "etc/passwd"),
    sym("abs-link", "/etc/passwd"),
    f("home/u/.profile", b"export PS1='% '\n", uid=1000, gid=1000),
    wh("data/sub"),  # data/sub is hidden already (opaque below); a whiteout is harmless
    fifo("run/fifo"),
]
LOWER_DATA2 = [d("data2"), f("data2/old", b"old\n")]

EXPECTED_FILES = {
    "etc/passwd": b"root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n",
    "etc/hardsrc": b"shared inode\n",
    "etc/hardlink": b"shared inode\n",
    "usr/lib/libfoo.so": b"\x7fELF foo",
    "usr/lib/libbar.so": b"\x7fELF bar",
    "usr/bin/tool": b"#!/bin/sh\necho tool\n",
    "usr/bin/tool2": b"#!/bin/sh\necho tool\n",
    "data/c.txt": b"c\n",
    "data2/new": b"new\n",
    "opt/keep": b"now a file\n",
    "home/u/.profile": b"export PS1='% '\n",
}
GONE = ["etc/old.conf", "data/a.txt", "data/sub", "opt/drop", "data2/old", "opt/keep/x"]


def rich_layers() -> list[Layer]:
    """The rich image's five layers: gzip, zstd, uncompressed, gzip, zstd."""
    return [
        tar_layer(BASE, "gzip"),
        tar_layer(LOWER_DATA2, "zstd"),
        tar_layer(MIDDLE, "none"),
        tar_layer(TOP, "gzip"),
        tar_layer([f("etc/motd", b"hi\n")], "zstd"),
    ]
