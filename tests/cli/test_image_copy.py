"""``hoist image copy|export|import`` as people script them: docker-archive without --platform,
the same RepoTags from copy and export, layer files named by diff_id, --type, --format json,
import compressing a docker archive's layers."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.registry_fixtures import ServeTarget
from support.skopeo import skopeo

from hoist.client import Client
from hoist.model import mediatype as mt
from hoist.model.platform import local_platform
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_samples

Capture = pytest.CaptureFixture[bytes]
LOCAL = local_platform()
ON_SAMPLE_PLATFORM = pytest.mark.skipif(
    LOCAL.architecture not in ("amd64", "arm64"),
    reason="the sample index holds linux/amd64 and linux/arm64; the local platform is neither",
)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("copy") / "layout"
    ref = LayoutReference("ocidir", str(root))
    write_samples(OCIDirStore(), ref.with_tag("base"), ref.with_tag("app"))
    return root


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        out = {}
        for m in tar.getmembers():
            f = tar.extractfile(m)
            out[m.name] = f.read() if f is not None else b""
        return out


def _repo_tags(path: Path) -> list[str]:
    tags: list[str] = json.loads(_members(path)["manifest.json"])[0]["RepoTags"]
    return tags


@ON_SAMPLE_PLATFORM
def test_copy_of_an_index_to_docker_archive_takes_the_local_platform(
    capsysbinary: Capture, layout: Path, tmp_path: Path
) -> None:
    """Without --platform: the local one, said on stderr; the file is written and complete
    before the digest is printed (it used to print the digest, then fail with no file)."""
    out = tmp_path / "f.tar"
    code, stdout, err = run(
        capsysbinary, "image", "copy", f"ocidir://{layout}:base", f"docker-archive://{out}"
    )
    assert code == 0, err
    other = "linux/arm64/v8" if LOCAL.architecture == "amd64" else "linux/amd64"
    assert "a docker-archive holds one platform" in err and f"also in the index: {other}" in err
    want = Client().image(f"ocidir://{layout}:base", platform=LOCAL).manifest.digest
    assert stdout.decode().strip() == str(want)
    assert out.is_file()
    config = json.loads(skopeo("inspect", "--config", f"docker-archive:{out}").stdout)
    assert config["architecture"] == LOCAL.architecture
    # again: the file is replaced, not read
    code, _, err = run(
        capsysbinary, "image", "copy", f"ocidir://{layout}:base", f"docker-archive://{out}", "-q"
    )
    assert code == 0, err
    # image export picks the same way, and says so too (it used to pick silently)
    exported = tmp_path / "e.tar"
    code, stdout, err = run(
        capsysbinary, "image", "export", f"ocidir://{layout}:base", str(exported)
    )
    assert code == 0 and stdout.decode().strip() == str(want)
    assert "a docker-archive holds one platform" in err


def test_copy_to_docker_archive_with_platforms_is_a_usage_error(
    capsysbinary: Capture, layout: Path, tmp_path: Path
) -> None:
    code, _, err = run(
        capsysbinary,
        "image",
        "copy",
        f"ocidir://{layout}:base",
        f"docker-archive://{tmp_path}/x.tar",
        "--platforms",
        "linux/amd64,linux/arm64",
    )
    assert code == 2 and "give --platform, not --platforms" in err
    assert not (tmp_path / "x.tar").exists()


def test_copy_and_export_name_the_image_alike(
    capsysbinary: Capture, layout: Path, tmp_path: Path, hoist_serve: ServeTarget
) -> None:
    """RepoTags: the registry name for a registry source, localhost/<file> otherwise; the
    same from image copy and image export."""
    src = f"{hoist_serve.host}/lab/f:1.19"
    assert run(capsysbinary, "image", "copy", f"ocidir://{layout}:app", src, "-q")[0] == 0
    copied, exported = tmp_path / "copied.tar", tmp_path / "exported.tar"
    assert run(capsysbinary, "image", "copy", src, f"docker-archive://{copied}", "-q")[0] == 0
    assert run(capsysbinary, "image", "export", src, str(exported), "-q")[0] == 0
    assert _repo_tags(copied) == _repo_tags(exported) == [src]
    lc, le = tmp_path / "lc.tar", tmp_path / "le.tar"
    app = f"ocidir://{layout}:app"
    assert run(capsysbinary, "image", "copy", app, f"docker-archive://{lc}", "-q")[0] == 0
    assert run(capsysbinary, "image", "export", app, str(le), "-q")[0] == 0
    assert (_repo_tags(lc), _repo_tags(le)) == (["localhost/lc:app"], ["localhost/le:app"])


def test_docker_archive_layers_are_named_by_their_diff_id(
    capsysbinary: Capture, layout: Path, tmp_path: Path
) -> None:
    out = tmp_path / "app.tar"
    assert run(capsysbinary, "image", "export", f"ocidir://{layout}:app", str(out), "-q")[0] == 0
    members = _members(out)
    entry = json.loads(members["manifest.json"])[0]
    diff_ids = Client().image(f"ocidir://{layout}:app").config.diff_ids
    assert entry["Layers"] == [f"{d.hex}.tar" for d in diff_ids]
    for name in entry["Layers"]:
        assert hashlib.sha256(members[name]).hexdigest() == name.removesuffix(".tar")


def test_export_type_and_format_json(capsysbinary: Capture, layout: Path, tmp_path: Path) -> None:
    out = tmp_path / "base.oci.tar"
    code, stdout, err = run(
        capsysbinary,
        "image",
        "export",
        f"ocidir://{layout}:base",
        str(out),
        "--type",
        "oci",
        "--format",
        "json",
        "-q",
    )
    assert code == 0, err
    data = json.loads(stdout)
    assert data["mediaType"] == mt.OCI_INDEX and data["platform"] is None
    assert data["destination"] == f"oci-archive://{out}" and len(data["manifests"]) == 3
    code, _, err = run(
        capsysbinary, "image", "export", f"ocidir://{layout}:base", str(out), "--format", "oci"
    )
    assert code == 2 and "'oci' is not one of 'text', 'json'" in err  # --format: the output


def test_copy_json_says_what_moved(capsysbinary: Capture, layout: Path, tmp_path: Path) -> None:
    dst = f"ocidir://{tmp_path}/mirror:base"
    code, out, err = run(
        capsysbinary, "image", "copy", f"ocidir://{layout}:base", dst, "--format", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["destination"] == dst and data["mediaType"] == mt.OCI_INDEX
    assert len(data["blobs"]["copied"]) == 4 and data["blobs"]["skipped"] == []
    assert data["bytes_copied"] > 0 and len(data["manifests"]) == 3
    assert data["up_to_date"] is False
    code, out, _ = run(
        capsysbinary, "image", "copy", f"ocidir://{layout}:base", dst, "--format", "json"
    )
    assert json.loads(out)["up_to_date"] is True
    # the text summary counts right: "1 manifest", "1 blob"
    code, _, err = run(
        capsysbinary,
        "image",
        "copy",
        f"ocidir://{layout}:base",
        f"ocidir://{tmp_path}/one:arm",
        "-p",
        "linux/arm64",
    )
    assert code == 0 and "; 1 manifest\n" in err and "1 manifests" not in err


@pytest.mark.parametrize(
    ("flags", "layer_type"),
    [
        ([], mt.DOCKER_LAYER),
        (["--layer-compress", "gzip"], mt.DOCKER_LAYER),
        (["--layer-compress", "zstd"], mt.OCI_LAYER_ZSTD),
        (["--layer-compress", "none"], "application/vnd.docker.image.rootfs.diff.tar"),
    ],
    ids=["default-gzip", "gzip", "zstd", "none"],
)
def test_import_of_a_docker_archive_compresses_its_layers(
    capsysbinary: Capture, layout: Path, tmp_path: Path, flags: list[str], layer_type: str
) -> None:
    archive = tmp_path / "app.tar"
    assert run(capsysbinary, "image", "export", f"ocidir://{layout}:app", str(archive))[0] == 0
    dst = f"ocidir://{tmp_path}/imported:app"
    code, out, err = run(
        capsysbinary, "image", "import", dst, str(archive), *flags, "--format", "json", "-q"
    )
    assert code == 0, err
    assert json.loads(out)["destination"] == dst
    imported = Client().image(dst)
    original = Client().image(f"ocidir://{layout}:app")
    assert [d.media_type for d in imported.layers] == [layer_type] * 3
    assert imported.config.diff_ids == original.config.diff_ids
    if flags[-1:] != ["none"]:
        sizes = sum(d.size for d in imported.layers)
        assert sizes < sum(len(m) for m in _members(archive).values() if m)  # compressed
    code, verified, _ = run(capsysbinary, "image", "verify", dst)
    assert code == 0, verified.decode()


def test_json_of_other_changes(capsysbinary: Capture, layout: Path, tmp_path: Path) -> None:
    """tag add, manifest put, blob put/copy/delete, tag delete, manifest delete: JSON on
    stdout saying what was written."""
    at = f"ocidir://{tmp_path}/l"
    assert run(capsysbinary, "image", "copy", f"ocidir://{layout}:app", f"{at}:app", "-q")[0] == 0
    code, out, _ = run(capsysbinary, "tag", "add", f"{at}:app", "v1", "v2", "--format", "json")
    data: dict[str, Any] = json.loads(out)
    assert code == 0 and data["tagged"] == [f"{at}:v1", f"{at}:v2"] and "digest" in data
    raw = run(capsysbinary, "manifest", "get", f"{at}:app", "--format", "raw")[1]
    (tmp_path / "m.json").write_bytes(raw)
    code, out, _ = run(
        capsysbinary, "manifest", "put", f"{at}:v3", str(tmp_path / "m.json"), "--format", "json"
    )
    assert json.loads(out)["digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()
    (tmp_path / "blob").write_bytes(b"some bytes")
    code, out, _ = run(capsysbinary, "blob", "put", at, str(tmp_path / "blob"), "--format", "json")
    blob = json.loads(out)
    assert blob == {
        "destination": at,
        "digest": "sha256:" + hashlib.sha256(b"some bytes").hexdigest(),
        "size": 10,
    }
    code, out, _ = run(
        capsysbinary,
        "blob",
        "copy",
        at,
        f"ocidir://{tmp_path}/m",
        blob["digest"],
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["how"] == "copied"
    code, out, _ = run(capsysbinary, "tag", "delete", f"{at}:v1", "--format", "json")
    assert json.loads(out) == {"deleted": f"{at}:v1", "tag": "v1"}
    code, out, err = run(capsysbinary, "manifest", "delete", f"{at}:v2", "--format", "json")
    assert code == 0 and json.loads(out)["digest"] == data["digest"]
    assert "removes every tag on it" in err and f"hoist tag delete {at}:v2" in err
