"""The layer codec: streams (every compression, digests and diff_ids verified on the way,
corrupt input refused) and the merge rules on entry lists.

Image-level file access over these (list, get-file, unpack, hostile layers) is tested in
tests/test_files.py.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from typing import Any

import pytest
import zstandard
from support.layers import MEDIA, compress, d, f, make_tar

from hoist import layers
from hoist.errors import DigestMismatch, InvalidLayer
from hoist.layers import Entry, FileTree, LayerStream
from hoist.model import mediatype as mt
from hoist.model.descriptor import Descriptor
from hoist.model.digest import VerifyingReader, digest_of

# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_stream_computes_diff_id_and_verifies_digest(compression: str) -> None:
    tar = make_tar([f("a", os.urandom(1000)), d("b")])
    blob = compress(tar, compression)
    desc = Descriptor.of(MEDIA[compression], blob)
    reader = VerifyingReader(io.BytesIO(blob), desc.digest, desc.size)
    with LayerStream(reader, desc.media_type) as s:
        listing = layers.list_layer(s)
    assert listing.diff_id == digest_of(tar)
    assert listing.size == len(tar)
    assert listing.compression == compression
    assert [e.display_path for e in listing.entries] == ["/a", "/b"]
    # without a media type the compression is recognised from the first bytes
    with LayerStream(io.BytesIO(blob)) as s:
        assert s.finish() == digest_of(tar) and s.compression == compression


def test_stream_threaded_pipeline_matches_and_propagates_errors() -> None:
    big = os.urandom(6 << 20)
    tar = make_tar([f("big.bin", big), f("small", b"x")])
    blob = gzip.compress(tar, compresslevel=1)
    with LayerStream(
        VerifyingReader(io.BytesIO(blob), digest_of(blob), len(blob)),
        mt.OCI_LAYER_GZIP,
        size_hint=len(blob),
    ) as s:
        listing = layers.list_layer(s, hash_files=True)
    assert listing.diff_id == digest_of(tar)
    assert listing.entries[0].content == digest_of(big)
    # a corrupted byte in the middle: the gzip reader fails in a background thread, the
    # rest is read so the real cause shows, raised in the consumer: not the blob we wanted
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0xFF
    with (
        pytest.raises(DigestMismatch, match="digest mismatch"),
        LayerStream(
            VerifyingReader(io.BytesIO(bytes(bad)), digest_of(blob), len(blob)),
            mt.OCI_LAYER_GZIP,
            size_hint=len(blob),
        ) as s,
    ):
        layers.list_layer(s)
    # stopping early (a consumer that found what it wanted) closes without hanging
    with LayerStream(io.BytesIO(blob), mt.OCI_LAYER_GZIP, size_hint=len(blob)) as s:
        assert s.read(512)


def test_stream_digest_mismatch_and_corrupt_data() -> None:
    tar = make_tar([f("a", b"hello")])
    blob = gzip.compress(tar)
    wrong = digest_of(b"something else")
    with (
        pytest.raises(DigestMismatch),
        LayerStream(VerifyingReader(io.BytesIO(blob), wrong, len(blob)), mt.OCI_LAYER_GZIP) as s,
    ):
        s.finish()
    with (
        pytest.raises(InvalidLayer, match="corrupt gzip"),
        LayerStream(io.BytesIO(blob[:20]), mt.OCI_LAYER_GZIP) as s,
    ):
        s.finish()
    # corrupt data that is what the descriptor says (published broken): InvalidLayer
    broken = bytearray(blob)
    broken[len(broken) // 2] ^= 0xFF
    reader = VerifyingReader(io.BytesIO(bytes(broken)), digest_of(bytes(broken)), len(broken))
    with (
        pytest.raises(InvalidLayer, match="corrupt gzip"),
        LayerStream(reader, mt.OCI_LAYER_GZIP) as s,
    ):
        s.finish()
    with (
        pytest.raises(InvalidLayer, match="not a tar"),
        LayerStream(
            io.BytesIO(gzip.compress(b"this is not a tar archive" * 40)), mt.OCI_LAYER_GZIP
        ) as s,
    ):
        layers.list_layer(s)
    # data after the end-of-archive blocks is ignored (as other tar readers do) but hashed
    with LayerStream(io.BytesIO(tar + b"\x01" * 1024), mt.OCI_LAYER) as s:
        assert layers.list_layer(s).diff_id == digest_of(tar + b"\x01" * 1024)


def test_stream_multi_member_gzip_multi_frame_zstd_and_empty_layer() -> None:
    tar = make_tar([f("a", b"1" * 5000), f("b", b"2" * 5000)])
    half = len(tar) // 2
    two_members = gzip.compress(tar[:half]) + gzip.compress(tar[half:])
    cctx = zstandard.ZstdCompressor()
    two_frames = cctx.compress(tar[:half]) + cctx.compress(tar[half:])
    for blob, media_type in ((two_members, mt.OCI_LAYER_GZIP), (two_frames, mt.OCI_LAYER_ZSTD)):
        with LayerStream(io.BytesIO(blob), media_type) as s:
            assert [e.path for e in layers.list_layer(s).entries] == ["a", "b"]
            assert s.diff_id == digest_of(tar)
    with LayerStream(io.BytesIO(b""), mt.OCI_LAYER) as s:
        listing = layers.list_layer(s)
    assert listing.entries == [] and listing.diff_id == digest_of(b"")


def test_gzip_falls_back_to_zlib_without_isal(monkeypatch: pytest.MonkeyPatch) -> None:
    tar = make_tar([f("a", b"x" * 10000)])
    monkeypatch.setitem(sys.modules, "isal", None)  # import isal -> ImportError
    from hoist.layers.stream import decompressor

    reader = decompressor(io.BytesIO(gzip.compress(tar)), "gzip")
    assert type(reader).__module__ == "gzip"
    with LayerStream(io.BytesIO(gzip.compress(tar)), mt.OCI_LAYER_GZIP) as s:
        assert s.finish() == digest_of(tar)


def test_isal_and_zstandard_are_imported_lazily() -> None:
    probe = (
        "import sys\n"
        "from hoist.cli.main import main\n"
        "for args in (['image', '--help'], ['layer', '--help'], ['image', 'tree', '--help']):\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        "import hoist.layers, hoist.insight\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('isal', 'zstandard')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


# --------------------------------------------------------------------------- entries and merge


def test_tree_rules_on_entry_lists() -> None:
    def e(path: str, kind: str = "file", **kw: Any) -> Entry:
        return Entry(path, kind, **kw)

    tree = FileTree.from_listings(
        [
            [e("a", "dir"), e("a/x"), e("a/y"), e("b", "dir"), e("b/z")],
            # same layer: a whiteout only hides lower layers; "a" is replaced by a file
            [e("a/x", "whiteout"), e("a/x"), e("b"), e("c", "symlink", linkname="b")],
        ]
    )
    paths = {x.path: x.kind for x in tree.walk()}
    assert paths == {"a": "dir", "a/x": "file", "a/y": "file", "b": "file", "c": "symlink"}
    with pytest.raises(InvalidLayer, match="is not a directory"):
        tree.apply([e("b/inside")])
