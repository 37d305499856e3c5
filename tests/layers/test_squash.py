"""The plans of one tar standing for several layers: what they keep, delete and link.

(That they unpack to the same files is checked end to end in tests/authoring/test_flatten.py
and tests/test_rootfs.py.)"""

from __future__ import annotations

import io
import tarfile
from contextlib import AbstractContextManager

import pytest
from support.layers import Item, d, f, hard, make_tar, opq, wh

from hoist.errors import InvalidLayer
from hoist.layers.entries import LayerListing, list_layer
from hoist.layers.squash import diff_plan, merged_plan, write_plan
from hoist.layers.stream import LayerStream


def listings(*layers: list[Item]) -> tuple[list[LayerListing], list[bytes]]:
    tars = [make_tar(items) for items in layers]
    out = []
    for i, tar in enumerate(tars):
        with LayerStream(io.BytesIO(tar), compression="none") as stream:
            out.append(list_layer(stream, layer=i))
    return out, tars


def kinds(plan_entries: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(e.path, e.kind) for e in plan_entries]  # type: ignore[attr-defined]


def test_a_directory_deleted_and_made_again_is_opaque() -> None:
    found, _ = listings([wh("x")], [d("x"), f("x/new", b"n")])
    assert kinds(diff_plan(found).entries) == [("x", "dir"), ("x", "opaque"), ("x/new", "file")]


def test_a_directory_replaced_by_a_file_then_made_again_is_opaque() -> None:
    found, _ = listings([f("x", b"file")], [d("x")])
    assert kinds(diff_plan(found).entries) == [("x", "dir"), ("x", "opaque")]


def test_whiteouts_below_stay_and_deletions_above_are_folded() -> None:
    found, _ = listings([d("tmp"), f("tmp/big", b"x" * 10)], [wh("tmp"), wh("a")])
    plan = diff_plan(found)
    assert kinds(plan.entries) == [("a", "whiteout"), ("tmp", "whiteout")]
    assert plan.layers == () and plan.deletions == 2
    assert kinds(merged_plan(found).entries) == []  # nothing left, nothing deleted


def test_an_opaque_directory_hides_what_the_layers_below_it_made() -> None:
    found, _ = listings([d("d"), f("d/1", b"1")], [d("d"), opq("d"), f("d/2", b"2")])
    assert kinds(diff_plan(found).entries) == [("d", "dir"), ("d", "opaque"), ("d/2", "file")]


def test_a_hard_link_keeps_the_bytes_of_its_target_when_overwritten() -> None:
    found, tars = listings([f("s", b"old"), hard("l", "s")], [f("s", b"new")])
    plan = diff_plan(found)
    link = next(e for e in plan.entries if e.path == "l")
    assert link.data == (0, 0)  # the old bytes, in layer 0
    out = io.BytesIO()

    def open_layer(i: int) -> AbstractContextManager[LayerStream]:
        return LayerStream(io.BytesIO(tars[i]), compression="none")

    stats = write_plan(plan, open_layer, out)
    assert (stats.files, stats.hardlinks) == (2, 0)  # no longer one inode: two files
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        contents = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    assert contents == {"l": b"old", "s": b"new"}
    assert set(stats.diff_ids) == {0, 1}


def test_a_hard_link_to_a_file_below_is_kept_as_it_is() -> None:
    found, _ = listings([hard("l", "below")])
    (entry,) = diff_plan(found).entries
    assert (entry.kind, entry.linkname, entry.data) == ("hardlink", "below", None)


def test_paths_through_files_are_refused() -> None:
    found, _ = listings([f("x", b"file")], [f("x/y", b"y")])
    with pytest.raises(InvalidLayer, match="is not a directory"):
        diff_plan(found)
    found, _ = listings([f("x", b"file")], [opq("x")])
    with pytest.raises(InvalidLayer, match="is not a directory"):
        diff_plan(found)
