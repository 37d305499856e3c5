"""Hostile layer tars: each case is named after its attack and must end in one clean error,
with nothing written past the limits."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.layers import d, f, make_tar, sym, tar_layer, write_layers

from hoist.errors import InvalidLayer, UnsafeLayer
from hoist.layers.entries import walk_layer
from hoist.layers.stream import LayerStream
from hoist.layers.tarball import LayerBuilder
from hoist.layers.unpack import Unpacker
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


def test_sparse_bomb_in_a_layer_mod_rewrites_is_refused(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    ref = sparse_layout(tmp_path / "layout")
    dst = f"ocidir://{tmp_path / 'out'}:v1"
    args = ["image", "mod", ref, "--create", dst, "--layer-strip-file", "/other"]
    code, _, err = run(capsysbinary, *args)
    assert code == 1
    assert err.count("\n") == 1 and "sparse tar entries are refused" in err
    assert not (tmp_path / "out" / "index.json").exists()


def test_sparse_bomb_in_an_archive_a_build_adds_is_refused(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "bomb.tar").write_bytes(sparse_tar())
    (context / "Dockerfile").write_text("FROM scratch\nADD bomb.tar /data/\n")
    dst = f"ocidir://{tmp_path / 'out'}:v1"
    code, _, err = run(capsysbinary, "image", "build", str(context), "-t", dst)
    assert code == 1
    assert "sparse tar entries are refused" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "index.json").exists()


def _tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def _file(name: str, data: bytes = b"x", /, **attrs: Any) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def _unpack(blob: bytes, root: Path) -> Unpacker:
    unpacker = Unpacker(root)
    stream = LayerStream(io.BytesIO(blob), compression="none")
    unpacker.apply(stream)
    stream.finish()
    unpacker.finish()
    return unpacker


def test_truncated_member_is_an_invalid_layer(tmp_path: Path) -> None:
    whole = _tar(_file("big", b"a" * 100_000))
    with pytest.raises(InvalidLayer, match="ends inside this file"):
        _unpack(whole[:20_000], tmp_path / "root")


def test_out_of_range_mtime_is_noted_not_a_crash(tmp_path: Path) -> None:
    directory = tarfile.TarInfo("d")
    directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, 10**20
    blob = _tar((directory, None), _file("d/f", mtime=10**20))
    result = _unpack(blob, tmp_path / "root").result
    assert (tmp_path / "root" / "d" / "f").read_bytes() == b"x"
    assert any("mtime" in s and "d/f" in s for s in result.skipped)
    assert any("mtime" in s and s.startswith("/d ") for s in result.skipped)


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership is applied only as root")
@pytest.mark.parametrize("field", ["uid", "gid"])
def test_huge_owner_is_an_invalid_layer_as_root(field: str, tmp_path: Path) -> None:
    blob = _tar(_file("f", **{field: 2**40}))
    with pytest.raises(InvalidLayer, match=f"{field} {2**40} is out of range"):
        _unpack(blob, tmp_path / "root")


# --------------------------------------------------------------------------- escaping symlinks

ESCAPING = [
    ("up", "../../outside"),
    ("deep/dir/up", "../../../../etc/passwd"),
    ("abs-up", "/../etc/passwd"),
    ("deep/inner-up", "x/../../.."),
]
INSIDE = [("in", "deep/dir"), ("deep/dir/back", "../../in"), ("abs", "/etc/passwd")]


def _links(*pairs: tuple[str, str]) -> bytes:
    return make_tar([d("deep"), d("deep/dir"), *(sym(name, target) for name, target in pairs)])


def test_escaping_symlink_is_made_not_followed_by_default(tmp_path: Path) -> None:
    """What the README says: a symlink climbing out is created; a path through it is refused."""
    root = tmp_path / "root"
    _unpack(_links(*ESCAPING, *INSIDE), root)
    for name, target in ESCAPING + INSIDE:
        assert os.readlink(root / name) == target
    with pytest.raises(UnsafeLayer, match="points above the image root"):
        _unpack(make_tar([f("up/planted", b"evil")]), root)
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize(("name", "target"), ESCAPING, ids=[n for n, _ in ESCAPING])
def test_escaping_symlink_is_refused_on_request(name: str, target: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    unpacker = Unpacker(root, refuse_escaping_symlinks=True)
    stream = LayerStream(io.BytesIO(_links(*INSIDE, (name, target))), compression="none")
    with pytest.raises(UnsafeLayer, match="climbs above the image root") as info:
        unpacker.apply(stream)
    assert "\n" not in str(info.value) and info.value.path == name
    assert not os.path.lexists(root / name)
    for inside, goal in INSIDE:
        assert os.readlink(root / inside) == goal  # links that stay inside are still made


def test_cli_no_escaping_symlinks(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    ref = write_layers(
        tmp_path / "layout", "links", [tar_layer([d("deep"), sym("deep/up", "../..")])]
    )
    code, _, err = run(capsysbinary, "image", "unpack", ref, str(tmp_path / "made"))
    assert code == 0, err
    assert os.readlink(tmp_path / "made" / "deep" / "up") == "../.."
    out = tmp_path / "refused"
    code, _, err = run(capsysbinary, "image", "unpack", ref, str(out), "--no-escaping-symlinks")
    assert code == 1 and err.count("\n") == 1, err
    assert err == (
        "error: /deep/up: symlink to '../..' climbs above the image root "
        "(escaping symlinks are refused)\n"
    )
    assert not os.path.lexists(out / "deep" / "up")


@pytest.mark.parametrize("key", ["GNU.sparse.size", "GNU.sparse.realsize"])
def test_pax_number_of_5000_digits_is_an_invalid_layer(key: str, tmp_path: Path) -> None:
    """tarfile converts these PAX numbers unchecked: a bare ValueError, now one InvalidLayer."""
    info, data = _file("f")
    info.pax_headers = {key: "9" * 5000}
    with pytest.raises(InvalidLayer, match="bad tar data"):
        _unpack(_tar((info, data)), tmp_path / "root")


def test_pax_header_over_the_cap_is_refused_before_it_is_parsed() -> None:
    """CPython's PAX parser is quadratic in the record size before 3.11.10 (CVE-2024-6232):
    a header over MAX_HEADER_SIZE is refused unread."""
    from hoist.layers.entries import MAX_HEADER_SIZE

    info, data = _file("f")
    info.pax_headers = {"comment": "x" * (MAX_HEADER_SIZE + 1)}
    blob = _tar((info, data))
    with pytest.raises(UnsafeLayer, match="extended header"):
        list(walk_layer(LayerStream(io.BytesIO(blob), compression="none")))
