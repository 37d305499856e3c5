"""The CLI on OCI layouts: output, formats, error lines and exit codes, start-up cost."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

import click
import pytest
from support.cli import (
    modules_after,
    run,
)
from support.skopeo import skopeo

from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_samples


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("cli") / "layout"
    ref = LayoutReference("ocidir", str(root))
    write_samples(OCIDirStore(), ref.with_tag("base"), ref.with_tag("app"))
    return f"ocidir://{root}"


def test_manifest_get_raw_is_exact_and_hashes_to_digest(
    capsysbinary: pytest.CaptureFixture[bytes], layout: str
) -> None:
    code, raw, _ = run(capsysbinary, "manifest", "get", f"{layout}:base", "--format", "raw")
    assert code == 0
    code, digest, _ = run(capsysbinary, "image", "digest", f"{layout}:base")
    assert digest.decode().strip() == "sha256:" + hashlib.sha256(raw).hexdigest()
    path = layout.removeprefix("ocidir://")
    assert raw == skopeo("inspect", "--raw", f"oci:{path}:base").stdout.encode()


def test_manifest_get_platform_and_head(
    capsysbinary: pytest.CaptureFixture[bytes], layout: str
) -> None:
    code, out, _ = run(
        capsysbinary, "manifest", "get", f"{layout}:base", "-p", "linux/arm64", "--format", "json"
    )
    assert code == 0
    manifest = json.loads(out)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    code, out, _ = run(capsysbinary, "manifest", "head", f"{layout}:base", "--format", "json")
    head = json.loads(out)
    assert head["mediaType"] == "application/vnd.oci.image.index.v1+json"
    code, out, _ = run(capsysbinary, "manifest", "get", f"{layout}:base", "--format", "text")
    text = out.decode()
    assert "linux/amd64" in text and "linux/arm64/v8" in text


def test_image_inspect_agrees_with_skopeo_config(
    capsysbinary: pytest.CaptureFixture[bytes], layout: str
) -> None:
    path = layout.removeprefix("ocidir://")
    code, out, _ = run(capsysbinary, "image", "inspect", f"{layout}:app", "--format", "json")
    assert code == 0
    mine = json.loads(out)
    theirs = json.loads(skopeo("inspect", "--config", f"oci:{path}:app").stdout)
    assert mine["Config"] == theirs["config"]
    assert mine["RootFS"]["Layers"] == theirs["rootfs"]["diff_ids"]
    assert mine["History"] == theirs["history"]
    assert (mine["Architecture"], mine["Os"], mine["Created"]) == (
        theirs["architecture"],
        theirs["os"],
        theirs["created"],
    )
    summary = json.loads(skopeo("inspect", f"oci:{path}:app").stdout)
    assert mine["Digest"] == summary["Digest"]
    assert mine["Layers"] == summary["Layers"]


def test_image_inspect_index_lists_other_platforms(
    capsysbinary: pytest.CaptureFixture[bytes], layout: str
) -> None:
    code, out, _ = run(capsysbinary, "image", "inspect", f"{layout}:base", "-p", "linux/amd64")
    assert code == 0
    text = out.decode()
    assert "Other platforms:  linux/arm64/v8" in text


def test_image_config_is_the_blob(capsysbinary: pytest.CaptureFixture[bytes], layout: str) -> None:
    code, out, _ = run(capsysbinary, "image", "config", f"{layout}:app")
    code2, inspect, _ = run(capsysbinary, "image", "inspect", f"{layout}:app", "--format", "json")
    assert code == code2 == 0
    assert "sha256:" + hashlib.sha256(out).hexdigest() == json.loads(inspect)["Id"]


def test_image_layers_maps_history(capsysbinary: pytest.CaptureFixture[bytes], layout: str) -> None:
    code, out, _ = run(capsysbinary, "image", "layers", f"{layout}:app", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    layers = [r for r in rows if r["index"] is not None]
    assert [r["created_by"] for r in layers] == [
        "ADD rootfs-amd64.tar /",
        "COPY server.py /app/",
        "COPY app.conf /etc/",
    ]
    assert all(r["digest"] != r["diff_id"] for r in layers)
    # descriptor fields in OCI's spelling, as the image's manifest has them
    assert [r["mediaType"] for r in layers] == ["application/vnd.oci.image.layer.v1.tar+gzip"] * 3
    assert all("media_type" not in r for r in rows)
    empty = [r["created_by"] for r in rows if r["index"] is None]
    assert "ENV APP_PORT=8080" in empty and "EXPOSE 8080/tcp" in empty
    code, out, _ = run(capsysbinary, "image", "layers", f"{layout}:app")
    assert "(config only)" in out.decode()


def test_blob_get_head_and_output_file(
    capsysbinary: pytest.CaptureFixture[bytes], layout: str, tmp_path: Path
) -> None:
    _, out, _ = run(capsysbinary, "image", "inspect", f"{layout}:app", "--format", "json")
    digest = json.loads(out)["Layers"][1]
    code, blob, _ = run(capsysbinary, "blob", "get", f"{layout}:app", digest)
    assert code == 0 and "sha256:" + hashlib.sha256(blob).hexdigest() == digest
    target = tmp_path / "layer.tgz"
    code, _, _ = run(capsysbinary, "blob", "get", f"{layout}:app", digest, "-o", str(target))
    assert code == 0 and target.read_bytes() == blob
    code, out, _ = run(capsysbinary, "blob", "head", f"{layout}:app", digest, "--format", "json")
    assert json.loads(out) == {"digest": digest, "size": len(blob)}


def test_tag_ls_and_ref(capsysbinary: pytest.CaptureFixture[bytes], layout: str) -> None:
    code, out, _ = run(capsysbinary, "tag", "ls", layout)
    assert (code, out.decode().split()) == (0, ["app", "base"])
    code, out, _ = run(capsysbinary, "ref", "nginx", "--format", "json")
    assert json.loads(out) == {
        "reference": "docker.io/library/nginx:latest",
        "familiar": "nginx:latest",
        "registry": "docker.io",
        "repository": "library/nginx",
        "tag": "latest",
        "digest": None,
    }


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["manifest", "get", "ocidir:///nonexistent/x:v1"], 1, "error: /nonexistent/x is not"),
        (["ref", "UPPER/case"], 2, "error: invalid reference"),
        (["image", "inspect", "{layout}:base", "-p", "linux/s390x"], 1, "platforms present"),
        (["manifest", "get", "{layout}:nope"], 1, "error: tag 'nope' not found"),
        (["blob", "get", "{layout}", "sha256:abc"], 2, "Invalid value"),
        (["image", "inspect", "{layout}", "-p", "linux"], 2, "Invalid value"),
        (["no-such-command"], 2, "No such command"),
        (["tag", "ls", "{layout}", "--include", "(v"], 1, "error: bad regular expression"),
        (["image", "ratelimit", "{layout}:base"], 1, ":base is not on a registry"),
    ],
    ids=[
        "no-layout",
        "bad-ref",
        "no-platform",
        "no-tag",
        "bad-digest",
        "bad-platform",
        "usage",
        "bad-regex",
        "ratelimit-layout",
    ],
)
def test_errors_are_one_line(
    capsysbinary: pytest.CaptureFixture[bytes],
    layout: str,
    args: list[str],
    code: int,
    message: str,
) -> None:
    got, _, err = run(capsysbinary, *[a.replace("{layout}", layout) for a in args])
    assert got == code
    assert message in err
    assert "Traceback" not in err
    if err.startswith("error:"):  # a library error, or a malformed reference (exit 2)
        assert len(err.strip().splitlines()) == 1


def test_help_imports_no_heavy_modules() -> None:
    heavy = ("urllib3", "rich", "isal", "zstandard", "aiohttp", "http.client", "ssl")
    out, loaded = modules_after(["--help"], f"m.split('.')[0] in {heavy} or m in {heavy}")
    assert "Commands:" in out
    assert loaded == []


def test_a_layout_command_opens_no_network_module(layout: str) -> None:
    net = ("urllib3", "socket", "ssl", "http", "select")
    out, loaded = modules_after(["manifest", "head", f"{layout}:base"], f"m.split('.')[0] in {net}")
    assert "Digest:" in out
    assert loaded == []


def test_an_image_command_imports_only_its_own_module() -> None:
    out, loaded = modules_after(["image", "copy", "--help"], "m.startswith('hoist.cli.image')")
    assert "Usage: hoist image copy" in out
    assert loaded == ["hoist.cli.image", "hoist.cli.image_copy"]


def test_the_lazy_image_commands_are_every_command_of_their_modules() -> None:
    from hoist.cli.image import _LAZY, image

    modules = {module for module, _ in _LAZY.values()}
    defined = {
        (module, name)
        for module in modules
        for name, value in vars(importlib.import_module(module)).items()
        if isinstance(value, click.Command)
    }
    assert defined == set(_LAZY.values())
    ctx = click.Context(image)
    for name in _LAZY:
        command = image.get_command(ctx, name)
        assert command is not None and command.name == name
