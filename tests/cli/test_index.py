"""``hoist index``: add says which platform it replaced; every command takes --format json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import run

from hoist.model import mediatype as mt
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_demo_layout

Capture = pytest.CaptureFixture[bytes]


@pytest.fixture
def demo(tmp_path: Path) -> str:
    root = tmp_path / "demo"
    write_demo_layout(OCIDirStore(), LayoutReference("ocidir", str(root)))
    return f"ocidir://{root}"


def test_index_add_says_what_it_replaced(capsysbinary: Capture, demo: str) -> None:
    idx = f"{demo}:idx"
    code, out, err = run(
        capsysbinary,
        "index",
        "create",
        idx,
        "--ref",
        f"{demo}:app-amd64",
        "--ref",
        f"{demo}:app-arm64",
        "--format",
        "json",
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["mediaType"] == mt.OCI_INDEX and created["destination"] == idx
    old_amd64 = created["manifests"][0]["digest"]
    # app-v2 is a newer linux/amd64 image: adding it replaces that platform, and says so
    code, out, err = run(capsysbinary, "index", "add", idx, "--ref", f"{demo}:app-v2")
    assert code == 0, err
    new_amd64 = run(capsysbinary, "image", "digest", f"{demo}:app-v2")[1].decode().strip()
    assert f"replaced linux/amd64: {old_amd64} -> {new_amd64}" in err
    assert "holds 2 manifests: linux/amd64, linux/arm64/v8" in err
    code, out, err = run(
        capsysbinary, "index", "add", idx, "--ref", f"{demo}:app-amd64", "--format", "json"
    )
    data = json.loads(out)
    assert data["replaced"] == [{"platform": "linux/amd64", "old": new_amd64, "new": old_amd64}]
    assert err == ""
    # adding a platform the index lacks replaces nothing
    code, out, err = run(
        capsysbinary, "index", "remove", idx, "-p", "linux/arm64", "--format", "json"
    )
    assert code == 0 and [m["platform"]["architecture"] for m in json.loads(out)["manifests"]] == [
        "amd64"
    ]
    code, _, err = run(capsysbinary, "index", "add", idx, "--ref", f"{demo}:app-arm64")
    assert code == 0 and "replaced" not in err and "holds 2 manifests" in err
