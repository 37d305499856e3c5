"""``sync serve``: runs on a schedule, reloads on SIGHUP, stops on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from support.registry_fixtures import RegistryServer
from support.sync_images import image, push, registry_client

from hoist.model.reference import Reference
from hoist.sync.config import Schedule
from hoist.sync.cron import Cron
from hoist.sync.serve import next_run


def test_next_run() -> None:
    every = Schedule(interval=timedelta(minutes=10))
    assert next_run(every, last_start=1000.0, now=1100.0) == 1600.0
    assert next_run(every, last_start=1000.0, now=2000.0) == 2000.0  # a long run: at once
    cron = Schedule(cron=Cron.parse("*/15 * * * *"))
    now = datetime(2024, 1, 1, 10, 7).timestamp()
    assert next_run(cron, last_start=0.0, now=now) == datetime(2024, 1, 1, 10, 15).timestamp()


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):  # a line being written
            out.append(json.loads(line))
    return out


def _wait_for(path: Path, test: Any, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = _events(path)
        if test(events):
            return events
        time.sleep(0.05)
    raise AssertionError(f"timed out; events: {_events(path)}")


def test_serve_reloads_on_sighup(
    tmp_path: Path,
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    repo_name: str,
) -> None:
    src = f"{registry_anon.host}/{repo_name}"
    with registry_client(registry_anon) as client:
        store = client.store(Reference.parse(src))
        push(store, registry_anon.host, repo_name, {"v1": image("s1")})
        push(store, registry_anon.host, f"{repo_name}-2", {"v1": image("s2")})
    dst = f"{registry_anon2.host}/{repo_name}"
    config = tmp_path / "sync.yaml"
    head = "defaults:\n  schedule: {interval: 1s}\n  jobs: 1\nsync:\n"
    config.write_text(head + f"  - {{source: {src}, target: {dst}}}\n")
    (tmp_path / "hoist.json").write_text(
        json.dumps(
            {
                "registries": {
                    h: {"tls": "disabled"} for h in (registry_anon.host, registry_anon2.host)
                }
            }
        )
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HOIST_CONFIG": str(tmp_path / "hoist.json"),
        "DOCKER_CONFIG": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    events = tmp_path / "events.ndjson"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hoist",
            "sync",
            "serve",
            "-c",
            str(config),
            "--events",
            str(events),
            "-q",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        got = _wait_for(events, lambda es: any(e["event"] == "next" for e in es))
        first = [e for e in got if e["event"] == "summary"]
        assert first and first[0]["copied"] == 1

        # a second rule, read on SIGHUP; the next run copies its repository
        config.write_text(
            head + f"  - {{source: {src}, target: {dst}}}\n"
            f"  - {{source: {src}-2, target: {dst}-2}}\n"
        )
        proc.send_signal(signal.SIGHUP)
        got = _wait_for(
            events,
            lambda es: (
                any(e["event"] == "reload" for e in es)
                and any(e["event"] == "image" and e["target"] == f"{dst}-2" for e in es)
            ),
        )
        reload = next(e for e in got if e["event"] == "reload")
        assert reload["ok"] is True

        # a broken config is reported and the old one kept
        config.write_text("sync: [\n")
        proc.send_signal(signal.SIGHUP)
        got = _wait_for(events, lambda es: [e["event"] for e in es].count("reload") == 2)
        broken = [e for e in got if e["event"] == "reload"][1]
        assert broken["ok"] is False and "not valid YAML" in broken["error"]
        runs = [e for e in got if e["event"] == "summary"]
        _wait_for(events, lambda es: len([e for e in es if e["event"] == "summary"]) > len(runs))
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "config not reloaded" in err or "not valid YAML" in err
