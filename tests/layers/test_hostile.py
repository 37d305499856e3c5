"""Hostile layer tars: each case is named after its attack and must end in one clean error,
with nothing written past the limits."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
from support.cli import run
from support.layers import write_layers

from hoist.errors import UnsafeLayer
from hoist.layers.entries import walk_layer
from hoist.layers.stream import LayerStream
from hoist.layers.tarball import LayerBuilder
from hoist.model import mediatype as mt
from hoist.model.descriptor import Descriptor
from hoist.model.digest import digest_of
from hoist.testing.sample import Layer

SPARSE_SIZE = 300 << 20


def sparse_tar(real_size: int = SPARSE_SIZE) -> bytes:
    """A PAX 1.0 sparse member: ten bytes of data that claim ``real_size`` bytes of holes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = b"1\n0\n10\n".ljust(512, b"\0") + b"x" * 10
        info = tarfile.TarInfo("GNUSparseFile.0/big")
        info.size = len(data)
        info.pax_headers = {
            "GNU.sparse.major": "1",
            "GNU.sparse.minor": "0",
            "GNU.sparse.name": "big",
            "GNU.sparse.realsize": str(real_size),
        }
        tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def test_sparse_bomb_is_refused_when_read() -> None:
    blob = sparse_tar()
    assert len(blob) < 16 << 10
    members = list(walk_layer(LayerStream(io.BytesIO(blob), compression="none")))
    assert [m.entry.path for m in members] == ["big"]
    with pytest.raises(UnsafeLayer, match="sparse tar entries are refused"):
        members[0].open()


def test_sparse_bomb_in_a_local_tar_added_to_a_layer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeLayer, match="sparse"):
        LayerBuilder().add_tar(io.BytesIO(sparse_tar()))


def sparse_layout(root: Path) -> str:
    """An OCI layout whose one gzip layer is the sparse tar."""
    tar = sparse_tar()
    blob = gzip.compress(tar)
    layer = Layer(blob, Descriptor.of(mt.OCI_LAYER_GZIP, blob), digest_of(tar))
    return write_layers(root, "bomb", [layer])


@pytest.mark.parametrize("command", ["unpack", "get-file"])
def test_sparse_bomb_bypasses_no_max_size(
    command: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    ref = sparse_layout(tmp_path / "layout")
    out = tmp_path / "out"
    if command == "unpack":
        args = ["image", "unpack", ref, str(out), "--max-size", "1M"]
    else:
        args = ["image", "get-file", ref, "/big", "-o", str(out), "--max-size", "1M"]
    code, _, err = run(capsysbinary, *args)
    assert code == 1
    assert err.count("\n") == 1 and "sparse tar entries are refused" in err
    written = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) if out.is_dir() else 0
    if out.is_file():
        written = out.stat().st_size
    assert written < 1 << 20
