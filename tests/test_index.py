"""``hoist index`` against distribution 2.8, ``hoist serve`` and OCI layouts, checked with skopeo.

Every image the indexes hold comes from a separate OCI layout (``sources``), so creating an
index also has to copy the children into the destination: skopeo copying the whole index
(``copy --all``) is the check that nothing is missing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.skopeo import skopeo, skopeo_raw
from support.where import TARGETS, Where, make_where

from hoist.client import Client
from hoist.errors import InvalidInput, UnsupportedMediaType
from hoist.index import index_add, index_create, index_remove, same_location
from hoist.model import mediatype as mt
from hoist.model.manifest import Index
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference, parse_reference
from hoist.server.run import ServerThread
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import SampleImage, app_image, base_image, write_image

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")


# ----------------------------------------------------------------------------- where to write


@pytest.fixture(scope="module")
def hoist_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """``hoist serve`` in a thread: a registry with the referrers API."""
    with ServerThread(tmp_path_factory.mktemp("hoist-serve"), fsync=False) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private Docker and hoist config files for the CLI and Client() under test."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "hoist.json"))
    return tmp_path


@pytest.fixture(params=TARGETS)
def where(
    request: pytest.FixtureRequest, env: Path, tmp_path: Path, capsysbinary: Any, repo_name: str
) -> Where:
    return make_where(request, request.param, tmp_path, capsysbinary, repo_name)


# ----------------------------------------------------------------------------- source images


@dataclass(frozen=True)
class Sources:
    """A layout holding the images indexes are made of; ``digests`` by tag."""

    base: str
    digests: dict[str, str]

    def at(self, tag: str) -> str:
        return f"{self.base}:{tag}"


def _single(image: SampleImage, child: int) -> SampleImage:
    return SampleImage(image.blobs, [], image.children[child])


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    """OCI images ``amd64``/``arm64``, an OCI index ``base``, Docker images ``d-amd64``/
    ``d-arm64``, and ``odd``: an index whose amd64 entry claims ``linux/amd64/v3``."""
    root = tmp_path_factory.mktemp("index-sources") / "layout"
    ref = LayoutReference("ocidir", str(root))
    store = OCIDirStore(fsync=False)
    oci = base_image([AMD64, ARM64])
    docker = base_image([AMD64, ARM64], docker=True)
    images = {
        "amd64": app_image(oci, AMD64),
        "arm64": app_image(oci, ARM64),
        "base": oci,
        "d-amd64": _single(docker, 0),
        "d-arm64": _single(docker, 1),
    }
    assert isinstance(oci.top, Index)
    odd = [oci.top.manifests[0].replace(platform=Platform("linux", "amd64", "v3"))]
    images["odd"] = SampleImage(oci.blobs, oci.children[:1], Index.build(odd))
    digests = {}
    for tag, image in images.items():
        digests[tag] = str(write_image(store, ref.with_tag(tag), image).digest)
    return Sources(f"ocidir://{root}", digests)


def _create(cap: Any, where: Where, tag: str, *args: str) -> str:
    code, out, err = run(cap, "index", "create", where.at(tag), *args)
    assert code == 0, err
    return out.decode().strip()


def _checked_raw(where: Where, tag: str, digest: str, tmp_path: Path) -> dict[str, Any]:
    """The index as skopeo reads it: the digest hoist printed, and complete (copy --all)."""
    raw = skopeo_raw(where.skopeo(tag))
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    skopeo("copy", "--all", where.skopeo(tag), f"oci:{tmp_path}/check-{tag}:{tag}")
    data: dict[str, Any] = json.loads(raw)
    return data


# ----------------------------------------------------------------------------- create


def test_create_from_images_is_what_skopeo_reads(
    where: Where, sources: Sources, capsysbinary: Any, tmp_path: Path
) -> None:
    digest = _create(
        capsysbinary,
        where,
        "multi",
        "--ref",
        sources.at("amd64"),
        "--ref",
        sources.at("arm64"),
        "--annotation",
        "org.opencontainers.image.version=1.0",
    )
    index = _checked_raw(where, "multi", digest, tmp_path)
    assert index["mediaType"] == mt.OCI_INDEX
    assert index["annotations"] == {"org.opencontainers.image.version": "1.0"}
    assert [m["digest"] for m in index["manifests"]] == [
        sources.digests["amd64"],
        sources.digests["arm64"],
    ]
    assert [m["platform"] for m in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    code, out, _ = run(capsysbinary, "image", "digest", where.at("multi"))
    assert (code, out.decode().strip()) == (0, digest)


def test_index_ref_gives_descriptor_platforms_unless_from_config(
    where: Where, sources: Sources, capsysbinary: Any, tmp_path: Path
) -> None:
    digest = _create(capsysbinary, where, "odd", "--ref", sources.at("odd"))
    index = _checked_raw(where, "odd", digest, tmp_path)
    assert index["manifests"][0]["platform"]["variant"] == "v3"
    digest = _create(
        capsysbinary, where, "fixed", "--ref", sources.at("odd"), "--platform-from-config"
    )
    index = _checked_raw(where, "fixed", digest, tmp_path)
    assert index["manifests"][0]["platform"] == {"architecture": "amd64", "os": "linux"}
    # an index ref contributes every child, with the descriptor as the source index has it
    digest = _create(capsysbinary, where, "again", "--ref", sources.at("base"))
    code, raw, _ = run(capsysbinary, "manifest", "get", sources.at("base"), "--format", "raw")
    assert code == 0
    assert (
        _checked_raw(where, "again", digest, tmp_path)["manifests"]
        == (json.loads(raw)["manifests"])
    )


def test_add_then_remove_gives_back_the_same_index(
    where: Where, sources: Sources, capsysbinary: Any, tmp_path: Path
) -> None:
    first = _create(capsysbinary, where, "multi", "--ref", sources.at("amd64"))
    code, out, err = run(
        capsysbinary, "index", "add", where.at("multi"), "--ref", sources.at("arm64")
    )
    assert code == 0, err
    both = _checked_raw(where, "multi", out.decode().strip(), tmp_path)
    assert [m["platform"]["architecture"] for m in both["manifests"]] == ["amd64", "arm64"]

    code, out, err = run(
        capsysbinary, "index", "remove", where.at("multi"), "--platform", "linux/arm64"
    )
    assert code == 0, err
    assert out.decode().strip() == first  # the same bytes as before the add
    _checked_raw(where, "multi", first, tmp_path)

    code, out, err = run(
        capsysbinary, "index", "remove", where.at("multi"), "--digest", sources.digests["amd64"]
    )
    assert code == 0, err
    empty = _checked_raw(where, "multi", out.decode().strip(), tmp_path)
    assert empty["manifests"] == []


def test_add_replaces_the_manifest_of_a_platform(
    where: Where, sources: Sources, capsysbinary: Any, tmp_path: Path
) -> None:
    _create(
        capsysbinary, where, "multi", "--ref", sources.at("amd64"), "--ref", sources.at("arm64")
    )
    code, out, err = run(
        capsysbinary, "index", "add", where.at("multi"), "--ref", sources.at("odd")
    )
    assert code == 0, err
    index = _checked_raw(where, "multi", out.decode().strip(), tmp_path)
    assert len(index["manifests"]) == 3  # linux/amd64/v3 is a platform of its own
    code, out, err = run(
        capsysbinary, "index", "add", where.at("multi"), "--ref", sources.at("base")
    )
    assert code == 0, err
    index = _checked_raw(where, "multi", out.decode().strip(), tmp_path)
    code, raw, _ = run(capsysbinary, "manifest", "get", sources.at("base"), "--format", "raw")
    base = json.loads(raw)["manifests"]
    # base's amd64 and arm64 replace the app images in place; the v3 entry is base's amd64
    # manifest under another platform, so it goes too: one entry per digest
    assert [m["digest"] for m in index["manifests"]] == [base[0]["digest"], base[1]["digest"]]
    assert [m["platform"] for m in index["manifests"]] == [base[0]["platform"], base[1]["platform"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["remove", "{multi}", "--platform", "linux/s390x"], "no child with platform linux/s390x"),
        (["remove", "{multi}", "--digest", "sha256:" + "0" * 64], "it holds: linux/amd64 sha256:"),
        (["add", "{multi}", "--ref", "{src}:amd64", "--ref", "{src}:nope"], "tag 'nope' not found"),
        (["create", "{new}", "--ref", "{src}:amd64", "--ref", "{src}:base"], "two manifests for"),
        (["remove", "{multi}"], "exactly one of --platform or --digest"),
    ],
    ids=["platform", "digest", "missing-ref", "platform-twice", "usage"],
)
def test_errors(
    where: Where, sources: Sources, capsysbinary: Any, args: list[str], message: str
) -> None:
    first = _create(capsysbinary, where, "multi", "--ref", sources.at("amd64"))
    values = {"{multi}": where.at("multi"), "{new}": where.at("new"), "{src}": sources.base}
    for key, value in values.items():
        args = [a.replace(key, value) for a in args]
    code, _, err = run(capsysbinary, "index", *args)
    assert code in (1, 2) and message in err, err
    assert "Traceback" not in err
    code, out, _ = run(capsysbinary, "image", "digest", where.at("multi"))
    assert out.decode().strip() == first  # nothing changed
    assert run(capsysbinary, "manifest", "head", where.at("new"))[0] == 1


# ----------------------------------------------------------------------------- Docker lists


def test_docker_list_of_docker_manifests(
    where: Where, sources: Sources, capsysbinary: Any, tmp_path: Path
) -> None:
    refs = ["--ref", sources.at("d-amd64"), "--ref", sources.at("d-arm64")]
    digest = _create(capsysbinary, where, "list", "--docker", *refs)
    if where.is_registry:  # skopeo 1.9 reads no Docker lists from OCI layouts
        index = _checked_raw(where, "list", digest, tmp_path)
    else:
        _, raw, _ = run(capsysbinary, "manifest", "get", where.at("list"), "--format", "raw")
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
        index = json.loads(raw)
    assert index["mediaType"] == mt.DOCKER_MANIFEST_LIST
    assert {m["mediaType"] for m in index["manifests"]} == {mt.DOCKER_MANIFEST}
    assert [m["digest"] for m in index["manifests"]] == [
        sources.digests["d-amd64"],
        sources.digests["d-arm64"],
    ]
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    # an OCI image does not go into a Docker list, neither at creation nor later
    code, _, err = run(capsysbinary, "index", "add", where.at("list"), "--ref", sources.at("amd64"))
    assert code == 1
    assert "a Docker manifest list may only hold Docker schema2 manifests" in err
    assert sources.digests["amd64"] in err and mt.OCI_MANIFEST in err
    assert run(capsysbinary, "image", "digest", where.at("list"))[1].decode().strip() == digest


@pytest.mark.parametrize(
    "refs",
    [["d-amd64", "amd64"], ["base"]],
    ids=["oci-image", "oci-index"],
)
def test_docker_list_refuses_oci_children(
    where: Where, sources: Sources, capsysbinary: Any, refs: list[str]
) -> None:
    args = [a for r in refs for a in ("--ref", sources.at(r))]
    code, out, err = run(capsysbinary, "index", "create", where.at("list"), "--docker", *args)
    assert (code, out) == (1, b"")
    assert err.startswith("error: a Docker manifest list may only hold Docker schema2 manifests")
    assert "without --docker" in err and len(err.strip().splitlines()) == 1
    assert run(capsysbinary, "manifest", "head", where.at("list"))[0] == 1


def test_docker_list_has_no_annotations(where: Where, sources: Sources, capsysbinary: Any) -> None:
    code, _, err = run(
        capsysbinary,
        "index",
        "create",
        where.at("list"),
        "--docker",
        "--ref",
        sources.at("d-amd64"),
        "--annotation",
        "a=b",
    )
    assert code == 1 and "no annotations" in err


# ----------------------------------------------------------------------------- library


def test_children_from_another_repository_are_copied(
    where: Where, sources: Sources, capsysbinary: Any, tmp_path: Path
) -> None:
    """A child in another repository (same registry: mounted) or layout lands in the target."""
    other = where.base + "-other" if where.is_registry else f"ocidir://{tmp_path}/other"
    with Client() as client:
        first = index_create(client.at(f"{other}:v1"), [client.at(sources.at("amd64"))])
        assert client.at(f"{other}:v1").manifest_head().digest == first.digest
        made = index_create(
            client.at(where.at("multi")),
            [client.at(f"{other}:v1"), client.at(sources.at("arm64"))],
        )
        assert made.media_type == mt.OCI_INDEX
        assert [str(d.digest) for d in made.manifests] == [
            str(first.manifests[0].digest),
            sources.digests["arm64"],
        ]
        dst = client.at(where.at("multi"))
        assert dst.manifest_head().digest == made.digest
        # children in the target's own repository are used where they are
        again = index_create(client.at(where.at("self")), [dst])
        assert again.manifests == made.manifests
        added = index_add(dst, [client.at(sources.at("odd"))], annotations={"k": "v"})
        assert added.annotations == {"k": "v"} and len(added.manifests) == 3
        removed = index_remove(dst, platform=Platform.parse("linux/amd64"))
        # linux/amd64 matches amd64 and not amd64/v3 (explicit variants differ)
        assert [str(d.platform) for d in removed.manifests] == ["linux/arm64/v8", "linux/amd64/v3"]
    _checked_raw(where, "multi", str(removed.digest), tmp_path)


def test_library_refusals(sources: Sources, tmp_path: Path) -> None:
    with Client() as client:
        target = client.at(f"ocidir://{tmp_path}/layout:x")
        amd64, arm64 = client.at(sources.at("amd64")), client.at(sources.at("arm64"))
        with pytest.raises(UnsupportedMediaType, match="Docker schema2"):
            index_create(target, [amd64], docker=True)
        with pytest.raises(InvalidInput, match="at least one"):
            index_create(target, [])
        made = index_create(target, [amd64])
        with pytest.raises(InvalidInput, match="exactly one"):
            index_remove(target)
        with pytest.raises(UnsupportedMediaType, match="not an index"):
            index_add(amd64, [arm64])
        # a layout reference without a tag edits the layout's only tag
        added = index_add(client.at(f"ocidir://{tmp_path}/layout"), [arm64])
        assert added.manifests[0] == made.manifests[0] and len(added.manifests) == 2
        assert OCIDirStore().tag_list(LayoutReference("ocidir", f"{tmp_path}/layout")) == ["x"]


def test_same_location() -> None:
    assert same_location(parse_reference("r.io/a:1"), parse_reference("r.io/a@sha256:" + "1" * 64))
    assert not same_location(parse_reference("r.io/a:1"), parse_reference("r.io/b:1"))
    assert not same_location(parse_reference("r.io/a:1"), parse_reference("q.io/a:1"))
    assert same_location(parse_reference("ocidir:///x/y:1"), parse_reference("ocidir:///x/../x/y"))
    assert not same_location(parse_reference("ocidir:///x/y:1"), parse_reference("r.io/a:1"))
