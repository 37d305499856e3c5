"""Interoperability: skopeo pushes to and pulls from ``hoist serve``, digests preserved.

Images come from :mod:`hoist.testing.sample`, written to OCI layouts with hoist's own store, then
copied by skopeo (containers/image) into the registry and back out. Every manifest must come
back byte for byte, so its digest is the one it was pushed with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.oci_http import Http
from support.registry_fixtures import htpasswd_line, unique_repo_name
from support.skopeo import SkopeoError, skopeo, skopeo_raw

from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference
from hoist.server.run import ServerThread
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import SampleImage, app_image, base_image, write_image

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(tmp_path_factory.mktemp("hoist-skopeo")) as srv:
        yield srv


def layout(path: Path, image: SampleImage, tag: str = "v1") -> str:
    """Write ``image`` to an OCI layout at ``path``; skopeo's ``oci:PATH:TAG``."""
    store = OCIDirStore()
    try:
        write_image(store, LayoutReference("ocidir", str(path), tag), image)
    finally:
        store.close()
    return f"oci:{path}:{tag}"


def layout_manifest(path: Path, tag: str) -> bytes:
    """The bytes of the manifest tagged ``tag`` in the OCI layout at ``path``."""
    index = json.loads((path / "index.json").read_bytes())
    (entry,) = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    alg, hexpart = str(entry["digest"]).split(":")
    return (path / "blobs" / alg / hexpart).read_bytes()


def push_raw(http: Http, repo: str, image: SampleImage, tag: str) -> None:
    """Push ``image`` with plain HTTP (for what skopeo cannot read from a layout)."""
    for digest, blob in image.blobs.items():
        r = http.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", body=blob)
        assert r.status == 201, r.body
    for child in image.children:
        r = http.request(
            "PUT",
            f"/v2/{repo}/manifests/{child.digest}",
            body=child.raw,
            headers={"Content-Type": child.media_type},
        )
        assert r.status == 201, r.body
    r = http.request(
        "PUT",
        f"/v2/{repo}/manifests/{tag}",
        body=image.top.raw,
        headers={"Content-Type": image.top.media_type},
    )
    assert r.status == 201, r.body


def test_single_image_in_and_out(server: ServerThread, tmp_path: Path) -> None:
    image = app_image(base_image([AMD64]), AMD64)
    repo = unique_repo_name("skopeo-single")
    dest = f"docker://{server.host}/{repo}:v1"
    skopeo("copy", layout(tmp_path / "src", image), dest)
    assert skopeo_raw(dest) == image.top.raw
    skopeo("copy", dest, f"oci:{tmp_path / 'out'}:v1")
    assert layout_manifest(tmp_path / "out", "v1") == image.top.raw
    for digest, blob in image.blobs.items():
        assert (tmp_path / "out" / "blobs" / digest.algorithm / digest.hex).read_bytes() == blob


def test_oci_index_all_platforms(server: ServerThread, tmp_path: Path) -> None:
    image = base_image([AMD64, ARM64])
    repo = unique_repo_name("skopeo-index")
    dest = f"docker://{server.host}/{repo}:v1"
    skopeo("copy", "--all", layout(tmp_path / "src", image), dest)
    assert skopeo_raw(dest) == image.top.raw
    for child in image.children:
        assert skopeo_raw(f"docker://{server.host}/{repo}@{child.digest}") == child.raw
    skopeo("copy", "--all", dest, f"oci:{tmp_path / 'out'}:v1")
    assert layout_manifest(tmp_path / "out", "v1") == image.top.raw
    for child in image.children:
        path = tmp_path / "out" / "blobs" / "sha256" / child.digest.hex
        assert path.read_bytes() == child.raw


def test_docker_manifest_list(server: ServerThread, tmp_path: Path) -> None:
    image = base_image([AMD64, ARM64], docker=True)
    source, copy = unique_repo_name("skopeo-list"), unique_repo_name("skopeo-list-copy")
    push_raw(Http(server.url), source, image, "v1")
    src, dest = f"docker://{server.host}/{source}:v1", f"docker://{server.host}/{copy}:v1"
    assert skopeo_raw(src) == image.top.raw
    skopeo("copy", "--all", src, dest)  # pulls from and pushes to hoist
    assert skopeo_raw(dest) == image.top.raw
    for child in image.children:
        assert skopeo_raw(f"docker://{server.host}/{copy}@{child.digest}") == child.raw
    skopeo("copy", "--all", dest, f"dir:{tmp_path / 'out'}")
    assert (tmp_path / "out" / "manifest.json").read_bytes() == image.top.raw


def test_skopeo_with_basic_auth_and_anonymous_read(tmp_path: Path) -> None:
    (tmp_path / "htpasswd").write_text(htpasswd_line("alice", "s3cret"))
    image = app_image(base_image([AMD64]), AMD64)
    with ServerThread(
        tmp_path / "root", htpasswd=tmp_path / "htpasswd", anonymous_read=True
    ) as srv:
        dest = f"docker://{srv.host}/auth/app:v1"
        src = layout(tmp_path / "src", image)
        with pytest.raises(SkopeoError):
            skopeo("copy", src, dest)
        with pytest.raises(SkopeoError):
            skopeo("copy", src, dest, creds="alice:wrong")
        skopeo("copy", src, dest, creds="alice:s3cret")
        assert skopeo_raw(dest) == image.top.raw  # anonymous read
        assert skopeo_raw(dest, creds="alice:s3cret") == image.top.raw
