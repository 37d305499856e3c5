"""``hoist sync plan|apply`` as people and CI run them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.registry_fixtures import RegistryServer
from support.sync_images import image, push, registry_client

from hoist.model.reference import Reference


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_anon: RegistryServer) -> Path:
    """No saved logins or settings of this machine; plain HTTP to the test registries."""
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "hoist.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    return tmp_path


def test_plan_then_apply_the_json_plan(
    env: Path,
    capsysbinary: Any,
    registry_anon: RegistryServer,
    registry_token: RegistryServer,
    repo_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = f"{registry_anon.host}/{repo_name}"
    with registry_client(registry_anon) as client:
        push(
            client.store(Reference.parse(src)),
            registry_anon.host,
            repo_name,
            {"1.0": image("c1"), "1.1": image("c2"), "2.0": image("c3"), "dev": image("c4")},
        )
    dst = f"{registry_token.host}/{repo_name}"
    config = env / "sync.yaml"
    config.write_text(
        "registries:\n"
        f"  {registry_token.host}: {{username-env: SYNC_USER, password-env: SYNC_PASS}}\n"
        "sync:\n"
        f"  - source: {src}\n"
        f"    target: {dst}\n"
        "    tags: {semver: '^1'}\n"
    )
    # the login comes from the environment variables the config names
    monkeypatch.setenv("SYNC_USER", registry_token.username or "")
    monkeypatch.setenv("SYNC_PASS", registry_token.password or "")

    code, out, err = run(capsysbinary, "sync", "plan", "-c", str(config))
    assert code == 0, err
    text = out.decode()
    assert f"missing  {src}:1.0  {dst}:1.0" in text
    assert "2 missing, 0 changed, 0 up to date; 2 copies, 5 blobs" in text

    code, out, err = run(capsysbinary, "sync", "plan", "-c", str(config), "--format", "json")
    assert code == 0, err
    plan_file = env / "plan.json"
    plan_file.write_bytes(out)
    plan = json.loads(out)
    assert plan["summary"]["missing"] == 2 and plan["version"] == 1

    code, out, err = run(
        capsysbinary, "sync", "apply", "-c", str(config), "--plan", str(plan_file), "--events", "-"
    )
    assert code == 0, err
    events = [json.loads(line) for line in out.decode().splitlines()]
    assert events[0]["event"] == "start" and events[0]["plan"] == plan["id"]
    assert sorted(t for e in events if e["event"] == "image" for t in e["tags"]) == ["1.0", "1.1"]
    assert events[-1]["event"] == "summary" and events[-1]["copied"] == 2
    assert {e["event"] for e in events} >= {"start", "blob", "image", "summary"}
    assert "2 copied" in err and "0 failed" in err

    code, out, err = run(capsysbinary, "sync", "plan", "-c", str(config), "--changes")
    assert code == 0, err
    assert (
        out.decode().strip() == "0 missing, 0 changed, 2 up to date; 0 copies, 0 blobs, 0 B to move"
    )


def test_failures_exit_1_with_a_summary(
    env: Path,
    capsysbinary: Any,
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    repo_name: str,
) -> None:
    src = f"{registry_anon.host}/{repo_name}"
    with registry_client(registry_anon) as client:
        push(client.store(Reference.parse(src)), registry_anon.host, repo_name, {"v1": image("f1")})
    config = env / "sync.yaml"
    config.write_text(
        "sync:\n"
        f"  - {{source: {src}, target: {registry_anon2.host}/{repo_name}}}\n"
        f"  - {{source: {src}-absent, target: {registry_anon2.host}/{repo_name}-2}}\n"
    )
    code, _, err = run(capsysbinary, "sync", "apply", "-c", str(config), "--no-journal")
    assert code == 1
    assert f"failed: {src}-absent" in err
    assert "1 copied, 0 up to date, 1 failed" in err


def test_config_errors_name_the_file_and_line(env: Path, capsysbinary: Any) -> None:
    config = env / "sync.yaml"
    config.write_text(
        "sync:\n  - source: a.example/x\n    target: b.example\n    tags: {newest: -1}\n"
    )
    code, _out, err = run(capsysbinary, "sync", "plan", "-c", str(config))
    assert code == 1
    assert err.strip() == (
        f"error: {config}:4: sync[0].tags.newest: want a whole number from 1 to 1073741824, not -1"
    )
    code, _, err = run(
        capsysbinary, "sync", "apply", "-c", str(config), "--journal", "j", "--no-journal"
    )
    assert code == 2 and "exclusive" in err


def test_repo_copy_is_the_sync_engine(
    env: Path,
    capsysbinary: Any,
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    repo_name: str,
) -> None:
    from support.sync_images import AccessLog, count

    src = f"{registry_anon.host}/{repo_name}"
    dst = f"{registry_anon2.host}/{repo_name}"
    old, one, two = image("rc-old"), image("rc-1"), image("rc-2")
    with registry_client(registry_anon, registry_anon2) as client:
        tags = {"v1": one, "v2": one, "v3": two, "v4": two, "latest": two}
        push(client.store(Reference.parse(src)), registry_anon.host, repo_name, tags)
        push(client.store(Reference.parse(dst)), registry_anon2.host, repo_name, {"v1": old})
    source, target = AccessLog(registry_anon), AccessLog(registry_anon2)
    code, out, err = run(
        capsysbinary, "repo", "copy", src, dst, "--new-tags", "--jobs", "2", "--exclude", "^l", "-q"
    )
    assert code == 0, err
    assert out.decode().split("\n")[:-1] == [
        f"v2 {one.top.digest}",
        f"v3 {two.top.digest}",
        f"v4 {two.top.digest}",
    ]  # v1 is on DST already (another image): --new-tags keeps it
    with registry_client(registry_anon2) as client:
        assert client.at(f"{dst}:v1").manifest_head().digest == old.top.digest
    assert count(source.requests(repo_name), "GET", "manifests") == 2  # each digest once
    assert count(target.requests(repo_name), "PUT", "manifests") == 3  # 2 copies, 1 more tag

    code, out, err = run(capsysbinary, "repo", "copy", src, dst, "--format", "json", "-q")
    assert code == 0, err
    data = json.loads(out)
    assert data["tags"]["v1"]["digest"] == str(one.top.digest)  # without --new-tags: replaced
    assert sorted(data["up_to_date"]) == ["v2", "v3", "v4"]
    assert data["blobs"]["copied"] == [] and data["bytes_copied"] == 0  # v1's blobs are there
