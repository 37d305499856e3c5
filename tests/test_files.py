"""An image's files, on real images written to OCI layouts by hoist's own code.

The images have whiteouts, opaque directories, symlinks, hard links and every compression;
get-file and unpack are compared with skopeo's copy of the layers unpacked by a small,
careful reference implementation below. Hostile layers must fail with a clear error and
leave nothing outside the target.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from support.layers import (
    EXPECTED_FILES,
    GONE,
    MTIME,
    Item,
    chardev,
    d,
    f,
    hard,
    image,
    opq,
    rich_layers,
    sym,
    tar_layer,
    wh,
    write_layers,
)
from support.unpacking import reference_unpack, skopeo_layers, snapshot

from hoist import files as image_files
from hoist.errors import DigestMismatch, InvalidLayer, LayerTooLarge, NotFound, UnsafeLayer
from hoist.model.digest import digest_of


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A five-layer image: gzip, zstd, uncompressed, gzip, zstd."""
    root = tmp_path_factory.mktemp("rich") / "layout"
    return write_layers(
        root,
        "rich",
        rich_layers(),
    )


# --------------------------------------------------------------------------- entries and merge


def test_layer_listing_shows_whiteouts_as_deletions(rich: str) -> None:
    img = image(rich)
    middle = image_files.list_layer_files(img, 2)
    kinds = {(e.display_path, e.kind) for e in middle.entries}
    assert {("/etc/old.conf", "whiteout"), ("/data", "dir"), ("/data", "opaque")} <= kinds
    assert {("/opt/drop", "whiteout"), ("/usr/bin/tool2", "hardlink")} <= kinds
    assert not any(".wh." in path for path, _ in kinds)  # AUFS bookkeeping is not an entry
    assert middle.diff_id == img.config.diff_ids[2]
    whiteout = next(e for e in middle.entries if e.kind == "whiteout")
    assert whiteout.filemode() == "D---------" and whiteout.target_text() == "(deleted)"


def test_merged_tree_applies_the_layer_spec(rich: str) -> None:
    tree = image_files.merged_tree(image(rich))
    files = {e.path: e for e in tree.walk()}
    for path in GONE:
        assert path not in files, path
    for path in EXPECTED_FILES:
        assert files[path].kind in ("file", "hardlink"), path
    assert files["opt/keep"].kind == "file" and files["opt/keep"].layer == 3
    assert files["usr/lib/libbar.so"].layer == 2  # written through the lib symlink
    assert "lib/libbar.so" not in files and files["lib"].kind == "symlink"
    assert files["etc/alt"].linkname == "/usr/bin/tool"
    assert files["data2/new"].layer == 3  # an opaque marker never hides its own layer
    assert files["home/u"].mode == 0o700 and files["home/u"].uid == 1000
    assert files["run"].kind == "dir"  # implied by run/fifo
    assert tree.get("/link1") == files["etc/passwd"]
    assert tree.get("/abs-link") == files["etc/passwd"]
    assert tree.get("/bin/tool") == files["usr/bin/tool"]
    assert tree.get("/nope") is None


# --------------------------------------------------------------------------- get-file and unpack


def test_get_file_and_unpack_match_skopeo_and_a_reference_unpack(rich: str, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    umask = os.umask(0o022)  # both sides create implied parent directories
    try:
        reference_unpack(skopeo_layers(rich, tmp_path), reference)
        img = image(rich)
        result = image_files.unpack(img, tmp_path / "mine")
    finally:
        os.umask(umask)
    assert snapshot(tmp_path / "mine") == snapshot(reference)
    assert result.layers[2]["diff_id"] == str(img.config.diff_ids[2])
    assert result.hardlinks == 2 and result.fifos == 1
    # every regular file of the reference, read back with get-file, merged view shared
    tree = image_files.merged_tree(img)
    listed = {e.path for e in tree.walk()}
    assert listed == set(snapshot(reference))
    for rel, info in snapshot(reference).items():
        if stat.S_ISREG(info[0]):
            out = io.BytesIO()
            image_files.read_file(img, "/" + rel, out, tree=tree)
            assert out.getvalue() == (reference / rel).read_bytes(), rel
    for rel, content in EXPECTED_FILES.items():
        assert (tmp_path / "mine" / rel).read_bytes() == content
    for rel in GONE:
        assert not os.path.lexists(tmp_path / "mine" / rel)


def test_get_file_follows_symlinks_inside_the_image_only(rich: str) -> None:
    img = image(rich)
    out = io.BytesIO()
    entry = image_files.read_file(img, "abs-link", out)  # /etc/passwd of the image, not the host
    assert out.getvalue() == EXPECTED_FILES["etc/passwd"] and entry.path == "etc/passwd"
    out = io.BytesIO()
    image_files.read_file(img, "/lib/libbar.so", out)
    assert out.getvalue() == b"\x7fELF bar"
    with pytest.raises(NotFound, match="no such file"):
        image_files.read_file(img, "/etc/old.conf", io.BytesIO())
    with pytest.raises(ValueError, match="is a directory"):
        image_files.read_file(img, "/etc", io.BytesIO())
    with pytest.raises(ValueError, match="fifo"):
        image_files.read_file(img, "/run/fifo", io.BytesIO())


def test_unpack_applies_modes_owners_and_times(rich: str, tmp_path: Path) -> None:
    image_files.unpack(image(rich), tmp_path / "root")
    root = tmp_path / "root"
    assert stat.S_IMODE((root / "home/u").lstat().st_mode) == 0o700
    assert stat.S_IMODE((root / "usr/lib/libfoo.so").lstat().st_mode) == 0o755
    # a hard link's header applies to the inode it shares (as Docker and tar do)
    assert stat.S_IMODE((root / "usr/bin/tool").lstat().st_mode) == 0o644
    assert int((root / "etc/passwd").stat().st_mtime) == MTIME
    assert int((root / "usr/bin").stat().st_mtime) == MTIME
    assert os.readlink(root / "etc/alt") == "/usr/bin/tool"
    assert (root / "etc/hardsrc").stat().st_ino == (root / "etc/hardlink").stat().st_ino
    assert stat.S_ISFIFO((root / "run/fifo").lstat().st_mode)
    if os.geteuid() == 0:
        assert (root / "home/u/.profile").stat().st_uid == 1000


# --------------------------------------------------------------------------- hostile layers


def _outside_untouched(tmp_path: Path, before: set[str]) -> None:
    assert {p.name for p in tmp_path.iterdir()} == before


@pytest.fixture
def hostile(tmp_path: Path) -> Any:
    """Write a one-or-more-layer image and unpack it into tmp/root; tmp/outside is a
    sentinel directory that must stay exactly as it was."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_text("keep me")

    def run(*layer_items: list[Item], devices: bool | None = None, **kw: Any) -> Any:
        ref = write_layers(tmp_path / "layout", "bad", [tar_layer(x) for x in layer_items])
        before = {p.name for p in tmp_path.iterdir()} | {"root"}
        try:
            return image_files.unpack(image(ref), tmp_path / "root", devices=devices, **kw)
        finally:
            _outside_untouched(tmp_path, before)
            assert sorted(p.name for p in outside.iterdir()) == ["sentinel"]
            assert (outside / "sentinel").read_text() == "keep me"

    run.outside = outside  # type: ignore[attr-defined]
    run.tmp = tmp_path  # type: ignore[attr-defined]
    return run


def test_path_traversal_is_refused(hostile: Any) -> None:
    with pytest.raises(UnsafeLayer, match=r"climbs out with '\.\.'"):
        hostile([f("ok", b"1"), f("../escaped", b"evil")])
    with pytest.raises(UnsafeLayer, match=r"climbs out"):
        hostile([f("a/../../outside/sentinel", b"evil")])


def test_absolute_paths_are_refused(hostile: Any) -> None:
    target = str(hostile.outside / "abs")
    with pytest.raises(UnsafeLayer, match="absolute path"):
        hostile([f(target, b"evil")])


def test_symlink_pointing_out_cannot_be_written_through(hostile: Any) -> None:
    depth = "../" * 12
    with pytest.raises(UnsafeLayer, match="above the image root"):
        hostile([sym("evil", f"{depth}outside"), f("evil/pwned", b"evil")])
    # the same with the link in a lower layer and the write in a later one
    with pytest.raises(UnsafeLayer, match="above the image root"):
        hostile([sym("evil", f"{depth}outside")], [f("evil/pwned", b"evil")])
    # an absolute target means the image's own path, as in a container: it lands inside
    result = hostile([sym("evil", str(hostile.outside)), f("evil/pwned", b"inside")])
    landed = Path(result.root) / str(hostile.outside).lstrip("/") / "pwned"
    assert landed.read_bytes() == b"inside"
    # a whiteout through such a link deletes inside the root, never the sentinel outside
    hostile([sym("evil", str(hostile.outside))], [f("evil/.wh.sentinel")])


# A directory's owner, mode, times and xattrs are applied at the end; by then a later entry
# (same layer or a later one) may have replaced the directory or a parent with a symlink.
REPLACED_DIR_CASES = {
    "same layer": lambda tmp: [
        [d("a"), d("a/outside", **VICTIM), sym("a", tmp)],
    ],
    "across layers": lambda tmp: [
        [d("a"), d("a/outside", **VICTIM)],
        [sym("a", tmp)],
    ],
    "whiteout then link": lambda tmp: [
        [d("a"), d("a/outside", **VICTIM)],
        [wh("a"), sym("a", tmp)],
    ],
    "opaque then link": lambda tmp: [
        [d("x"), d("x/a"), d("x/a/outside", **VICTIM)],
        [opq("x"), sym("x/a", tmp)],
    ],
    "the directory itself": lambda tmp: [
        [d("outside", **VICTIM)],
        [sym("outside", f"{tmp}/outside")],
    ],
}
VICTIM: dict[str, Any] = {
    "mode": 0o777,
    "mtime": 12345,
    "uid": 4321,
    "gid": 4321,
    "pax_headers": {"SCHILY.xattr.user.hoist": "pwned"},
}


def _dir_state(path: Path) -> tuple[Any, ...]:
    st = path.stat()
    try:
        xattrs = sorted(os.listxattr(path))
    except OSError:
        xattrs = []
    return stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_uid, st.st_gid, xattrs


@pytest.mark.parametrize("case", list(REPLACED_DIR_CASES))
def test_directory_attributes_never_reach_through_a_replacing_symlink(
    hostile: Any, case: str
) -> None:
    outside: Path = hostile.outside
    outside.chmod(0o750)
    os.utime(outside, (1_000_000, 1_000_000))
    before = _dir_state(outside)
    result = hostile(*REPLACED_DIR_CASES[case](str(hostile.tmp)))
    assert _dir_state(outside) == before
    link = next(p for p in Path(result.root).rglob("*") if p.is_symlink())
    assert os.readlink(link).startswith(str(hostile.tmp))


def test_directory_attributes_still_apply_when_the_directory_stays(hostile: Any) -> None:
    result = hostile(
        [d("a"), d("a/b", mode=0o750, mtime=12345), f("a/b/f", b"1")],
        [wh("a/b/f"), d("a", mode=0o711, mtime=23456)],
        [d("c", mode=0o700, mtime=34567)],
        [wh("c"), d("c", mode=0o705, mtime=45678)],
    )
    root = Path(result.root)
    for name, mode, mtime in (("a/b", 0o750, 12345), ("a", 0o711, 23456), ("c", 0o705, 45678)):
        st = (root / name).lstat()
        assert (stat.S_IMODE(st.st_mode), st.st_mtime) == (mode, mtime), name


def test_a_removed_directory_attributes_are_forgotten(hostile: Any) -> None:
    # a/b is deleted, then made again only as a parent (no entry of its own): it gets the
    # default mode, not the deleted one's (which a reused inode number would let through)
    result = hostile(
        [d("a"), d("a/b", mode=0o700, mtime=12345)],
        [wh("a/b"), f("a/b/f", b"1")],
    )
    st = (Path(result.root) / "a/b").lstat()
    assert stat.S_IMODE(st.st_mode) == 0o755 and st.st_mtime != 12345


def test_hard_links_stay_inside(hostile: Any) -> None:
    with pytest.raises(UnsafeLayer, match="hard link"):
        hostile([hard("h", "../outside/sentinel")])
    with pytest.raises(UnsafeLayer, match="absolute path"):
        hostile([hard("h", str(hostile.outside / "sentinel"))])
    with pytest.raises(UnsafeLayer, match="above the image root"):
        hostile([sym("up", "../../../../../../../.."), hard("h", "up" + str(hostile.outside))])
    # an absolute symlink in the target's path resolves inside the root: the target is
    # missing there, so the link fails instead of reaching the sentinel
    with pytest.raises(InvalidLayer, match="does not exist"):
        hostile([sym("o", str(hostile.outside)), hard("h", "o/sentinel")])


def test_link_loops_are_refused(hostile: Any, tmp_path: Path) -> None:
    ref = write_layers(tmp_path / "loop", "loop", [tar_layer([sym("a", "b"), sym("b", "a")])])
    with pytest.raises(UnsafeLayer, match="too many levels of symbolic links"):
        image_files.read_file(image(ref), "/a", io.BytesIO())
    with pytest.raises(UnsafeLayer, match="too many levels of symbolic links"):
        hostile([sym("a", "b"), sym("b", "a"), f("a/x", b"1")])


def test_decompression_bomb_is_stopped(hostile: Any, tmp_path: Path) -> None:
    bomb = [f("zeros", bytes(64 << 20))]  # 64 MiB of zeros: about 64 kB of gzip
    layer = tar_layer(bomb)
    assert len(layer.blob) < 200_000
    with pytest.raises(LayerTooLarge, match="exceeds the limit of 8388608 bytes"):
        hostile(bomb, max_bytes=8 << 20)
    ref = write_layers(tmp_path / "bomb", "bomb", [layer])
    with pytest.raises(LayerTooLarge):
        image_files.merged_tree(image(ref), max_bytes=8 << 20)


def test_device_nodes_only_when_allowed(hostile: Any) -> None:
    result = hostile([chardev("dev/null"), f("ok", b"1")], devices=False)
    assert result.skipped == ["/dev/null (char device not allowed)"]
    assert not os.path.lexists(Path(result.root) / "dev/null")
    assert (Path(result.root) / "ok").read_bytes() == b"1"


def test_extended_attributes_are_applied(hostile: Any) -> None:
    info, data = f("tagged", b"1")
    info.pax_headers = {"SCHILY.xattr.user.hoist": "yes"}
    result = hostile([(info, data)])
    path = Path(result.root) / "tagged"
    try:
        assert os.getxattr(path, "user.hoist") == b"yes"
    except OSError:  # a filesystem without user xattrs: the miss is reported instead
        assert result.skipped == ["/tagged (xattr user.hoist: Operation not supported)"]


def test_whiteout_names_are_checked(hostile: Any) -> None:
    with pytest.raises(UnsafeLayer, match="climbs out"):
        hostile([f("../.wh.outside")])
    with pytest.raises(UnsafeLayer):
        hostile([f("a/.wh...")])


def test_diff_id_mismatch_stops_unpack(tmp_path: Path) -> None:
    good = tar_layer([f("a", b"1")])
    ref = write_layers(tmp_path / "l", "x", [good], diff_ids=[digest_of(b"wrong")])
    with pytest.raises(DigestMismatch, match="differs from the config's diff_id"):
        image_files.unpack(image(ref), tmp_path / "root")


def test_endless_chain_of_nested_indexes_ends_the_layer_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from support.hostile_registry import HostileRegistry

    from hoist.errors import InvalidInput
    from hoist.model.manifest import Index, Manifest

    monkeypatch.setattr(image_files, "MAX_MANIFESTS", 10)
    with HostileRegistry() as reg:
        inner: Manifest = reg.image
        for _ in range(12):
            inner = Index.build([inner.descriptor()])
            reg.add(inner)
        reg.add(inner, "deep")
        with pytest.raises(InvalidInput, match="more than 10 manifests under one image"):
            image_files.layer_descriptors(reg.at("deep"))
        assert reg.count("GET", f"/v2/app/manifests/{reg.image.digest}") == 0
