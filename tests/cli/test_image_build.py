"""``hoist image build``: without --platform every platform of the base is built (as the help
says); --format json says what was written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import run

from hoist.model import mediatype as mt
from hoist.model.platform import Platform, local_platform
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import base_image, write_image

Capture = pytest.CaptureFixture[bytes]
THREE = [Platform("linux", "amd64"), Platform("linux", "arm64", "v8"), Platform("linux", "s390x")]


@pytest.fixture
def context(tmp_path: Path) -> Path:
    store = OCIDirStore()
    bases = LayoutReference("ocidir", str(tmp_path / "bases"))
    write_image(store, bases.with_tag("three"), base_image(THREE))
    write_image(store, bases.with_tag("one"), base_image([Platform("linux", "arm64", "v8")]))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "hello.txt").write_text("hello\n")
    (ctx / "Dockerfile").write_text("ARG BASE\nFROM $BASE\nCOPY hello.txt /\n")
    return ctx


def test_build_makes_every_platform_of_the_base(
    capsysbinary: Capture, context: Path, tmp_path: Path
) -> None:
    base = f"BASE=ocidir://{tmp_path}/bases:three"
    out = f"ocidir://{tmp_path}/out:app"
    code, stdout, err = run(
        capsysbinary, "image", "build", str(context), "-t", out, "--build-arg", base
    )
    assert code == 0, err
    assert "an index of 3 platforms" in err
    code, raw, _ = run(capsysbinary, "manifest", "get", out, "--format", "json")
    index = json.loads(raw)
    assert index["mediaType"] == mt.OCI_INDEX
    assert [m["platform"]["architecture"] for m in index["manifests"]] == [
        "amd64",
        "arm64",
        "s390x",
    ]
    code, stdout, err = run(
        capsysbinary,
        "image",
        "build",
        str(context),
        "-t",
        out,
        "--build-arg",
        base,
        "--platform",
        "linux/s390x",
        "--format",
        "json",
    )
    assert code == 0, err
    data = json.loads(stdout)
    assert data["destination"] == out and data["mediaType"] == mt.OCI_MANIFEST
    assert [i["platform"] for i in data["images"]] == ["linux/s390x"]
    assert len(data["images"][0]["layers"]) == 2 and data["warnings"] == []


def test_build_on_one_platform_and_on_scratch(
    capsysbinary: Capture, context: Path, tmp_path: Path
) -> None:
    out = f"ocidir://{tmp_path}/out:one"
    code, _, err = run(
        capsysbinary,
        "image",
        "build",
        str(context),
        "-t",
        out,
        "--build-arg",
        f"BASE=ocidir://{tmp_path}/bases:one",
    )
    assert code == 0 and "wrote" in err and "(linux/arm64/v8)" in err
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n")
    code, _, err = run(capsysbinary, "image", "build", str(context), "-t", out)
    assert code == 0 and f"({local_platform()})" in err
