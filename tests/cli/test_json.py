"""One output contract: ``--format json`` on the commands that print or change things, in one
key style. Fields OCI defines keep OCI's spelling (mediaType, artifactType, digest, size,
annotations; created_by, empty_layer, diff_id as the image config spells them); hoist's own
keys are snake_case. ``image inspect`` is the Docker-inspect view and keeps Docker's keys."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.registry_fixtures import ServeTarget

from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_demo_layout

Capture = pytest.CaptureFixture[bytes]

OCI_CAMEL = {"mediaType", "artifactType", "schemaVersion"}
"""camelCase keys OCI defines: the only ones allowed."""
FREE_FORM = {"annotations", "labels", "platform", "config", "fields", "tags", "users"}
"""Maps whose keys are data (annotation names, tags, hosts) or OCI's own objects."""
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("json") / "demo"
    write_demo_layout(OCIDirStore(), LayoutReference("ocidir", str(root)))
    return f"ocidir://{root}"


def _bad_keys(value: Any, path: str = "") -> list[str]:
    bad = []
    if isinstance(value, dict):
        for key, inner in value.items():
            where = f"{path}.{key}"
            if not (key in OCI_CAMEL or SNAKE.match(key)):
                bad.append(where)
            if key not in FREE_FORM:
                bad += _bad_keys(inner, where)
    elif isinstance(value, list):
        for item in value:
            bad += _bad_keys(item, f"{path}[]")
    return bad


COMMANDS = [
    ["ref", "{demo}:app"],
    ["image", "digest", "{demo}:base"],
    ["image", "layers", "{demo}:app", "--diff-ids"],
    ["image", "tree", "{demo}:base", "{demo}:app"],
    ["image", "check-base", "{demo}:app", "--base", "{demo}:base"],
    ["image", "diff", "{demo}:app", "{demo}:app-v2", "--files"],
    ["image", "ls-files", "{demo}:app"],
    ["image", "verify", "{demo}:app"],
    ["image", "unpack", "{demo}:app", "{tmp}/rootfs"],
    ["image", "copy", "{demo}:base", "ocidir://{tmp}/copy:base"],
    ["image", "export", "{demo}:app", "{tmp}/app.tar"],
    ["image", "import", "ocidir://{tmp}/imported:app", "{tmp}/app.tar"],
    ["image", "mod", "{demo}:app", "--create", "ocidir://{tmp}/mod:app", "--label", "a=b"],
    ["index", "create", "ocidir://{tmp}/idx:i", "--ref", "{demo}:app-amd64"],
    ["index", "add", "ocidir://{tmp}/idx:i", "--ref", "{demo}:app-arm64"],
    ["index", "remove", "ocidir://{tmp}/idx:i", "-p", "linux/arm64"],
    ["tag", "ls", "{demo}"],
    ["tag", "add", "{demo}:app", "json-test"],
    ["manifest", "head", "{demo}:app"],
    ["blob", "head", "{demo}:app", "{layer}"],
    ["layer", "ls", "{demo}:app", "{layer}"],
    ["version"],
    [
        "artifact",
        "put",
        "{demo}",
        "--subject",
        "{demo}:app",
        "--artifact-type",
        "application/vnd.example.note",
        "-f",
        "{tmp}/note.txt",
    ],
    ["artifact", "list", "{demo}:app"],
    ["artifact", "tree", "{demo}:app"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_json_keys_have_one_style(
    capsysbinary: Capture, demo: str, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "note.txt").write_text("a note\n")
    layer = "sha256:6af9422e0484c66fb17149ed4599aa321a94146302f64d957a965719462a7e49"
    for setup in COMMANDS[: COMMANDS.index(args)]:  # what a command needs (an archive, an index)
        if setup[:2] in (["image", "export"], ["index", "create"], ["index", "add"]):
            filled = [a.format(demo=demo, tmp=tmp_path, layer=layer) for a in setup]
            assert run(capsysbinary, *filled)[0] == 0
    filled = [a.format(demo=demo, tmp=tmp_path, layer=layer) for a in args]
    code, out, err = run(capsysbinary, *filled, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert _bad_keys(data) == []


def test_registry_commands_json(capsysbinary: Capture, demo: str, hoist_serve: ServeTarget) -> None:
    repo = f"{hoist_serve.host}/json/app"
    code, out, err = run(
        capsysbinary, "image", "copy", f"{demo}:app", f"{repo}:v1", "--format", "json"
    )
    assert code == 0, err
    assert _bad_keys(json.loads(out)) == []
    for args in (
        ["repo", "ls", hoist_serve.host],
        ["repo", "copy", repo, f"{hoist_serve.host}/json/mirror"],
        ["tag", "ls", repo],
    ):
        code, out, err = run(capsysbinary, *args, "--format", "json")
        assert code == 0, err
        assert _bad_keys(json.loads(out)) == [], args


def test_inspect_keeps_dockers_keys_and_says_so(capsysbinary: Capture, demo: str) -> None:
    code, out, _ = run(capsysbinary, "image", "inspect", f"{demo}:app", "--format", "json")
    assert code == 0 and {"Id", "RepoTags", "RootFS", "Architecture"} <= set(json.loads(out))
    code, out, _ = run(capsysbinary, "image", "inspect", "--help")
    assert "--format json keeps Docker's keys" in " ".join(out.decode().split())


def test_registry_settings_and_artifact_get_json(
    capsysbinary: Capture, demo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "hoist.json"))
    code, out, err = run(
        capsysbinary, "registry", "set", "reg.example:5000", "--tls", "insecure", "--format", "json"
    )
    data = json.loads(out)
    assert code == 0 and err == "" and _bad_keys(data) == []
    assert data["settings"] == {"tls": "insecure"} and data["saved_in"] == str(
        tmp_path / "hoist.json"
    )
    code, out, _ = run(capsysbinary, "registry", "unset", "reg.example:5000", "--format", "json")
    assert code == 0 and json.loads(out)["host"] == "reg.example:5000"
    (tmp_path / "note.txt").write_text("a note\n")
    code, out, err = run(
        capsysbinary,
        "artifact",
        "put",
        f"{demo}:note",
        "--artifact-type",
        "application/vnd.example.note",
        "-f",
        str(tmp_path / "note.txt"),
    )
    assert code == 0, err
    code, out, err = run(
        capsysbinary,
        "artifact",
        "get",
        f"{demo}:note",
        "-o",
        str(tmp_path / "got"),
        "--format",
        "json",
    )
    assert code == 0, err
    assert json.loads(out)["written"] == [str(tmp_path / "got" / "note.txt")]
