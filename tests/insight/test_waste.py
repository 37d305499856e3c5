"""image waste: layer sizes next to their steps, largest files, wasted bytes, efficiency.

The numbers are checked against what the layers hold (read with tarfile) and what the
image unpacks to (the reference unpack: hard-linked bytes once).
"""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.layers import d, f, hard, rich_layers, tar_layer, wh, write_layers
from support.unpacking import decompress, reference_unpack

from hoist.client import Client
from hoist.errors import DigestMismatch
from hoist.insight.waste import image_waste


def unpacked_bytes(blobs: list[bytes], dest: Path) -> int:
    """Bytes of the regular files of the unpacked image, each inode once."""
    reference_unpack(blobs, dest)
    seen, total = set(), 0
    for dirpath, _, names in os.walk(dest):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode) and st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_size
    return total


def layer_file_bytes(blob: bytes) -> int:
    """Bytes of the regular files a layer tar holds (whiteout markers are empty)."""
    with tarfile.open(fileobj=io.BytesIO(decompress(blob))) as tar:
        return sum(m.size for m in tar.getmembers() if m.isreg())


def test_rich_image_numbers_match_the_layers_and_the_unpacked_image(tmp_path: Path) -> None:
    layers = rich_layers()
    ref = write_layers(tmp_path / "layout", "rich", layers)
    report = image_waste(Client().image(ref))
    assert report.total == sum(layer_file_bytes(x.blob) for x in layers) == 200
    assert report.final == unpacked_bytes([x.blob for x in layers], tmp_path / "root") == 142
    assert report.wasted == 58 and report.efficiency == pytest.approx(1 - 58 / 200)
    assert [x.file_bytes for x in report.layers] == [layer_file_bytes(x.blob) for x in layers]
    assert sum(x.wasted for x in report.layers) == report.wasted
    assert [x.created_by for x in report.layers] == [f"layer {i}" for i in range(5)]
    first = report.paths[0]
    assert (first.path, first.wasted, first.how, first.by) == ("etc/passwd", 26, "overwritten", 2)
    fates = {p.path: (p.how, p.by) for p in report.paths}
    assert fates["etc/old.conf"] == ("deleted", 2)  # a whiteout
    assert fates["data/a.txt"] == ("deleted", 2)  # an opaque directory
    assert fates["opt/keep/x"] == ("deleted", 3)  # its directory replaced by a file
    assert "usr/bin/tool" not in fates  # overwritten nowhere; tool2 links to it
    assert report.wasted_paths == len(report.paths) == 8


def test_a_file_added_then_deleted_is_all_waste(tmp_path: Path, capsysbinary: Any) -> None:
    big = b"x" * 300_000
    layers = [
        tar_layer([d("app"), f("app/x", b"v1" * 1000)]),
        tar_layer([d("tmp"), f("tmp/cache.bin", big), f("tmp/link", b"")]),
        tar_layer([wh("tmp"), f("app/x", b"v2" * 1000), hard("app/y", "app/x")]),
    ]
    ref = write_layers(tmp_path / "layout", "img", layers)
    report = image_waste(Client().image(ref), largest=1, paths=1)
    assert report.total == 2000 + 300_000 + 2000 and report.final == 2000
    assert report.efficiency == pytest.approx(2000 / 304_000)
    assert report.layers[1].largest[0].to_dict() == {
        "path": "/tmp/cache.bin",
        "size": 300_000,
        "wasted": True,
    }
    assert report.wasted_paths == 2 and len(report.paths) == 1
    assert report.paths[0].to_dict() == {
        "path": "/tmp/cache.bin",
        "wasted": 300_000,
        "versions": 1,
        "layers": [1],
        "how": "deleted",
        "by": 2,
    }
    code, out, err = run(capsysbinary, "image", "waste", ref)
    assert code == 0, err
    text = out.decode()
    assert "efficiency: 0.7%  (wasted 302.0 kB of 304.0 kB unpacked; 2.0 kB in the final" in text
    assert "/tmp/cache.bin  (wasted)" in text
    assert "deleted by layer 2" in text and "overwritten by layer 2" in text
    code, out, err = run(capsysbinary, "image", "waste", ref, "--format", "json", "--paths", "5")
    assert code == 0, err
    data = json.loads(out)
    assert data["wasted"] == 302_000 and data["efficiency"] == round(2000 / 304_000, 6)
    assert [p["path"] for p in data["paths"]] == ["/tmp/cache.bin", "/app/x"]
    assert data["layers"][2]["deletions"] == 1


def test_a_wrong_diff_id_is_refused(tmp_path: Path) -> None:
    layers = rich_layers()[:2]
    ref = write_layers(tmp_path / "layout", "bad", layers, diff_ids=[layers[1].diff_id] * 2)
    with pytest.raises(DigestMismatch, match="differs from the config's diff_id"):
        image_waste(Client().image(ref))
