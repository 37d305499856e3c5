"""``hoist artifact`` against distribution 2.8 (referrers tag fallback), ``hoist serve``
(referrers API) and OCI layouts (referrers from index.json), checked with skopeo."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.registry_fixtures import http_get
from support.skopeo import skopeo, skopeo_raw
from support.where import TARGETS, Where, make_where

from hoist.artifact import (
    ANNOTATION_TITLE,
    ArtifactFile,
    artifact_get,
    artifact_list,
    artifact_put,
    artifact_tree,
    has_explicit_tag,
    safe_title,
)
from hoist.client import Client
from hoist.errors import DigestMismatch, InvalidInput, UnsafeLayer
from hoist.location import Location
from hoist.model import mediatype as mt
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Descriptor
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest
from hoist.model.platform import Platform
from hoist.model.reference import parse_reference
from hoist.server.run import ServerThread
from hoist.testing.sample import app_image, base_image, write_image

SBOM = "application/vnd.example.sbom.v1"
SIG = "application/vnd.example.signature.v1"
CREATED = "org.opencontainers.image.created"


@pytest.fixture(scope="module")
def hoist_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """``hoist serve`` in a thread: a registry with the referrers API."""
    with ServerThread(tmp_path_factory.mktemp("hoist-serve"), fsync=False) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "hoist.json"))
    return tmp_path


@pytest.fixture(params=TARGETS)
def where(
    request: pytest.FixtureRequest, env: Path, tmp_path: Path, capsysbinary: Any, repo_name: str
) -> Where:
    """A repository (or layout) holding a subject image tagged ``v1``."""
    place = make_where(request, request.param, tmp_path, capsysbinary, repo_name)
    amd64 = Platform("linux", "amd64")
    with Client() as client:
        ref = parse_reference(place.at("v1"))
        write_image(client.store(ref), ref, app_image(base_image([amd64]), amd64))
    return place


@pytest.fixture
def files(tmp_path: Path) -> dict[str, bytes]:
    """Files to push: JSON, 3 MB of incompressible bytes, an empty file."""
    contents = {
        "sbom.json": b'{"spdxVersion": "SPDX-2.3", "name": "app"}\n',
        "blob.bin": os.urandom(3 * 1024 * 1024),
        "empty.txt": b"",
    }
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    return contents


def _in(tmp_path: Path, name: str) -> str:
    return str(tmp_path / "in" / name)


def _put(cap: Any, ref: str, *args: str) -> str:
    code, out, err = run(cap, "artifact", "put", ref, *args)
    assert code == 0, err
    return out.decode().strip()


def _head(cap: Any, ref: str) -> dict[str, Any]:
    code, out, err = run(cap, "manifest", "head", ref, "--format", "json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def _raw(cap: Any, where: Where, digest: str) -> bytes:
    """The manifest as hoist reads it, equal to what skopeo (registries) or the layout holds."""
    code, raw, err = run(cap, "manifest", "get", where.by_digest(digest), "--format", "raw")
    assert code == 0, err
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    if where.is_registry:
        assert skopeo_raw(f"{where.skopeo_base}@{digest}") == raw
    else:
        hexpart = digest.split(":")[1]
        layout = where.base.removeprefix("ocidir://")
        assert (Path(layout) / "blobs" / "sha256" / hexpart).read_bytes() == raw
    return raw


# ----------------------------------------------------------------------------- put and get


def test_put_get_round_trip(
    where: Where, files: dict[str, bytes], capsysbinary: Any, tmp_path: Path
) -> None:
    subject = _head(capsysbinary, where.at("v1"))
    digest = _put(
        capsysbinary,
        where.base,  # no tag: pushed by digest, found through the subject
        "--subject",
        where.at("v1"),
        "--artifact-type",
        SBOM,
        "-f",
        _in(tmp_path, "sbom.json") + ":application/spdx+json",
        "-f",
        _in(tmp_path, "blob.bin"),
        "-f",
        _in(tmp_path, "empty.txt") + ":text/plain",
        "--annotation",
        f"{CREATED}=2024-01-01T00:00:00Z",
    )
    manifest = json.loads(_raw(capsysbinary, where, digest))
    assert manifest["mediaType"] == mt.OCI_MANIFEST
    assert manifest["artifactType"] == SBOM
    assert manifest["config"]["mediaType"] == mt.OCI_EMPTY
    assert manifest["config"]["digest"] == str(EMPTY_DESCRIPTOR.digest)
    assert manifest["config"]["size"] == 2
    assert manifest["subject"] == subject  # mediaType, digest and size only
    assert manifest["annotations"] == {CREATED: "2024-01-01T00:00:00Z"}
    assert [
        (x["mediaType"], x["annotations"][ANNOTATION_TITLE], x["size"]) for x in manifest["layers"]
    ] == [
        ("application/spdx+json", "sbom.json", len(files["sbom.json"])),
        ("application/octet-stream", "blob.bin", len(files["blob.bin"])),
        ("text/plain", "empty.txt", 0),
    ]
    assert "latest" not in run(capsysbinary, "tag", "ls", where.base)[1].decode().split()

    out_dir = tmp_path / "out"
    code, out, err = run(
        capsysbinary, "artifact", "get", where.by_digest(digest), "-o", str(out_dir)
    )
    assert code == 0, err
    assert out.decode().split() == [str(out_dir / name) for name in files]
    for name, data in files.items():
        assert (out_dir / name).read_bytes() == data
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(files)

    if where.is_registry:  # skopeo copies the artifact blob for blob
        skopeo("copy", f"{where.skopeo_base}@{digest}", f"dir:{tmp_path}/skopeo")
        for layer in manifest["layers"]:
            blob = tmp_path / "skopeo" / layer["digest"].split(":")[1]
            assert blob.read_bytes() == files[layer["annotations"][ANNOTATION_TITLE]]


def test_put_by_tag_without_subject(
    where: Where, files: dict[str, bytes], capsysbinary: Any, tmp_path: Path
) -> None:
    digest = _put(
        capsysbinary,
        where.at("data"),
        "-t",
        "application/vnd.example.data.v1",
        "-f",
        _in(tmp_path, "blob.bin"),
    )
    raw = skopeo_raw(where.skopeo("data"))  # layouts too: by tag
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    assert "subject" not in json.loads(raw)
    artifact_dir = tmp_path / "got"
    assert run(capsysbinary, "artifact", "get", where.at("data"), "-o", str(artifact_dir))[0] == 0
    assert (artifact_dir / "blob.bin").read_bytes() == files["blob.bin"]


def test_config_file_and_no_files(where: Where, capsysbinary: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_bytes(b'{"tool": "hoist"}')
    digest = _put(
        capsysbinary,
        where.at("cfg"),
        "-t",
        "application/vnd.example.thing.v1",
        "--config",
        f"{config}:application/vnd.example.thing.config.v1+json",
    )
    manifest = json.loads(_raw(capsysbinary, where, digest))
    assert manifest["config"] == {
        "mediaType": "application/vnd.example.thing.config.v1+json",
        "digest": "sha256:" + hashlib.sha256(config.read_bytes()).hexdigest(),
        "size": len(config.read_bytes()),
    }
    # no payload: the single layer is the empty descriptor, as the spec suggests
    assert manifest["layers"] == [EMPTY_DESCRIPTOR.to_dict()]
    code, out, _ = run(capsysbinary, "artifact", "get", where.at("cfg"), "-o", str(tmp_path / "o"))
    assert (code, out) == (0, b"")
    code, blob, _ = run(capsysbinary, "blob", "get", where.at("cfg"), manifest["config"]["digest"])
    assert blob == config.read_bytes()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["{base}", "-t", SBOM, "-f", "{sbom}"], 1, "neither subject nor tag"),
        (["{base}:x", "-t", "not-a-type", "-f", "{sbom}"], 1, "invalid artifact type"),
        (["{base}:x", "-t", SBOM, "-f", "{sbom}:text/plain", "-f", "{sbom}"], 1, "same title"),
        (["{base}:x", "-t", SBOM, "-f", "/nonexistent/file"], 2, "is not a file"),
        (["{base}:x", "-t", SBOM, "-f", "{sbom}:bad type"], 2, "is not a file"),
        (["{base}:x", "-t", SBOM, "--subject", "{base}:absent"], 1, "absent"),
        (["{base}", "--subject", "{other}:v1", "-t", SBOM], 1, "not in"),
        (["{base}:x", "-f", "{sbom}"], 2, "Missing option"),
    ],
    ids=["untagged", "type", "titles", "file", "media-type", "subject", "elsewhere", "usage"],
)
def test_put_refusals(
    where: Where,
    files: dict[str, bytes],
    capsysbinary: Any,
    tmp_path: Path,
    args: list[str],
    code: int,
    message: str,
) -> None:
    other = where.base + "-other" if where.is_registry else f"ocidir://{tmp_path}/other"
    values = {"{base}": where.base, "{sbom}": _in(tmp_path, "sbom.json"), "{other}": other}
    for key, value in values.items():
        args = [a.replace(key, value) for a in args]
    got, out, err = run(capsysbinary, "artifact", "put", *args)
    assert (got, out) == (code, b""), err
    assert message in err and "Traceback" not in err
    code, out, _ = run(capsysbinary, "artifact", "list", where.at("v1"), "--format", "json")
    assert json.loads(out) == []


# ----------------------------------------------------------------------------- referrers


def _fallback_tag(digest: str) -> str:
    return digest.replace(":", "-")


def test_referrers_list_tree_and_mechanism(
    where: Where, files: dict[str, bytes], capsysbinary: Any, tmp_path: Path
) -> None:
    subject = _head(capsysbinary, where.at("v1"))["digest"]
    sbom = _put(
        capsysbinary,
        where.base,
        "--subject",
        where.at("v1"),
        "-t",
        SBOM,
        "-f",
        _in(tmp_path, "sbom.json"),
        "--annotation",
        f"{CREATED}=2024-01-01T00:00:00Z",
    )
    sig = _put(capsysbinary, where.base, "--subject", subject, "-t", SIG)  # a bare digest works
    sig_of_sbom = _put(capsysbinary, where.base, "--subject", sbom, "-t", SIG)

    code, out, err = run(capsysbinary, "artifact", "list", where.at("v1"), "--format", "json")
    assert code == 0, err
    listed = json.loads(out)
    assert [(d["artifactType"], d["digest"]) for d in listed] == [(SBOM, sbom), (SIG, sig)]
    assert listed[0]["annotations"] == {CREATED: "2024-01-01T00:00:00Z"}
    assert {d["mediaType"] for d in listed} == {mt.OCI_MANIFEST}
    code, out, _ = run(
        capsysbinary, "artifact", "list", where.at("v1"), "--artifact-type", SIG, "--format", "json"
    )
    assert [d["digest"] for d in json.loads(out)] == [sig]
    code, out, _ = run(capsysbinary, "artifact", "list", where.at("v1"))
    text = out.decode()
    assert text.splitlines()[0].split() == ["ARTIFACT", "TYPE", "DIGEST", "SIZE", "CREATED"]
    assert sbom in text and sig in text and "2024-01-01T00:00:00Z" in text

    code, out, err = run(capsysbinary, "artifact", "tree", where.at("v1"), "--format", "json")
    assert code == 0, err
    tree = json.loads(out)
    assert tree["digest"] == subject
    assert [r["digest"] for r in tree["referrers"]] == [sbom, sig]
    assert [r["digest"] for r in tree["referrers"][0]["referrers"]] == [sig_of_sbom]
    assert tree["referrers"][1]["referrers"] == []
    code, out, _ = run(capsysbinary, "artifact", "tree", where.at("v1"))
    lines = out.decode().splitlines()
    assert lines[0].startswith(f"{where.at('v1')}  {subject}")
    assert lines[1].startswith(f"├── {sbom}  {SBOM}")
    assert lines[2].startswith(f"│   └── {sig_of_sbom}  {SIG}")
    assert lines[3].startswith(f"└── {sig}  {SIG}")

    _check_mechanism(where, capsysbinary, subject, {sbom, sig})


def _check_mechanism(where: Where, cap: Any, subject: str, expected: set[str]) -> None:
    """Where the referrers came from: the API, the fallback tag, or index.json."""
    tags = run(cap, "tag", "ls", where.base)[1].decode().split()
    api = (
        http_get(
            f"{where.url}/v2/{where.repository}/referrers/{subject}",
            {"Accept": mt.OCI_INDEX},
        )
        if where.is_registry
        else None
    )
    if where.kind == "hoist-serve":
        assert api is not None and api[0] == 200
        assert {m["digest"] for m in json.loads(api[2])["manifests"]} == expected
        assert _fallback_tag(subject) not in tags  # no fallback tag when the API exists
    elif where.kind == "distribution":
        assert api is not None and api[0] == 404  # no referrers API in distribution 2.8
        fallback = json.loads(skopeo_raw(where.skopeo(_fallback_tag(subject))))
        assert fallback["mediaType"] == mt.OCI_INDEX
        assert {m["digest"] for m in fallback["manifests"]} == expected
        assert {m["artifactType"] for m in fallback["manifests"]} == {SBOM, SIG}
    else:
        layout = Path(where.base.removeprefix("ocidir://"))
        entries = json.loads((layout / "index.json").read_bytes())["manifests"]
        assert expected <= {e["digest"] for e in entries}


def test_library_api(where: Where, files: dict[str, bytes], tmp_path: Path) -> None:
    with Client() as client:
        v1 = client.at(where.at("v1"))
        manifest = artifact_put(
            client.at(where.at("ignored")),
            [ArtifactFile(tmp_path / "in" / "sbom.json", "application/spdx+json", title="s.json")],
            artifact_type=SBOM,
            subject=v1,
            tag=False,
        )
        assert manifest.subject is not None
        assert manifest.layers[0].annotations == {ANNOTATION_TITLE: "s.json"}
        found = artifact_list(v1)
        assert [d.digest for d in found] == [manifest.digest]
        assert found[0].artifact_type == SBOM
        assert artifact_list(v1, artifact_type=SIG) == []
        paths = artifact_get(client.at(where.by_digest(str(manifest.digest))), tmp_path / "lib")
        assert paths == [tmp_path / "lib" / "s.json"]
        assert paths[0].read_bytes() == files["sbom.json"]
        tree = artifact_tree(v1)
        assert [n.descriptor.digest for _, n in tree.walk()] == [
            manifest.subject.digest,
            manifest.digest,
        ]
        with pytest.raises(InvalidInput, match="neither subject nor tag"):
            artifact_put(client.at(where.at("x")), [], artifact_type=SBOM, tag=False)


# ----------------------------------------------------------------------------- unsafe content


def _push_titled(where: Where, titles: list[str], tag: str) -> None:
    """An artifact whose layers carry the given titles, written without hoist's checks."""
    with Client() as client:
        ref = parse_reference(where.at(tag))
        store = client.store(ref)
        layers = []
        for i, title in enumerate(titles):
            data = f"content {i}\n".encode()
            store.blob_put(ref, data)
            layers.append(
                Descriptor.of("text/plain", data).replace(annotations={ANNOTATION_TITLE: title})
            )
        store.blob_put(ref, b"{}")
        store.manifest_put(ref, ImageManifest.build(EMPTY_DESCRIPTOR, layers, artifact_type=SBOM))


@pytest.mark.parametrize(
    "title",
    ["../escape.txt", "/etc/evil", "a/../../b", "a\\..\\b", "", "."],
    ids=["dotdot", "absolute", "nested-dotdot", "backslash", "empty", "dot"],
)
def test_get_refuses_unsafe_titles(
    where: Where, capsysbinary: Any, tmp_path: Path, title: str
) -> None:
    _push_titled(where, ["ok.txt", title], "unsafe")
    out_dir = tmp_path / "deep" / "out"
    code, out, err = run(capsysbinary, "artifact", "get", where.at("unsafe"), "-o", str(out_dir))
    if title == "":
        # an empty title is no title: that layer is skipped like the empty layer
        assert code == 0 and out.decode().split() == [str(out_dir / "ok.txt")]
        return
    assert (code, out) == (1, b"")
    assert "unsafe file name" in err
    assert not out_dir.exists() or list(out_dir.iterdir()) == []  # nothing written at all
    assert not (tmp_path / "deep" / "escape.txt").exists()


def test_get_nested_titles_and_symlinks(where: Where, capsysbinary: Any, tmp_path: Path) -> None:
    _push_titled(where, ["docs/readme.txt", "link/x.txt"], "nested")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "link").symlink_to(tmp_path)  # a directory symlink pointing out
    code, _, err = run(capsysbinary, "artifact", "get", where.at("nested"), "-o", str(out_dir))
    assert code == 1 and "outside" in err
    assert not (tmp_path / "x.txt").exists()
    (out_dir / "link").unlink()
    code, _, err = run(capsysbinary, "artifact", "get", where.at("nested"), "-o", str(out_dir))
    assert code == 0, err
    assert (out_dir / "docs" / "readme.txt").read_bytes() == b"content 0\n"


def test_get_verifies_content(capsysbinary: Any, tmp_path: Path, files: dict[str, bytes]) -> None:
    layout = tmp_path / "layout"
    ref = f"ocidir://{layout}:t"
    _put(capsysbinary, ref, "-t", SBOM, "-f", _in(tmp_path, "sbom.json"))
    data = files["sbom.json"]
    blob = layout / "blobs" / "sha256" / hashlib.sha256(data).hexdigest()
    blob.write_bytes(data.replace(b"app", b"bad"))
    out_dir = tmp_path / "out"
    with Client() as client, pytest.raises(DigestMismatch):
        artifact_get(client.at(ref), out_dir)
    assert list(out_dir.iterdir()) == []  # no partial or unverified file left


# ----------------------------------------------------------------------------- pure parts


def test_safe_title() -> None:
    assert str(safe_title("a/b.txt")) == "a/b.txt"
    for bad in ["", "..", "../x", "/x", "a//b", "a/./..", "x\0y", "a\\b", "."]:
        with pytest.raises(UnsafeLayer):
            safe_title(bad)


@pytest.mark.parametrize(
    ("text", "tagged"),
    [
        ("reg.io/app", False),
        ("reg.io/app:latest", True),
        ("reg.io/app:v1", True),
        ("localhost:5000/app", False),  # the port is not a tag
        ("localhost:5000/app:v1", True),
        (f"reg.io/app@sha256:{'a' * 64}", False),
        (f"reg.io/app:v1@sha256:{'a' * 64}", True),
        ("nginx", False),
        ("ocidir://out", False),
        ("ocidir://out:latest", True),
        (f"ocidir://out@sha256:{'a' * 64}", False),
        ("ocidir://dir:x/out/", False),  # ':' before the last '/' is part of the path
    ],
)
def test_has_explicit_tag(text: str, tagged: bool) -> None:
    assert has_explicit_tag(text) is tagged


class _CyclicStore:
    """Referrers that point back at their subject: impossible by hashing, not by forgery."""

    def __init__(self, digests: list[Digest]) -> None:
        self.digests = digests

    def manifest_head(self, ref: Any) -> Descriptor:
        return Descriptor(mt.OCI_MANIFEST, self.digests[0], 10)

    def referrers_list(self, ref: Any, *, artifact_type: str | None = None) -> list[Descriptor]:
        i = self.digests.index(ref.digest)
        nxt = self.digests[(i + 1) % len(self.digests)]
        return [Descriptor(mt.OCI_MANIFEST, nxt, 10, artifact_type=SIG)]


def test_tree_is_cycle_safe() -> None:
    digests = [Digest("sha256", c * 64) for c in "abc"]
    subject = Location(_CyclicStore(digests), parse_reference("r.io/a:v1"))  # type: ignore[arg-type]
    root = artifact_tree(subject)
    assert [(depth, n.descriptor.digest) for depth, n in root.walk()] == [
        (0, digests[0]),
        (1, digests[1]),
        (2, digests[2]),
    ]


def test_token_auth_registry(
    registry_token: Any, env: Path, capsysbinary: Any, repo_name: str, tmp_path: Path
) -> None:
    """Bearer tokens scoped per repository: index create (with a cross-repository mount),
    artifact put, list and get, all through the CLI after ``registry login``."""
    server = registry_token
    assert run(capsysbinary, "registry", "set", server.host, "--tls", "disabled")[0] == 0
    code, _, err = run(
        capsysbinary, "registry", "login", server.host, "-u", server.username, "-p", server.password
    )
    assert code == 0, err
    amd64 = Platform("linux", "amd64")
    repo = f"{server.host}/{repo_name}"
    with Client() as client:
        src = parse_reference(f"{repo}-src:v1")
        write_image(client.store(src), src, app_image(base_image([amd64]), amd64))
    code, out, err = run(capsysbinary, "index", "create", f"{repo}:multi", "--ref", str(src))
    assert code == 0, err
    digest = out.decode().strip()
    assert skopeo_raw(f"docker://{repo}:multi", creds=server.creds) == _raw_of(capsysbinary, repo)
    (tmp_path / "note.txt").write_bytes(b"signed\n")
    sig = _put(
        capsysbinary,
        repo,
        "--subject",
        f"{repo}:multi",
        "-t",
        SIG,
        "-f",
        str(tmp_path / "note.txt"),
    )
    code, out, _ = run(capsysbinary, "artifact", "list", f"{repo}@{digest}", "--format", "json")
    assert [d["digest"] for d in json.loads(out)] == [sig]
    code, out, _ = run(capsysbinary, "artifact", "get", f"{repo}@{sig}", "-o", str(tmp_path / "o"))
    assert code == 0 and (tmp_path / "o" / "note.txt").read_bytes() == b"signed\n"


def _raw_of(cap: Any, repo: str) -> bytes:
    code, raw, err = run(cap, "manifest", "get", f"{repo}:multi", "--format", "raw")
    assert code == 0, err
    return raw
