"""image copy between real registries and layouts, checked with skopeo."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.registry_fixtures import RegistryServer
from support.skopeo import skopeo_raw

from hoist.copy import CopyOptions, blob_copy, image_copy
from hoist.errors import BlobNotFound, InvalidInput
from hoist.location import Location
from hoist.model import mediatype as mt
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Descriptor
from hoist.model.manifest import ImageManifest, Index, Manifest, parse_manifest
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference, Reference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import Layer, SampleImage, base_image, build_image, write_image
from hoist.transport.zerocopy import FileReader

PLATFORMS = [
    Platform("linux", "amd64"),
    Platform("linux", "arm64", "v8"),
    Platform("linux", "arm", "v7"),
]


@pytest.fixture(scope="module")
def sample() -> SampleImage:
    return base_image(PLATFORMS)


def _layout(tmp_path: Path, name: str, tag: str = "v1") -> LayoutReference:
    return LayoutReference("ocidir", str(tmp_path / name), tag)


def _raw_at(ref: Reference | LayoutReference, server: RegistryServer | None = None) -> bytes:
    if isinstance(ref, LayoutReference):
        return skopeo_raw(f"oci:{ref.path}:{ref.tag}")
    return skopeo_raw(f"docker://{ref}", creds=server.creds if server else None)


def test_every_direction_keeps_the_digest(
    sample: SampleImage,
    tmp_path: Path,
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    registry_store: Any,
    repo_name: str,
) -> None:
    layout_store = OCIDirStore()
    reg1, reg2 = registry_store(registry_anon), registry_store(registry_anon2)
    start = _layout(tmp_path, "start")
    write_image(layout_store, start, sample)
    hops = [
        Location(layout_store, start),
        Location(reg1, Reference(registry_anon.host, repo_name, "v1")),  # ocidir -> registry
        Location(reg2, Reference(registry_anon2.host, repo_name, "v1")),  # registry -> registry
        Location(layout_store, _layout(tmp_path, "back")),  # registry -> ocidir
        Location(layout_store, _layout(tmp_path, "again")),  # ocidir -> ocidir
    ]
    for src, dst in itertools.pairwise(hops):
        result = image_copy(src, dst)
        assert result.descriptor.digest == sample.top.digest
        assert _raw_at(dst.ref) == sample.top.raw
        for child in sample.children:
            assert dst.by_digest(child.digest).manifest_get().raw == child.raw


def test_registry_to_registry_blob_is_spliced_past_python(
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    registry_store: Any,
    repo_name: str,
    python_reads: list[int],
) -> None:
    data = os.urandom(3 << 20)
    src = Location(registry_store(registry_anon), Reference(registry_anon.host, repo_name, "v1"))
    dst = Location(registry_store(registry_anon2), Reference(registry_anon2.host, repo_name, "v1"))
    desc = src.blob_put(data, media_type=mt.OCI_LAYER_GZIP)
    python_reads.clear()
    assert blob_copy(src, dst, desc) == "copied"
    assert sum(python_reads) < 64 << 10  # replies; none of the blob's 3 MiB
    with dst.blob_get(desc.digest, desc.size) as reader:
        assert reader.read() == data  # read to its end: verified against the digest


def test_layout_to_registry_blob_is_sent_from_the_file_past_python(
    tmp_path: Path,
    registry_anon: RegistryServer,
    registry_store: Any,
    repo_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = os.urandom(3 << 20)
    src = Location(OCIDirStore(), _layout(tmp_path, "src"))
    dst = Location(registry_store(registry_anon), Reference(registry_anon.host, repo_name, "v1"))
    desc = src.blob_put(data, media_type=mt.OCI_LAYER_GZIP)
    read: list[int] = []
    file_read = FileReader.read

    def counting(self: FileReader, n: int = -1) -> bytes:
        data = file_read(self, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(FileReader, "read", counting)
    assert blob_copy(src, dst, desc) == "copied"
    assert sum(read) == 0
    with dst.blob_get(desc.digest, desc.size) as reader:
        assert reader.read() == data


def test_second_copy_is_one_head_and_force_rechecks(
    sample: SampleImage,
    tmp_path: Path,
    registry_anon: RegistryServer,
    registry_store: Any,
    repo_name: str,
) -> None:
    layout_store = OCIDirStore()
    src = _layout(tmp_path, "src")
    write_image(layout_store, src, sample)
    reg = registry_store(registry_anon)
    dst = Reference(registry_anon.host, repo_name, "v1")
    first = image_copy(Location(layout_store, src), Location(reg, dst))
    assert len(first.copied) == len(sample.blobs)
    calls: list[str] = []
    request = reg.transport.request

    def spy(method: str, host: str, path: str, **kw: Any) -> Any:
        calls.append(f"{method} {path}")
        return request(method, host, path, **kw)

    reg.transport.request = spy
    again = image_copy(Location(layout_store, src), Location(reg, dst))
    assert again.up_to_date and calls == [f"HEAD /v2/{repo_name}/manifests/v1"]
    forced = image_copy(Location(layout_store, src), Location(reg, dst), CopyOptions(force=True))
    assert not forced.up_to_date
    assert len(forced.copied) == len(sample.blobs)


def test_single_platform(
    sample: SampleImage,
    tmp_path: Path,
    registry_anon: RegistryServer,
    registry_store: Any,
    repo_name: str,
) -> None:
    layout_store = OCIDirStore()
    src = _layout(tmp_path, "src")
    write_image(layout_store, src, sample)
    reg = registry_store(registry_anon)
    dst = Reference(registry_anon.host, repo_name, "arm64")
    result = image_copy(
        Location(layout_store, src), Location(reg, dst), CopyOptions(platform="linux/arm64")
    )
    arm64 = sample.children[1]
    assert result.descriptor.digest == arm64.digest
    assert _raw_at(dst) == arm64.raw
    assert set(result.copied) == {d.digest for d in arm64.referenced()}


def test_platforms_subset_makes_a_valid_index(
    sample: SampleImage,
    tmp_path: Path,
    registry_anon: RegistryServer,
    registry_store: Any,
    repo_name: str,
) -> None:
    layout_store = OCIDirStore()
    src = _layout(tmp_path, "src")
    write_image(layout_store, src, sample)
    reg = registry_store(registry_anon)
    dst = Reference(registry_anon.host, repo_name, "two")
    wanted = ("linux/amd64", Platform("linux", "arm", "v7"))  # strings or Platforms
    result = image_copy(
        Location(layout_store, src), Location(reg, dst), CopyOptions(platforms=wanted)
    )
    raw = _raw_at(dst)
    index = parse_manifest(raw)
    assert isinstance(index, Index) and index.digest == result.descriptor.digest
    assert index.digest != sample.top.digest
    assert [str(p) for p in index.platforms()] == ["linux/amd64", "linux/arm/v7"]
    kept = [sample.children[0], sample.children[2]]
    for desc, child in zip(index.manifests, kept, strict=True):
        assert desc.digest == child.digest
        assert skopeo_raw(f"docker://{dst.by_digest(child.digest)}") == child.raw
    dropped = sample.children[1]
    with pytest.raises(BlobNotFound):
        reg.blob_head(dst, dropped.layers[0].digest)


def test_same_registry_mounts(
    sample: SampleImage, registry_anon: RegistryServer, registry_store: Any, repo_name: str
) -> None:
    reg = registry_store(registry_anon)
    src = Reference(registry_anon.host, repo_name + "-a", "v1")
    write_image(reg, src, sample)
    dst = Location(reg, Reference(registry_anon.host, repo_name + "-b", "v1"))
    result = image_copy(Location(reg, src), dst)
    assert set(result.mounted) == set(sample.blobs) and result.copied == []


def _artifact(
    store: Any, ref: Any, subject: Descriptor, kind: str, content: bytes
) -> ImageManifest:
    layer = Descriptor.of("application/octet-stream", content)
    store.blob_put(ref, content, digest=layer.digest, size=layer.size)
    store.blob_put(ref, b"{}", digest=EMPTY_DESCRIPTOR.digest, size=2)
    m = ImageManifest.build(EMPTY_DESCRIPTOR, [layer], artifact_type=kind, subject=subject)
    store.manifest_put(ref.by_digest(m.digest), m)
    return m


def test_referrers_follow_recursively(
    sample: SampleImage,
    tmp_path: Path,
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    registry_store: Any,
    repo_name: str,
) -> None:
    reg1, reg2 = registry_store(registry_anon), registry_store(registry_anon2)
    src = Reference(registry_anon.host, repo_name, "v1")
    write_image(reg1, src, sample)
    sbom = _artifact(reg1, src, sample.top.descriptor(), "application/vnd.example.sbom", b"sbom")
    sig = _artifact(reg1, src, sbom.descriptor(), "application/vnd.example.sig", b"sig of sbom")
    child_sig = _artifact(
        reg1, src, sample.children[0].descriptor(), "application/vnd.example.sig", b"child sig"
    )
    dst = Reference(registry_anon2.host, repo_name, "v1")
    image_copy(
        Location(reg1, src), Location(reg2, dst), CopyOptions(referrers=True, digest_tags=True)
    )
    assert [d.digest for d in reg2.referrers_list(dst.by_digest(sample.top.digest))] == [
        sbom.digest
    ]
    assert [d.digest for d in reg2.referrers_list(dst.by_digest(sbom.digest))] == [sig.digest]
    found = reg2.referrers_list(dst.by_digest(sample.children[0].digest))
    assert [d.digest for d in found] == [child_sig.digest]
    # and on into a layout, which keeps referrers in its index.json
    layout = _layout(tmp_path, "with-referrers")
    image_copy(Location(reg2, dst), Location(OCIDirStore(), layout), CopyOptions(referrers=True))
    assert [d.digest for d in OCIDirStore().referrers_list(layout.by_digest(sbom.digest))] == [
        sig.digest
    ]


def _big_image(tmp_path: Path) -> tuple[LayoutReference, SampleImage]:
    """Four 8 MiB uncompressed random layers in a layout."""
    layers = []
    for _ in range(4):
        blob = os.urandom(8 << 20)
        desc = Descriptor.of("application/vnd.oci.image.layer.v1.tar", blob)
        layers.append(Layer(blob, desc, desc.digest))
    manifest, blobs = build_image(layers, [], platform=Platform("linux", "amd64"))
    image = SampleImage(blobs, [], manifest)
    ref = _layout(tmp_path, "big")
    write_image(OCIDirStore(), ref, image)
    return ref, image


def test_killed_copy_reruns_to_completion(
    tmp_path: Path, registry_anon: RegistryServer, registry_store: Any, repo_name: str
) -> None:
    src, image = _big_image(tmp_path)
    dst = Reference(registry_anon.host, repo_name, "v1")
    env = {
        **os.environ,
        "HOIST_CONFIG": str(tmp_path / "hoist.json"),
        "DOCKER_CONFIG": str(tmp_path),
    }
    (tmp_path / "hoist.json").write_text(
        json.dumps({"registries": {registry_anon.host: {"tls": "disabled"}}})
    )
    cmd = [sys.executable, "-m", "hoist", "image", "copy", str(src), str(dst), "--concurrency", "1"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("copied"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    reg = registry_store(registry_anon)
    with pytest.raises(Exception, match="MANIFEST_UNKNOWN"):
        reg.manifest_get(dst)  # no manifest was written before its blobs

    def count_present() -> int:
        present = 0
        for desc in image.top.referenced():
            try:
                reg.blob_head(dst, desc.digest)
                present += 1
            except BlobNotFound:
                pass
        return present

    # An upload whose body was sent before the kill may still be committing in
    # the registry: count once the registry has settled.
    counts = [count_present()]
    deadline = time.monotonic() + 10
    while (len(counts) < 3 or len(set(counts[-3:])) > 1) and time.monotonic() < deadline:
        time.sleep(0.2)
        counts.append(count_present())
    present = counts[-1]
    assert 1 <= present < len(image.blobs)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(image.top.digest)
    assert f"skipped {present}" in done.stderr
    assert skopeo_raw(f"docker://{dst}") == image.top.raw


def test_cli_copy_tag_add_blob_copy_repo_copy(
    sample: SampleImage,
    tmp_path: Path,
    registry_anon: RegistryServer,
    capsysbinary: Any,
    repo_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from support.cli import run

    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "hoist.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    src = _layout(tmp_path, "src")
    write_image(OCIDirStore(), src, sample)
    dst = f"{registry_anon.host}/{repo_name}"
    code, out, err = run(capsysbinary, "image", "copy", str(src), f"{dst}:v1")
    assert code == 0, err
    assert out.decode().strip() == str(sample.top.digest)
    assert "copied" in err  # one plain line per blob when stderr is not a terminal
    code, out, err = run(capsysbinary, "tag", "add", f"{dst}:v1", "v2", "latest")
    assert code == 0, err
    code, out, _ = run(capsysbinary, "tag", "ls", dst)
    assert out.decode().split() == ["latest", "v1", "v2"]
    layer = sample.children[0].layers[0].digest
    code, out, err = run(capsysbinary, "blob", "copy", f"{dst}:v1", f"{dst}-other", str(layer))
    assert code == 0 and "mounted" in err, err
    code, out, err = run(
        capsysbinary, "repo", "copy", dst, f"{dst}-mirror", "--exclude", "^latest$", "-q"
    )
    assert code == 0, err
    assert out.decode().split() == ["v1", str(sample.top.digest), "v2", str(sample.top.digest)]


def test_nondistributable_layers_only_on_request(tmp_path: Path) -> None:
    """A foreign layer is left out (as registries expect) unless asked for."""
    store = OCIDirStore()
    src = _layout(tmp_path, "foreign")
    own = Descriptor.of(mt.OCI_LAYER, b"own layer")
    foreign_blob = b"windows base layer"
    foreign = Descriptor.of(
        mt.DOCKER_FOREIGN_LAYER, foreign_blob, urls=("https://example.invalid/layer",)
    )
    manifest, blobs = build_image(
        [Layer(b"own layer", own, own.digest), Layer(foreign_blob, foreign, foreign.digest)],
        [],
        platform=Platform("windows", "amd64"),
    )
    write_image(store, src, SampleImage(blobs, [], manifest))
    plain = _layout(tmp_path, "plain")
    result = image_copy(Location(store, src), Location(store, plain))
    assert foreign.digest not in result.copied and own.digest in result.copied
    with pytest.raises(BlobNotFound):
        store.blob_head(plain, foreign.digest)
    assert store.manifest_get(plain).raw == manifest.raw  # the manifest still names it
    full = _layout(tmp_path, "full")
    result = image_copy(
        Location(store, src), Location(store, full), CopyOptions(include_nondistributable=True)
    )
    assert foreign.digest in result.copied
    assert store.blob_head(full, foreign.digest).size == len(foreign_blob)


def test_copy_to_an_untagged_layout_keeps_the_source_tag(
    sample: SampleImage, tmp_path: Path
) -> None:
    store = OCIDirStore()
    src = _layout(tmp_path, "src", "v7")
    write_image(store, src, sample)
    dst = LayoutReference("ocidir", str(tmp_path / "dst"))
    image_copy(Location(store, src), Location(store, dst))
    assert store.tag_list(dst) == ["v7"]
    assert store.manifest_get(dst).raw == sample.top.raw
    by_digest = LayoutReference("ocidir", str(tmp_path / "dst2")).by_digest(sample.top.digest)
    image_copy(Location(store, src.by_digest(sample.top.digest)), Location(store, by_digest))
    assert store.manifest_get(by_digest).raw == sample.top.raw


def test_index_listing_one_child_many_times_fetches_and_pushes_it_once(tmp_path: Path) -> None:
    from support.hostile_registry import Attacks, HostileRegistry

    with HostileRegistry(Attacks(index_repeats=50)) as reg:
        child = reg.image.digest
        result = image_copy(reg.at("many"), reg.at("many", "dst"))
        assert reg.count("GET", f"/v2/app/manifests/{child}") == 1
        assert reg.count("PUT", f"/v2/dst/manifests/{child}") == 1
        assert result.manifests == [child, reg.index.digest]
        assert reg.manifests["dst"]["many"][1] == reg.index.raw  # the index bytes unchanged
        layout = Location(OCIDirStore(fsync=False), _layout(tmp_path, "oci", "many"))
        image_copy(reg.at("many"), layout)
        assert reg.count("GET", f"/v2/app/manifests/{child}") == 2
        assert layout.manifest_get().raw == reg.index.raw


def test_child_listed_by_two_indexes_lands_before_both(tmp_path: Path) -> None:
    """top lists [image, inner] and inner lists [image]: one push of the image, before
    inner and top (a registry refuses an index whose children are missing)."""
    from support.hostile_registry import HostileRegistry

    with HostileRegistry() as reg:
        image = reg.image.descriptor()
        inner = Index.build([image])
        top = Index.build([image, inner.descriptor()])
        reg.add(inner)
        reg.add(top, "nested")
        result = image_copy(reg.at("nested"), reg.at("nested", "dst"))
        assert result.manifests == [reg.image.digest, inner.digest, top.digest]
        pushed = [s.path.rsplit("/", 1)[1] for s in reg.server.requests() if s.method == "PUT"]
        pushed = [p for p in pushed if p.startswith("sha256:") or p == "nested"]
        assert pushed == [str(reg.image.digest), str(inner.digest), "nested"]


def test_endless_chain_of_nested_indexes_is_refused(tmp_path: Path) -> None:
    from support.hostile_registry import HostileRegistry

    from hoist.model.manifest import MAX_INDEX_DEPTH

    with HostileRegistry() as reg:
        inner: Manifest = reg.image
        for _ in range(MAX_INDEX_DEPTH + 5):
            inner = Index.build([inner.descriptor()])
            reg.add(inner)
        reg.add(inner, "deep")
        layout = Location(OCIDirStore(fsync=False), _layout(tmp_path, "oci", "deep"))
        with pytest.raises(InvalidInput, match=f"nested more than {MAX_INDEX_DEPTH} deep"):
            image_copy(reg.at("deep"), layout)
        fetched = [s for s in reg.server.requests() if "/manifests/sha256:" in s.path]
        assert len(fetched) == MAX_INDEX_DEPTH
        assert not (tmp_path / "oci" / "index.json").exists()


def test_index_doubling_at_every_level_is_planned_once_per_digest(tmp_path: Path) -> None:
    """Each index lists the next twice, 30 levels down: 2**30 paths, 31 manifests."""
    from support.hostile_registry import HostileRegistry

    with HostileRegistry() as reg:
        inner: Manifest = reg.image
        for _ in range(30):
            inner = Index.build([inner.descriptor()] * 2)
            reg.add(inner)
        reg.add(inner, "wide")
        result = image_copy(reg.at("wide"), reg.at("wide", "dst"))
        assert len(result.manifests) == 31
        assert result.manifests[0] == reg.image.digest and result.manifests[-1] == inner.digest


def test_index_fanning_out_past_the_manifest_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from support.hostile_registry import HostileRegistry

    import hoist.copy

    monkeypatch.setattr(hoist.copy, "MAX_MANIFESTS", 20)
    with HostileRegistry() as reg:
        children = []
        for i in range(25):
            child = Index.build([reg.image.descriptor()], annotations={"n": str(i)})
            reg.add(child)
            children.append(child.descriptor())
        reg.add(Index.build(children), "fan")
        with pytest.raises(InvalidInput, match="more than 20 manifests under one image"):
            image_copy(reg.at("fan"), reg.at("fan", "dst"))
        assert reg.count("PUT", "/v2/dst/manifests/fan") == 0


def _spy(store: Any) -> list[str]:
    """``METHOD path`` of every request ``store`` sends from now on (query strings cut)."""
    calls: list[str] = []
    request = store.transport.request

    def spy(method: str, host: str, path: str, **kw: Any) -> Any:
        calls.append(f"{method} {path.split('?')[0].split(host, 1)[-1]}")
        return request(method, host, path, **kw)

    store.transport.request = spy
    return calls


def test_cold_copy_asks_about_each_blob_once(
    sample: SampleImage,
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    registry_store: Any,
    repo_name: str,
) -> None:
    """One existence check per blob at the destination (it used to be two: the copy's HEAD
    and blob_put's), then one session and one PUT each; the manifests last."""
    reg1, reg2 = registry_store(registry_anon), registry_store(registry_anon2)
    src = Reference(registry_anon.host, repo_name, "v1")
    write_image(reg1, src, sample)
    calls = _spy(reg2)
    dst = Reference(registry_anon2.host, repo_name, "v1")
    result = image_copy(Location(reg1, src), Location(reg2, dst))
    assert set(result.copied) == set(sample.blobs)
    blob_heads = sorted(c for c in calls if c.startswith("HEAD") and "/blobs/" in c)
    assert blob_heads == sorted(f"HEAD /v2/{repo_name}/blobs/{d}" for d in sample.blobs)
    assert sum(c.startswith("POST") for c in calls) == len(sample.blobs)
    assert sum(c.startswith("PUT") and "/blobs/uploads/" in c for c in calls) == len(sample.blobs)
    manifests = [c for c in calls if c.startswith("PUT") and "/manifests/" in c]
    assert manifests[-1] == f"PUT /v2/{repo_name}/manifests/v1"
    assert len(manifests) == len(sample.children) + 1
    assert calls[0] == f"HEAD /v2/{repo_name}/manifests/v1"
    assert len(calls) == 1 + 3 * len(sample.blobs) + len(sample.children) + 1
    assert _raw_at(dst) == sample.top.raw


def test_repo_copy_sends_each_shared_digest_once(
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    registry_store: Any,
    repo_name: str,
) -> None:
    """Five tags naming two indexes that share two platforms' images: every blob and child
    manifest crosses once, every tag is put; a second run is one HEAD per tag."""
    from hoist.copy import repo_copy

    two = base_image(PLATFORMS[:2])
    three = base_image(PLATFORMS)  # the same images for the first two platforms, and one more
    assert {c.digest for c in two.children} < {c.digest for c in three.children}
    reg1, reg2 = registry_store(registry_anon), registry_store(registry_anon2)
    src = Reference(registry_anon.host, repo_name, "t1")
    write_image(reg1, src, two)
    write_image(reg1, src.with_tag("t4"), three)
    for tag, image in (("t2", two), ("t3", two), ("t5", three)):
        reg1.manifest_put(src.with_tag(tag), image.top)
    tags = ["t1", "t2", "t3", "t4", "t5"]
    calls = _spy(reg2)
    dst = Reference(registry_anon2.host, repo_name, "t1")
    result = repo_copy(Location(reg1, src), Location(reg2, dst), tags)
    blobs = set(two.blobs) | set(three.blobs)
    assert sorted(result.copied) == sorted(blobs) and result.up_to_date == []
    assert sum(c.startswith("PUT") and "/blobs/uploads/" in c for c in calls) == len(blobs)
    children = {c.digest for c in three.children}
    by_digest = [c for c in calls if c.startswith("PUT") and "/manifests/sha256:" in c]
    assert sorted(by_digest) == sorted(f"PUT /v2/{repo_name}/manifests/{d}" for d in children)
    by_tag = sorted(c for c in calls if c.startswith("PUT") and "/manifests/t" in c)
    assert by_tag == [f"PUT /v2/{repo_name}/manifests/{t}" for t in tags]
    for tag, image in (("t1", two), ("t3", two), ("t5", three)):
        assert result.tags[tag].digest == image.top.digest
        assert _raw_at(dst.with_tag(tag)) == image.top.raw
    calls.clear()
    again = repo_copy(Location(reg1, src), Location(reg2, dst), tags)
    assert again.up_to_date == tags and again.copied == []
    assert sorted(calls) == [f"HEAD /v2/{repo_name}/manifests/{t}" for t in tags]


def test_copy_into_a_layout_syncs_once_then_writes_its_index(
    sample: SampleImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No fsync per blob into a layout: one sync of the filesystem at the end of the copy,
    then index.json, once."""
    import hoist.store.ocidir as ocidir

    store = OCIDirStore()
    src = _layout(tmp_path, "src")
    write_image(store, src, sample)
    events: list[str] = []
    blob_fsyncs: list[str] = []
    fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if "/dst/blobs/" in target:
            blob_fsyncs.append(target)
        fsync(fd)

    write_index = OCIDirStore._write_index

    def counting_write_index(self: OCIDirStore, root: Path, obj: Any) -> None:
        events.append(f"index {Path(root).name}")
        write_index(self, root, obj)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    monkeypatch.setattr(ocidir, "sync_filesystem", lambda path: events.append("sync"))
    monkeypatch.setattr(OCIDirStore, "_write_index", counting_write_index)
    dst = _layout(tmp_path, "dst")
    result = image_copy(Location(store, src), Location(store, dst))
    assert len(result.copied) == len(sample.blobs)
    assert blob_fsyncs == []
    assert events == ["sync", "index dst"]
    assert store.manifest_get(dst).raw == sample.top.raw
    assert _raw_at(dst) == sample.top.raw
