"""``hoist image mod`` with --format json, and -p/--platform help that tells the default of
the commands that work on every platform (mod, image copy, repo copy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import run

from hoist.client import Client
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_demo_layout

Capture = pytest.CaptureFixture[bytes]


def test_mod_json(capsysbinary: Capture, tmp_path: Path) -> None:
    root = tmp_path / "demo"
    write_demo_layout(OCIDirStore(), LayoutReference("ocidir", str(root)), ["base", "app"])
    src, dst = f"ocidir://{root}:base", f"ocidir://{root}:labelled"
    code, out, err = run(
        capsysbinary,
        "image",
        "mod",
        src,
        "--create",
        dst,
        "--label",
        "team=infra",
        "--format",
        "json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert (data["source"], data["destination"]) == (src, dst)
    assert data["digest"] == str(Client().at(dst).manifest_head().digest)
    inspect = Client().image(dst, platform="linux/arm64").inspect()
    labels = inspect.config.get("Labels")
    assert labels == {"team": "infra"}  # every platform changed


@pytest.mark.parametrize("command", [["image", "mod"], ["image", "copy"], ["repo", "copy"], ["cp"]])
def test_platform_help_says_every_platform(capsysbinary: Capture, command: list[str]) -> None:
    code, out, _ = run(capsysbinary, *command, "--help")
    text = " ".join(out.decode().split())
    assert code == 0 and "(default: every platform" in text
    assert "default: the local one" not in text
