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
from support import layers
from support.cli import run
from support.registry_fixtures import http_get
from support.skopeo import skopeo, skopeo_raw
from support.where import TARGETS, Where, make_where

from hoist.artifact import (
    ANNOTATION_TITLE,
    AnnotationFile,
    ArtifactFile,
    ReferrerFilter,
    artifact_get,
    artifact_list,
    artifact_put,
    artifact_select,
    artifact_tree,
    has_explicit_tag,
    safe_title,
)
from hoist.client import Client
from hoist.errors import DigestMismatch, InvalidInput, NotFound, UnsafeLayer
from hoist.location import Location
from hoist.model import mediatype as mt
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Annotations, Descriptor
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


# ----------------------------------------------------------------------------- directories

DIR_TYPE = mt.OCI_LAYER_GZIP
UNPACK = "io.deis.oras.content.unpack"
CONTENT_DIGEST = "io.deis.oras.content.digest"


def _make_tree(root: Path) -> Path:
    """A directory of every kind a directory artifact carries: nested and empty directories,
    an executable, a symlink, a long and a non-ASCII name, incompressible bytes."""
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "bin" / "run.sh").chmod(0o755)
    (root / "docs" / "empty").mkdir(parents=True)
    (root / "docs" / "readme.txt").write_bytes(b"read me\n")
    (root / "docs" / "ünïcode.txt").write_bytes("ünïcode\n".encode())
    (root / "docs" / ("n" * 120 + ".txt")).write_bytes(b"long name\n")
    (root / "data.bin").write_bytes(os.urandom(200 * 1024))
    (root / "link").symlink_to("docs/readme.txt")
    (root / "private").mkdir(mode=0o700)
    (root / "private").chmod(0o700)
    (root / "private" / "key").write_bytes(b"secret\n")
    (root / "private" / "key").chmod(0o600)
    return root


def _snapshot(root: Path) -> dict[str, tuple[str, int, bytes | str]]:
    """Every entry under ``root``: kind, permission bits and content (or link target)."""
    out: dict[str, tuple[str, int, bytes | str]] = {}
    for here, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            path = Path(here) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            if path.is_symlink():
                out[rel] = ("link", 0, os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", st.st_mode & 0o777, b"")
            else:
                out[rel] = ("file", st.st_mode & 0o777, path.read_bytes())
    return out


def _manifest_of(cap: Any, ref: str) -> dict[str, Any]:
    code, raw, err = run(cap, "manifest", "get", ref, "--format", "raw")
    assert code == 0, err
    data: dict[str, Any] = json.loads(raw)
    return data


def _blob(cap: Any, ref: str, digest: str) -> bytes:
    code, blob, err = run(cap, "blob", "get", ref, digest)
    assert code == 0, err
    return blob


def test_directory_round_trip(where: Where, capsysbinary: Any, tmp_path: Path) -> None:
    import gzip
    import io
    import shutil
    import tarfile

    tree = _make_tree(tmp_path / "src" / "tree")
    digest = _put(capsysbinary, where.at("dir"), "-t", SBOM, "-f", str(tree))
    manifest = _manifest_of(capsysbinary, where.by_digest(digest))
    (layer,) = manifest["layers"]
    blob = _blob(capsysbinary, where.at("dir"), layer["digest"])
    tar = gzip.decompress(blob)
    assert layer["mediaType"] == DIR_TYPE
    assert layer["annotations"] == {
        ANNOTATION_TITLE: "tree",
        UNPACK: "true",
        CONTENT_DIGEST: "sha256:" + hashlib.sha256(tar).hexdigest(),
    }
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        members = archive.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) and names[0] == "tree"
    assert all(n.startswith("tree/") for n in names[1:])
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}

    out = tmp_path / "out"
    code, stdout, err = run(capsysbinary, "artifact", "get", where.at("dir"), "-o", str(out))
    assert code == 0, err
    assert stdout.decode().split() == [str(out / "tree")]
    assert _snapshot(out / "tree") == _snapshot(tree)
    assert sorted(p.name for p in out.iterdir()) == ["tree"]  # no staging left behind

    # the same tree elsewhere, with other times, gives the same bytes
    copy = tmp_path / "elsewhere" / "tree"
    shutil.copytree(tree, copy, symlinks=True)
    for here, _, names_ in os.walk(copy):
        for name in names_:
            os.utime(Path(here) / name, (1_000_000, 1_000_000), follow_symlinks=False)
    assert _put(capsysbinary, where.at("dir2"), "-t", SBOM, "-f", str(copy)) == digest

    # a second get replaces the directory: what the artifact does not hold goes
    (out / "tree" / "stale.txt").write_bytes(b"old\n")
    assert run(capsysbinary, "artifact", "get", where.at("dir"), "-o", str(out))[0] == 0
    assert _snapshot(out / "tree") == _snapshot(tree)
    assert sorted(p.name for p in out.iterdir()) == ["tree"]

    # --no-unpack writes the tarball itself, in the directory's place; and back again
    code, _, err = run(
        capsysbinary, "artifact", "get", where.at("dir"), "-o", str(out), "--no-unpack"
    )
    assert code == 0, err
    assert (out / "tree").read_bytes() == blob
    assert run(capsysbinary, "artifact", "get", where.at("dir"), "-o", str(out))[0] == 0
    assert _snapshot(out / "tree") == _snapshot(tree)
    assert sorted(p.name for p in out.iterdir()) == ["tree"]


def test_directory_refusals(capsysbinary: Any, env: Path, tmp_path: Path) -> None:
    ref = f"ocidir://{tmp_path}/layout:x"
    whiteout = tmp_path / "wh"
    (whiteout / "sub").mkdir(parents=True)
    (whiteout / "sub" / ".wh.gone").write_bytes(b"")
    code, out, err = run(capsysbinary, "artifact", "put", ref, "-t", SBOM, "-f", str(whiteout))
    assert (code, out) == (1, b"") and "whiteout" in err
    config_dir = tmp_path / "cfg"
    config_dir.mkdir()
    code, _, err = run(
        capsysbinary, "artifact", "put", ref, "-t", SBOM, "--config", str(config_dir)
    )
    assert code == 1 and "a config is one file" in err


# ----------------------------------------------------------------------------- oras-py as the peer


def _oras(host: str) -> Any:
    """An oras-py client (the peer); missing, the test skips, or fails in CI like any peer."""
    from support.registry_fixtures import require_tool

    try:
        import oras.client
    except ImportError:
        require_tool("oras-py (pip install oras)")
    return oras.client.OrasClient(hostname=host, insecure=True, tls_verify=False)


@pytest.fixture(params=["distribution", "hoist-serve"])
def registry(
    request: pytest.FixtureRequest, env: Path, tmp_path: Path, capsysbinary: Any, repo_name: str
) -> Where:
    return make_where(request, request.param, tmp_path, capsysbinary, repo_name)


def test_oras_py_pushes_hoist_unpacks(registry: Where, capsysbinary: Any, tmp_path: Path) -> None:
    tree = _make_tree(tmp_path / "src" / "mydir")
    (tmp_path / "src" / "note.txt").write_bytes(b"a note\n")
    host = registry.base.split("/")[0]
    oras = _oras(host)
    response = oras.push(
        target=registry.at("1"),
        files=[str(tree), f"{tmp_path}/src/note.txt:text/plain"],
        disable_path_validation=True,
        quiet=True,
    )
    assert response.status_code == 201
    layers = _manifest_of(capsysbinary, registry.at("1"))["layers"]
    # oras-py marks a directory by its media type only: no unpack or digest annotation
    assert [(x["mediaType"], x["annotations"]) for x in layers] == [
        (DIR_TYPE, {ANNOTATION_TITLE: "mydir"}),
        ("text/plain", {ANNOTATION_TITLE: "note.txt"}),
    ]
    out = tmp_path / "out"
    code, stdout, err = run(capsysbinary, "artifact", "get", registry.at("1"), "-o", str(out))
    assert code == 0, err
    assert stdout.decode().split() == [str(out / "mydir"), str(out / "note.txt")]
    assert _snapshot(out / "mydir") == _snapshot(tree)
    assert (out / "note.txt").read_bytes() == b"a note\n"


def test_hoist_pushes_oras_py_unpacks(registry: Where, capsysbinary: Any, tmp_path: Path) -> None:
    tree = _make_tree(tmp_path / "src" / "site")
    (tmp_path / "src" / "sbom.json").write_bytes(b'{"sbom": true}\n')
    _put(
        capsysbinary,
        registry.at("1"),
        "-t",
        SBOM,
        "-f",
        str(tree),
        "-f",
        f"{tmp_path}/src/sbom.json:application/spdx+json",
    )
    oras = _oras(registry.base.split("/")[0])
    out = tmp_path / "oras-out"
    pulled = oras.pull(target=registry.at("1"), outdir=str(out))
    assert sorted(pulled) == [str(out / "sbom.json"), str(out / "site")]
    assert _snapshot(out / "site") == _snapshot(tree)
    assert (out / "sbom.json").read_bytes() == b'{"sbom": true}\n'


# ----------------------------------------------------------------------------- hostile directories


def _push_layer(
    ref_text: str, blob: bytes, annotations: dict[str, str], media_type: str = DIR_TYPE
) -> None:
    """An artifact of one layer, written without hoist's checks."""
    with Client() as client:
        ref = parse_reference(ref_text)
        store = client.store(ref)
        store.blob_put(ref, blob)
        store.blob_put(ref, b"{}")
        layer = Descriptor.of(media_type, blob).replace(annotations=annotations)
        store.manifest_put(ref, ImageManifest.build(EMPTY_DESCRIPTOR, [layer], artifact_type=SBOM))


def _dir_annotations(tar: bytes, title: str = "d") -> dict[str, str]:
    return {
        ANNOTATION_TITLE: title,
        UNPACK: "true",
        CONTENT_DIGEST: "sha256:" + hashlib.sha256(tar).hexdigest(),
    }


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([layers.d("d"), layers.f("d/ok"), layers.f("other/x")], "entries outside d/"),
        ([layers.f("d/ok"), layers.f("../escape")], "climbs out"),
        ([layers.d("d"), layers.f("/etc/evil")], "absolute"),
        ([layers.d("d"), layers.sym("d/pw", "/etc/passwd")], "points outside"),
        ([layers.d("d"), layers.sym("d/up", "../../x")], "points outside"),
        (  # inside by its text (d/s), outside once s/l is followed: d/s/l/.. is d/..
            [
                layers.d("d"),
                layers.d("d/s"),
                layers.sym("d/s/l", ".."),
                layers.sym("d/m", "s/l/.."),
            ],
            "d/m: the link",
        ),
        ([layers.f("d", b"a file, not a directory")], "no directory d/"),
        ([layers.d("x"), layers.f("x/y")], "no directory d/"),
    ],
    ids=["outside", "dotdot", "absolute", "abs-link", "up-link", "link-chain", "file", "other"],
)
def test_get_refuses_hostile_directories(
    capsysbinary: Any, env: Path, tmp_path: Path, items: list[Any], message: str
) -> None:
    ref = f"ocidir://{tmp_path}/layout:bad"
    tar = layers.make_tar(items)
    _push_layer(ref, layers.compress(tar, "gzip"), _dir_annotations(tar))
    out = tmp_path / "deep" / "out"
    code, stdout, err = run(capsysbinary, "artifact", "get", ref, "-o", str(out))
    assert (code, stdout) == (1, b""), err
    assert message in err and "Traceback" not in err
    assert list(out.iterdir()) == []  # nothing written, no staging left
    assert not (tmp_path / "deep" / "escape").exists()


def test_get_checks_the_tar_digest(capsysbinary: Any, env: Path, tmp_path: Path) -> None:
    ref = f"ocidir://{tmp_path}/layout:bad"
    tar = layers.make_tar([layers.d("d"), layers.f("d/ok", b"fine\n")])
    annotations = _dir_annotations(tar) | {CONTENT_DIGEST: "sha256:" + "0" * 64}
    _push_layer(ref, layers.compress(tar, "gzip"), annotations)
    out = tmp_path / "out"
    with Client() as client, pytest.raises(DigestMismatch, match="unpacked tar's digest"):
        artifact_get(client.at(ref), out)
    assert list(out.iterdir()) == []


def test_get_limits_directory_size(capsysbinary: Any, env: Path, tmp_path: Path) -> None:
    ref = f"ocidir://{tmp_path}/layout:bomb"
    tar = layers.make_tar([layers.d("d"), layers.f("d/zeros", bytes(4 * 1024 * 1024))])
    blob = layers.compress(tar, "gzip")
    assert len(blob) < 10 * 1024
    _push_layer(ref, blob, _dir_annotations(tar))
    out = tmp_path / "out"
    code, _, err = run(capsysbinary, "artifact", "get", ref, "-o", str(out), "--max-size", "1M")
    assert code == 1 and "exceeds the limit" in err
    assert list(out.iterdir()) == []
    assert run(capsysbinary, "artifact", "get", ref, "-o", str(out))[0] == 0
    assert (out / "d" / "zeros").stat().st_size == 4 * 1024 * 1024


def test_unmarked_tarball_stays_a_file(capsysbinary: Any, env: Path, tmp_path: Path) -> None:
    """A tar+gzip layer without oras's annotation that holds no directory of its title (a
    tarball pushed as a file) is written as the file it is."""
    ref = f"ocidir://{tmp_path}/layout:tgz"
    blob = layers.compress(layers.make_tar([layers.f("etc/conf", b"x\n")]), "gzip")
    _push_layer(ref, blob, {ANNOTATION_TITLE: "rootfs.tar.gz"})
    out = tmp_path / "out"
    code, stdout, err = run(capsysbinary, "artifact", "get", ref, "-o", str(out))
    assert code == 0, err
    assert stdout.decode().split() == [str(out / "rootfs.tar.gz")]
    assert (out / "rootfs.tar.gz").read_bytes() == blob
    assert sorted(p.name for p in out.iterdir()) == ["rootfs.tar.gz"]


# ----------------------------------------------------------------------------- picking a referrer


def _sbom_file(tmp_path: Path, name: str) -> str:
    path = tmp_path / "sboms" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(f'{{"name": "{name}"}}\n'.encode())
    return str(path)


def test_pick_a_referrer(where: Where, capsysbinary: Any, tmp_path: Path) -> None:
    v1 = where.at("v1")

    def attach(name: str, *annotations: str, kind: str = SBOM) -> str:
        args = [a for pair in annotations for a in ("--annotation", pair)]
        file = _sbom_file(tmp_path, name)
        return _put(capsysbinary, where.base, "--subject", v1, "-t", kind, "-f", file, *args)

    # by time, "...01T23:00-05:00" (04:00Z on the 2nd) is newer than "...02T01:00Z",
    # though it sorts first as text
    old = attach("old.json", f"{CREATED}=2024-01-01T00:00:00Z", "tool=syft")
    newest = attach("newest.json", f"{CREATED}=2024-02-01T23:00:00-05:00", "tool=trivy")
    text_max = attach("text.json", f"{CREATED}=2024-02-02T01:00:00Z", "tool=trivy")
    undated = attach("undated.json")
    attach("sig.json", f"{CREATED}=2025-01-01T00:00:00Z", kind=SIG)

    def get(*args: str) -> tuple[int, list[str], str]:
        out = tmp_path / "got"
        if out.exists():
            import shutil

            shutil.rmtree(out)
        code, stdout, err = run(capsysbinary, "artifact", "get", v1, "-o", str(out), *args)
        return code, [Path(p).name for p in stdout.decode().split()], err

    code, files, err = get("--artifact-type", SBOM, "--latest")
    assert (code, files) == (0, ["newest.json"]), err
    assert f"@{newest}" in err and "created 2024-02-01T23:00:00-05:00" in err
    assert (tmp_path / "got" / "newest.json").read_bytes() == b'{"name": "newest.json"}\n'
    assert get("-t", SBOM, "--sort-annotation", CREATED)[1] == ["old.json"]
    assert get("-t", SBOM, "--sort-annotation", CREATED, "--reverse")[1] == ["text.json"]
    assert get("-t", SBOM, "--filter-annotation", "tool=syft")[1] == ["old.json"]
    assert get("-t", SBOM, "--filter-annotation", "tool=trivy", "--latest")[1] == ["newest.json"]
    assert get("--latest")[1] == ["sig.json"]  # any type
    assert get("-t", SIG)[1] == ["sig.json"]  # the only one: no order needed
    with Client() as client:
        paths = artifact_get(
            client.at(v1), tmp_path / "lib", match=ReferrerFilter(SBOM, latest=True)
        )
        assert paths == [tmp_path / "lib" / "newest.json"]

    for args, code, message in [
        (["-t", SBOM], 1, "4 referrers of"),
        (["-t", SBOM, "--filter-annotation", "tool"], 1, "3 referrers of"),  # key set
        (["-t", "application/vnd.none"], 1, "no referrer of"),
        (["-t", SBOM, "--reverse"], 2, "--reverse needs --sort-annotation"),
        (["--reverse"], 2, "--reverse needs --sort-annotation"),
        (["-t", SBOM, "--latest", "--sort-annotation", "x"], 2, "not with --sort-annotation"),
        (["-t", SBOM, "--sort-annotation", "nobody.sets.this"], 1, "none has a"),
        (["--platform", "linux/amd64"], 1, "not an index"),
    ]:
        got, files, err = get(*args)
        assert (got, files) == (code, []), (args, err)
        assert message in err and "Traceback" not in err, (args, err)

    code, out, err = run(
        capsysbinary,
        "artifact",
        "list",
        v1,
        "-t",
        SBOM,
        "--sort-annotation",
        CREATED,
        "--reverse",
        "--format",
        "json",
    )
    assert code == 0, err
    assert [d["digest"] for d in json.loads(out)] == [text_max, newest, old, undated]
    code, out, _ = run(
        capsysbinary,
        "artifact",
        "list",
        v1,
        "--filter-annotation",
        "tool=trivy",
        "--format",
        "json",
    )
    assert {d["digest"] for d in json.loads(out)} == {newest, text_max}


def test_platform_referrers(where: Where, capsysbinary: Any, tmp_path: Path) -> None:
    """Referrers of one platform's manifest in an index: list, get and tree reach them."""
    amd64, arm64 = Platform("linux", "amd64"), Platform("linux", "arm64", "v8")
    with Client() as client:
        ref = parse_reference(where.at("multi"))
        write_image(client.store(ref), ref, base_image([amd64, arm64]))
    index = _manifest_of(capsysbinary, where.at("multi"))
    arm = next(m for m in index["manifests"] if m["platform"]["architecture"] == "arm64")
    sig = _put(
        capsysbinary,
        where.base,
        "--subject",
        arm["digest"],
        "-t",
        SIG,
        "-f",
        _sbom_file(tmp_path, "arm.sig"),
    )
    multi = where.at("multi")

    def listed(*args: str) -> list[str]:
        code, out, err = run(capsysbinary, "artifact", "list", multi, *args, "--format", "json")
        assert code == 0, err
        return [d["digest"] for d in json.loads(out)]

    assert listed("--platform", "linux/arm64") == [sig]
    assert listed("--platform", "linux/amd64") == []
    assert listed() == []  # the index itself has none
    out = tmp_path / "o"
    code, stdout, err = run(
        capsysbinary,
        "artifact",
        "get",
        multi,
        "--platform",
        "linux/arm64",
        "-t",
        SIG,
        "-o",
        str(out),
    )
    assert code == 0, err
    assert stdout.decode().split() == [str(out / "arm.sig")]
    code, _, err = run(capsysbinary, "artifact", "list", multi, "--platform", "linux/s390x")
    assert code == 1 and "s390x" in err

    code, raw, err = run(capsysbinary, "artifact", "tree", multi, "--format", "json")
    assert code == 0, err
    tree = json.loads(raw)
    assert tree["digest"] == index_digest(capsysbinary, multi) and tree["referrers"] == []
    children = {c["platform"]["architecture"]: c for c in tree["manifests"]}
    assert [r["digest"] for r in children["arm64"]["referrers"]] == [sig]
    assert children["amd64"]["referrers"] == []
    code, raw, _ = run(capsysbinary, "artifact", "tree", multi)
    lines = raw.decode().splitlines()
    assert len(lines) == 4
    arm_line = next(i for i, line in enumerate(lines) if "[linux/arm64/v8]" in line)
    assert lines[arm_line + 1].strip().startswith(f"└── {sig}  {SIG}")
    code, raw, _ = run(capsysbinary, "artifact", "tree", multi, "--no-platforms")
    assert len(raw.decode().splitlines()) == 1

    with Client() as client:
        root = artifact_tree(client.at(multi))
    assert [(depth, n.descriptor.digest) for depth, n in root.walk()] == [
        (0, root.descriptor.digest),
        *[(1, Digest.parse(m["digest"])) for m in index["manifests"]],
        (2, Digest.parse(sig)),
    ]


def index_digest(cap: Any, ref: str) -> str:
    return str(_head(cap, ref)["digest"])


# ----------------------------------------------------------------------------- put options


def test_put_from_stdin(
    where: Where, capsysbinary: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    data = os.urandom(100 * 1024)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    digest = _put(
        capsysbinary,
        where.at("stdin"),
        "-t",
        SBOM,
        "-f",
        "-:application/spdx+json",
        "--stdin-title",
        "sbom.spdx.json",
    )
    (layer,) = _manifest_of(capsysbinary, where.by_digest(digest))["layers"]
    assert layer["mediaType"] == "application/spdx+json"
    assert layer["annotations"] == {ANNOTATION_TITLE: "sbom.spdx.json"}
    assert layer["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    out = tmp_path / "o"
    assert run(capsysbinary, "artifact", "get", where.at("stdin"), "-o", str(out))[0] == 0
    assert (out / "sbom.spdx.json").read_bytes() == data

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"plain\n")))
    digest = _put(capsysbinary, where.at("stdin2"), "-t", SBOM, "-f", "-")
    (layer,) = _manifest_of(capsysbinary, where.by_digest(digest))["layers"]
    assert (layer["mediaType"], layer["annotations"]) == (
        "application/octet-stream",
        {ANNOTATION_TITLE: "stdin"},
    )
    code, _, err = run(
        capsysbinary, "artifact", "put", where.at("x"), "-t", SBOM, "-f", "-", "-f", "-"
    )
    assert code == 1 and "only one file can be read from a stream" in err


def test_annotation_file_tags_and_config(
    where: Where, files: dict[str, bytes], capsysbinary: Any, tmp_path: Path
) -> None:
    tree = _make_tree(tmp_path / "src" / "tree")
    config = tmp_path / "config.json"
    config.write_bytes(b'{"x": 1}')
    annotations = tmp_path / "annotations.json"
    annotations.write_text(
        json.dumps(
            {
                "$manifest": {"k": "from file", "only.file": "1"},
                "$config": {"c": "config"},
                "sbom.json": {"layer": "sbom"},
                "tree": {"layer": "tree"},
            }
        )
    )
    digest = _put(
        capsysbinary,
        where.at("t1,t2"),
        "--tag",
        "t3",
        "-t",
        SBOM,
        "-f",
        _in(tmp_path, "sbom.json"),
        "-f",
        str(tree),
        "--config",
        str(config),
        "--annotation-file",
        str(annotations),
        "--annotation",
        "k=from flag",
    )
    for tag in ("t1", "t2", "t3"):
        assert _head(capsysbinary, where.at(tag))["digest"] == digest
    manifest = _manifest_of(capsysbinary, where.by_digest(digest))
    assert manifest["annotations"] == {"k": "from flag", "only.file": "1"}
    assert manifest["config"] == {
        "mediaType": "application/vnd.unknown.config.v1+json",
        "digest": "sha256:" + hashlib.sha256(b'{"x": 1}').hexdigest(),
        "size": 8,
        "annotations": {"c": "config"},
    }
    sbom, packed = manifest["layers"]
    assert sbom["annotations"] == {ANNOTATION_TITLE: "sbom.json", "layer": "sbom"}
    assert packed["annotations"][ANNOTATION_TITLE] == "tree"
    assert packed["annotations"]["layer"] == "tree"
    assert packed["annotations"][UNPACK] == "true"

    for content, message in [
        ({"nothing.txt": {"a": "b"}}, "names no file given: nothing.txt"),
        ({"sbom.json": {ANNOTATION_TITLE: "other"}}, "set by hoist"),
        ({"$manifest": {"a": 1}}, "want an object of string values"),
        ([1, 2], "want a JSON object"),
    ]:
        annotations.write_text(json.dumps(content))
        code, out, err = run(
            capsysbinary,
            "artifact",
            "put",
            where.at("bad"),
            "-t",
            SBOM,
            "-f",
            _in(tmp_path, "sbom.json"),
            "--annotation-file",
            str(annotations),
        )
        assert (code, out) == (1, b""), err
        assert message in err and "Traceback" not in err
    code, _, err = run(capsysbinary, "artifact", "put", where.at("a,-bad"), "-t", SBOM)
    assert code == 2 and "must not start with" in err  # a malformed reference is a usage error


# ----------------------------------------------------------------------------- library values


def _desc(n: int, artifact_type: str = SBOM, **annotations: str) -> Descriptor:
    return Descriptor(
        mt.OCI_MANIFEST,
        Digest("sha256", f"{n:064x}"),
        100,
        annotations=Annotations(annotations),
        artifact_type=artifact_type,
    )


def test_referrer_filter() -> None:
    a = _desc(1, **{CREATED: "2024-05-01T00:00:00Z", "tool": "syft"})
    b = _desc(2, **{CREATED: "2024-05-01T03:00:00+02:00"})  # 01:00Z: newer
    c = _desc(3, **{CREATED: "not a time", "tool": "trivy"})
    s = _desc(4, SIG)
    found = [c, s, b, a, a]
    assert ReferrerFilter().apply(found) == [a, b, c, s]
    assert ReferrerFilter(SBOM, latest=True).apply(found) == [b, a, c]
    assert ReferrerFilter(SBOM, sort_annotation=CREATED).apply(found) == [a, b, c]
    assert ReferrerFilter(sort_annotation="tool", reverse=True).apply(found) == [c, a, b, s]
    assert ReferrerFilter(annotations={"tool": ""}).apply(found) == [a, c]
    assert ReferrerFilter(annotations={"tool": "syft"}).apply(found) == [a]
    assert hash(ReferrerFilter(annotations={"x": "y"})) == hash(
        ReferrerFilter(annotations={"x": "y"})
    )
    with pytest.raises(InvalidInput, match="not both"):
        ReferrerFilter(latest=True, sort_annotation="x")
    with pytest.raises(InvalidInput, match="reverse needs"):
        ReferrerFilter(reverse=True)


class _BareStore:
    """Referrers without annotations, as some registries' fallback indexes have them."""

    def __init__(self, manifests: list[ImageManifest], subject: Descriptor) -> None:
        self.manifests = {m.digest: m for m in manifests}
        self.subject = subject

    def manifest_head(self, ref: Any) -> Descriptor:
        return self.subject

    def manifest_get(self, ref: Any) -> ImageManifest:
        return self.manifests[ref.digest]

    def referrers_list(self, ref: Any, *, artifact_type: str | None = None) -> list[Descriptor]:
        return [
            Descriptor(mt.OCI_MANIFEST, m.digest, m.size, artifact_type=SBOM)
            for m in self.manifests.values()
        ]


def test_select_reads_missing_annotations() -> None:
    subject = _desc(9, "application/vnd.subject")
    made = [
        ImageManifest.build(
            EMPTY_DESCRIPTOR,
            [EMPTY_DESCRIPTOR],
            artifact_type=SBOM,
            subject=subject,
            annotations={CREATED: when},
        )
        for when in ("2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z")
    ]
    where = Location(_BareStore(made, subject), parse_reference("r.io/a:v1"))  # type: ignore[arg-type]
    chosen = artifact_select(where, ReferrerFilter(SBOM, latest=True))
    assert chosen.digest == made[1].digest
    assert chosen.annotations == {CREATED: "2024-06-01T00:00:00Z"}
    with pytest.raises(InvalidInput, match="2 referrers"):
        artifact_select(where, ReferrerFilter(SBOM))
    with pytest.raises(NotFound, match="no referrer"):
        artifact_select(where, ReferrerFilter("application/vnd.other"))


def test_artifact_file_and_annotation_file(tmp_path: Path) -> None:
    import io

    with pytest.raises(InvalidInput, match="needs a title"):
        ArtifactFile(io.BytesIO(b"x"))
    assert ArtifactFile(tmp_path).name == tmp_path.name
    assert ArtifactFile(tmp_path).layer_media_type == DIR_TYPE
    (tmp_path / "f.txt").write_bytes(b"")
    assert ArtifactFile(tmp_path / "f.txt").layer_media_type == "application/octet-stream"
    parsed = AnnotationFile.parse(b'{"$manifest": {"a": "1"}, "./f.txt": {"b": "2"}}')
    assert parsed.manifest == {"a": "1"} and parsed.config == {}
    (applied,) = parsed.apply([ArtifactFile(tmp_path / "f.txt")])
    assert applied.annotations == {"b": "2"}
    with pytest.raises(InvalidInput, match="nested too deeply"):
        AnnotationFile.parse(b"[" * 100 + b"]" * 100)
