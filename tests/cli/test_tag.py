"""``hoist tag``: ls keeps its promise (sorted, after --last, at most --limit) whatever order the
registry pages tags in; add and delete say what they did, as text or JSON; tag rm."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from support.cli import run
from support.registry_fixtures import RegistryServer

from hoist.model.platform import Platform
from hoist.model.reference import Reference
from hoist.testing.sample import base_image, write_image

TAGS = [f"t{i:03d}" for i in range(160)]


@pytest.fixture(params=["registry_anon", "hoist_serve"])
def many_tags(request: pytest.FixtureRequest, repo_name: str, registry_store: Any) -> str:
    """A repository with 160 tags pushed in random order, on CNCF distribution 2.8 and on
    hoist serve."""
    server: RegistryServer = request.getfixturevalue(request.param)
    store = registry_store(server)
    ref = Reference(server.host, repo_name, "t000")
    write_image(store, ref, base_image([Platform("linux", "amd64")]))
    manifest = store.manifest_get(ref)
    for tag in random.Random(7).sample(TAGS, len(TAGS)):
        store.manifest_put(ref.with_tag(tag), manifest)
    return f"{server.host}/{repo_name}"


@pytest.fixture(autouse=True)
def plain_http(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "hoist.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))


def test_tag_ls_limit_and_last_whatever_the_registry_returns(
    capsysbinary: pytest.CaptureFixture[bytes], many_tags: str
) -> None:
    code, out, err = run(capsysbinary, "tag", "ls", many_tags, "--limit", "3", "--last", "t100")
    assert code == 0, err
    assert out.decode().split() == ["t101", "t102", "t103"]
    code, out, _ = run(capsysbinary, "ls", many_tags, "--last", "t157", "--format", "json")
    assert json.loads(out) == ["t158", "t159"]
    code, out, _ = run(capsysbinary, "tag", "ls", many_tags, "--limit", "2", "--include", "5$")
    assert out.decode().split() == ["t005", "t015"]  # the filter, then the limit
    code, out, _ = run(capsysbinary, "tag", "ls", many_tags)
    assert out.decode().split() == TAGS


def test_tag_add_json_and_tag_rm(
    capsysbinary: pytest.CaptureFixture[bytes], many_tags: str
) -> None:
    code, out, err = run(
        capsysbinary, "tag", "add", f"{many_tags}:t000", "stable", "--format", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["tagged"] == [f"{many_tags}:stable"] and data["digest"].startswith("sha256:")
    assert err == ""  # JSON mode: stdout carries it all
    code, _, err = run(capsysbinary, "tag", "rm", f"{many_tags}:stable")
    assert code == 0 and f"deleted {many_tags}:stable" in err
    assert "stable" not in run(capsysbinary, "tag", "ls", many_tags)[1].decode().split()
