"""The sync store view: what it passes through of the store it wraps."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hoist.copy import image_copy
from hoist.errors import InvalidInput
from hoist.location import Location
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference
from hoist.store.base import PutChecker, WriteBatcher
from hoist.store.ocidir import OCIDirStore
from hoist.sync.memory import RunMemory, SyncStore
from hoist.testing.sample import base_image, write_image


def _source(tmp_path: Path) -> Location:
    ref = LayoutReference("ocidir", str(tmp_path / "src"), "v1")
    store = OCIDirStore(fsync=False)
    write_image(store, ref, base_image([Platform("linux", "amd64")]))
    return Location(store, ref)


def test_a_layout_target_keeps_its_write_batch_and_put_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = OCIDirStore(fsync=False)
    view = SyncStore(inner, RunMemory())
    assert isinstance(view, WriteBatcher) and isinstance(view, PutChecker)
    batches: list[str] = []
    batch = inner.write_batch

    @contextlib.contextmanager
    def spy(ref: LayoutReference) -> Iterator[None]:
        batches.append(str(ref))
        with batch(ref):
            yield

    monkeypatch.setattr(inner, "write_batch", spy)
    dst = LayoutReference("ocidir", str(tmp_path / "dst"), "v1")
    src = _source(tmp_path)
    result = image_copy(src, Location(view, dst))
    assert batches == [str(dst)]  # one batch: the layout is synced once for the copy
    assert Location(inner, dst).manifest_get().digest == result.descriptor.digest

    def refuse(ref: LayoutReference, manifest: object) -> None:
        raise InvalidInput("index.json would be too large")

    monkeypatch.setattr(inner, "manifest_put_check", refuse)
    other = LayoutReference("ocidir", str(tmp_path / "other"), "v1")
    with pytest.raises(InvalidInput, match="too large"):
        image_copy(src, Location(view, other))
    assert not (tmp_path / "other" / "blobs").exists()  # refused before the first blob


def test_a_store_without_batches_writes_as_it_goes() -> None:
    class Plain:
        pass

    view = SyncStore(Plain(), RunMemory())  # type: ignore[arg-type]
    with view.write_batch(LayoutReference("ocidir", "/nowhere", "v1")):
        pass
    view.manifest_put_check(LayoutReference("ocidir", "/nowhere", "v1"), object())  # type: ignore[arg-type]
