"""Errors that say what to do next: a 401 names ``hoist registry login HOST``; a missing
manifest says whether the repository exists (tests/cli/test_registry.py); a path without a
scheme suggests ``ocidir://`` (tests/cli/test_main.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run
from support.registry_fixtures import RegistryServer

from hoist.cli.hints import path_hint


@pytest.fixture(autouse=True)
def private_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "hoist.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)


@pytest.mark.parametrize(
    "args",
    [["tag", "ls", "{host}/private/app"], ["manifest", "get", "{host}/private/app:v1"]],
    ids=["tag-ls", "manifest-get"],
)
def test_401_names_the_login_command(
    registry_basic: RegistryServer, capsysbinary: pytest.CaptureFixture[bytes], args: list[str]
) -> None:
    """htpasswd, no login given (the token registry hands out anonymous pull tokens)."""
    server = registry_basic
    code, _, err = run(capsysbinary, *[a.replace("{host}", server.host) for a in args])
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"hoist registry login {server.host}" in err


def test_path_hints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "layout").mkdir()
    (tmp_path / "app.tar").write_bytes(b"")
    assert path_hint("layout:v1") == "a local OCI layout needs a scheme: ocidir://layout:v1"
    assert path_hint("./nowhere:v1") == "a local OCI layout needs a scheme: ocidir://./nowhere:v1"
    assert path_hint("app.tar") == (
        "a local archive needs a scheme: oci-archive://app.tar or docker-archive://app.tar"
    )
    assert path_hint("nginx:latest") is None
    assert path_hint("ocidir://layout:v1") is None
