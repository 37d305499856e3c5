"""OCI layout specifics: skopeo interop, malformed input, atomic writes, threads, gc."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.json_fuzz import DESCRIPTORISH, JSON
from support.skopeo import skopeo, skopeo_raw

from hoist.errors import (
    BlobNotFound,
    DigestMismatch,
    HoistError,
    InvalidManifest,
    ManifestNotFound,
    NotFound,
)
from hoist.image import Image
from hoist.location import Location
from hoist.model.digest import digest_of
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import base_image, write_image, write_samples

AMD64 = Platform("linux", "amd64")


def _layout(tmp_path: Path, tag: str | None = "latest") -> LayoutReference:
    return LayoutReference("ocidir", str(tmp_path / "layout"), tag)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def samples(tmp_path: Path) -> tuple[OCIDirStore, LayoutReference]:
    store = OCIDirStore()
    ref = _layout(tmp_path)
    write_samples(store, ref.with_tag("base"), ref.with_tag("app"))
    return store, ref


def test_skopeo_reads_what_hoist_writes(samples: tuple[OCIDirStore, LayoutReference]) -> None:
    store, ref = samples
    root = ref.path
    for tag in ("base", "app"):
        raw = skopeo_raw(f"oci:{root}:{tag}")
        assert raw == store.manifest_get(ref.with_tag(tag)).raw
    info = json.loads(skopeo("inspect", f"oci:{root}:app").stdout)
    app = Image(Location(store, ref.with_tag("app")))
    assert info["Digest"] == str(app.manifest.digest)
    assert info["Layers"] == [str(d.digest) for d in app.layers]
    config = json.loads(skopeo("inspect", "--config", f"oci:{root}:app").stdout)
    assert config == json.loads(app.config_bytes)


def test_hoist_reads_what_skopeo_writes(
    samples: tuple[OCIDirStore, LayoutReference], tmp_path: Path
) -> None:
    store, ref = samples
    dest = tmp_path / "copied"
    skopeo("copy", "--all", f"oci:{ref.path}:base", f"oci:{dest}:v1")
    copied = LayoutReference("ocidir", str(dest), "v1")
    assert store.tag_list(copied) == ["v1"]
    original = store.manifest_get(ref.with_tag("base"))
    assert store.manifest_get(copied).raw == original.raw
    for platform in (Platform("linux", "amd64"), Platform("linux", "arm64")):
        img = Image(Location(store, copied), platform=platform)
        assert img.config.architecture == platform.architecture
        with img.layer_reader(0) as reader:
            assert len(reader.read()) == img.layers[0].size


def test_untagged_layout_resolves_its_only_image(
    samples: tuple[OCIDirStore, LayoutReference], tmp_path: Path
) -> None:
    store, ref = samples
    dest = tmp_path / "untagged"
    skopeo("copy", f"oci:{ref.path}:app", f"oci:{dest}")
    only = LayoutReference("ocidir", str(dest))
    assert store.manifest_get(only).raw == store.manifest_get(ref.with_tag("app")).raw


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"{not json", InvalidManifest),
        (b"[]", InvalidManifest),
        (b'{"schemaVersion":2,"manifests":{}}', InvalidManifest),
        (b'{"schemaVersion":2,"manifests":[{"mediaType":"x"}]}', InvalidManifest),
        (b'{"schemaVersion":2,"manifests":[', InvalidManifest),  # truncated
    ],
    ids=["bad-json", "array", "manifests-object", "bad-descriptor", "truncated"],
)
def test_malformed_index_json(
    samples: tuple[OCIDirStore, LayoutReference], content: bytes, error: type[Exception]
) -> None:
    store, ref = samples
    root = Path(ref.path)
    (root / "index.json").write_bytes(content)
    before = _snapshot(root)
    with pytest.raises(error, match=r"index\.json"):
        store.manifest_get(ref.with_tag("base"))
    with pytest.raises(error):
        store.manifest_put(ref.with_tag("new"), base_image([Platform("linux", "amd64")]).top)
    assert _snapshot(root) == before


def test_not_a_layout(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not an OCI layout"):
        OCIDirStore().manifest_get(LayoutReference("ocidir", str(tmp_path)))


def test_corrupt_blob_is_detected(samples: tuple[OCIDirStore, LayoutReference]) -> None:
    store, ref = samples
    img = Image(Location(store, ref.with_tag("app")))
    layer = img.layers[1]
    path = Path(ref.path) / "blobs" / "sha256" / layer.digest.hex
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch), img.layer_reader(1) as reader:
        reader.read()
    manifest_path = Path(ref.path) / "blobs" / "sha256" / img.top.digest.hex
    manifest_path.write_bytes(manifest_path.read_bytes() + b" ")
    with pytest.raises(DigestMismatch):
        store.manifest_get(ref.with_tag("app"))


def test_missing_blob(samples: tuple[OCIDirStore, LayoutReference]) -> None:
    store, ref = samples
    img = Image(Location(store, ref.with_tag("app")))
    (Path(ref.path) / "blobs" / "sha256" / img.manifest.config.digest.hex).unlink()
    with pytest.raises(BlobNotFound):
        _ = img.config


def test_oversized_manifest_refused_and_nothing_written(
    samples: tuple[OCIDirStore, LayoutReference],
) -> None:
    store, ref = samples
    root = Path(ref.path)
    big = b'{"schemaVersion":2,"manifests":[],"annotations":{"x":"' + b"a" * (4 << 20) + b'"}}'
    path = root / "blobs" / "sha256" / digest_of(big).hex
    path.write_bytes(big)
    before = _snapshot(root)
    with pytest.raises(InvalidManifest, match="4 MiB"):
        store.manifest_get(ref.by_digest(digest_of(big)))
    assert _snapshot(root) == before


def test_failed_blob_write_leaves_no_temp_file(tmp_path: Path) -> None:
    store = OCIDirStore()
    ref = _layout(tmp_path)
    with pytest.raises(DigestMismatch):
        store.blob_put(ref, b"abc", digest=digest_of(b"abd"))
    assert [p.name for p in (tmp_path / "layout" / "blobs" / "sha256").iterdir()] == []


def test_concurrent_tagging_from_threads(tmp_path: Path) -> None:
    store = OCIDirStore()
    ref = _layout(tmp_path)
    sample = base_image([Platform("linux", "amd64")])
    write_image(store, ref, sample)
    errors: list[BaseException] = []

    def tag(i: int) -> None:
        try:
            store.manifest_put(ref.with_tag(f"t{i}"), sample.top)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tag, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.tag_list(ref) == sorted(["latest", *(f"t{i}" for i in range(24))])


def test_gc_removes_only_unreferenced(samples: tuple[OCIDirStore, LayoutReference]) -> None:
    store, ref = samples
    orphan = store.blob_put(ref, b"orphan blob")
    app = Image(Location(store, ref.with_tag("app")))
    assert store.gc(ref, dry_run=True) == [orphan.digest]
    store.blob_head(ref, orphan.digest)  # dry run kept it
    assert store.gc(ref) == [orphan.digest]
    with pytest.raises(BlobNotFound):
        store.blob_head(ref, orphan.digest)
    app_only = {d.digest for d in app.layers[1:]} | {app.manifest.config.digest, app.top.digest}
    store.tag_delete(ref.with_tag("app"))
    removed = set(store.gc(ref))
    assert removed == app_only
    base = Image(Location(store, ref.with_tag("base")), platform=Platform("linux", "amd64"))
    with base.layer_reader(0) as reader:  # the shared layer survived
        reader.read()


def test_tag_delete_missing(samples: tuple[OCIDirStore, LayoutReference]) -> None:
    store, ref = samples
    with pytest.raises(ManifestNotFound):
        store.tag_delete(ref.with_tag("absent"))


def test_fsync_reaches_blob_directories_and_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd")
    synced: list[Path] = []
    real = os.fsync

    def record(fd: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    ref = _layout(tmp_path)
    root = (tmp_path / "layout").resolve()
    sample = base_image([Platform("linux", "amd64")])
    write_image(OCIDirStore(fsync=False), ref, sample)  # layout files, blobs, index.json
    OCIDirStore(fsync=False).manifest_put(ref.with_tag("again"), sample.top)
    assert synced == []
    OCIDirStore().blob_put(ref, b"a new blob")
    assert root / "blobs" / "sha256" in synced  # the rename into blobs/sha256 is durable
    synced.clear()
    OCIDirStore().manifest_put(ref.with_tag("durable"), sample.top)
    assert root in synced  # index.json renamed into the layout root


def test_gc_spares_recent_temporary_files(samples: tuple[OCIDirStore, LayoutReference]) -> None:
    import os
    import time

    store, ref = samples
    folder = Path(ref.path) / "blobs" / "sha256"
    fresh = folder / ".hoist-tmp-inprogress"
    stale = folder / ".hoist-tmp-abandoned"
    fresh.write_bytes(b"a write in progress")
    stale.write_bytes(b"left by a crash")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    assert store.gc(ref) == []
    assert fresh.exists() and not stale.exists()


# --------------------------------------------------------------------------- index.json limits


def _many_tags(root: Path, count: int) -> bytes:
    """Rewrite index.json with ``count`` tags on the layout's first entry (over 4 MiB at
    ~20,000 tags, as skopeo writes them)."""
    index = json.loads((root / "index.json").read_bytes())
    entry = index["manifests"][0]
    entries = [
        {**entry, "annotations": {"org.opencontainers.image.ref.name": f"tag-{i:07d}" + "x" * 100}}
        for i in range(count)
    ]
    raw = json.dumps({**index, "manifests": entries}, separators=(",", ":")).encode()
    (root / "index.json").write_bytes(raw)
    return raw


def test_index_json_over_4_mib_is_read(samples: tuple[OCIDirStore, LayoutReference]) -> None:
    store, ref = samples
    raw = _many_tags(Path(ref.path), 25_000)
    assert len(raw) > 5 << 20
    tags = store.tag_list(ref)
    assert len(tags) == 25_000
    store.manifest_get(ref.with_tag(tags[-1]))
    store.manifest_put(ref.with_tag("one-more"), base_image([Platform("linux", "arm64")]).top)
    assert len(store.tag_list(ref)) == 25_001


def test_index_json_over_its_own_limit_is_refused(
    samples: tuple[OCIDirStore, LayoutReference], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hoist.store import ocidir

    store, ref = samples
    monkeypatch.setattr(ocidir, "MAX_INDEX_JSON_SIZE", 64 << 10)
    _many_tags(Path(ref.path), 1000)
    with pytest.raises(InvalidManifest, match=r"index\.json"):
        store.tag_list(ref)


def test_copy_crossing_the_index_limit_fails_before_the_first_blob(
    samples: tuple[OCIDirStore, LayoutReference], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy whose new tag would take index.json past its limit writes nothing at all."""
    from hoist.copy import image_copy
    from hoist.store import ocidir

    store, ref = samples
    root = Path(ref.path)
    limit = len((root / "index.json").read_bytes()) + 100  # room for no new entry
    monkeypatch.setattr(ocidir, "MAX_INDEX_JSON_SIZE", limit)
    source = LayoutReference("ocidir", str(tmp_path / "source"), "v1")
    write_image(OCIDirStore(fsync=False), source, base_image([Platform("linux", "s390x")]))
    before = _snapshot(root)
    with pytest.raises(InvalidManifest, match=r"index\.json would grow .* nothing was written"):
        image_copy(Location(store, source), Location(store, ref.with_tag("new")))
    assert _snapshot(root) == before
    with pytest.raises(InvalidManifest, match=r"index\.json would grow"):
        store.manifest_put(ref.with_tag("new"), base_image([Platform("linux", "s390x")]).top)
    assert _snapshot(root) == before


# --------------------------------------------------------------------------- fuzzing


_INDEXISH = st.fixed_dictionaries(
    {},
    optional={
        "schemaVersion": st.just(2) | JSON,
        "mediaType": st.just("application/vnd.oci.image.index.v1+json") | JSON,
        "manifests": st.lists(DESCRIPTORISH, max_size=4) | JSON,
    },
)


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=200)
    | JSON.map(lambda v: json.dumps(v).encode())
    | _INDEXISH.map(lambda v: json.dumps(v).encode())
)
def test_fuzz_index_json_only_hoist_errors(raw: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        (root / "index.json").write_bytes(raw)
        store = OCIDirStore(fsync=False)
        ref = LayoutReference("ocidir", tmp, "latest")
        for call in (
            lambda: store.tag_list(ref),
            lambda: store.manifest_get(ref),
            lambda: store.manifest_put(ref.with_tag("new"), base_image([AMD64]).top),
            lambda: store.gc(ref, dry_run=True),
        ):
            with contextlib.suppress(HoistError):
                call()
