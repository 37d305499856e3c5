"""Applying against real registries: failures, a killed run resumed, rate limits, the throttle."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_http import FakeServer, Request
from support.registry_fixtures import RegistryServer
from support.sync_images import AccessLog, count, image, push, registry_client

from hoist.client import Client
from hoist.model.reference import Reference
from hoist.sync.apply import sync_apply
from hoist.sync.config import parse_config
from hoist.sync.events import Event, ImageDone, RateLimitWait
from hoist.sync.journal import read_journal
from hoist.sync.plan import sync_plan
from hoist.testing.sample import SampleImage


@pytest.fixture
def client(registry_anon: RegistryServer, registry_anon2: RegistryServer) -> Iterator[Client]:
    with registry_client(registry_anon, registry_anon2) as c:
        yield c


def _repo_rule(src: str, dst: str, extra: str = "") -> str:
    return f"sync:\n  - source: {src}\n    target: {dst}\n{extra}"


def test_a_broken_source_image_among_good_ones(
    client: Client, registry_anon: RegistryServer, registry_anon2: RegistryServer, repo_name: str
) -> None:
    src = f"{registry_anon.host}/{repo_name}"
    images = {f"b{i}": image(f"broken-{i}") for i in range(5)}
    push(client.store(Reference.parse(src)), registry_anon.host, repo_name, images)
    own_layer = images["b3"].top.referenced()[-1].digest
    request = urllib.request.Request(
        f"{registry_anon.url}/v2/{repo_name}/blobs/{own_layer}", method="DELETE"
    )
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request).close()
    dst = f"{registry_anon2.host}/{repo_name}"
    config = parse_config(_repo_rule(src, dst))
    plan = sync_plan(client, config)
    assert {i.status for i in plan.images} == {"missing"}  # the plan reads no layer
    events: list[Event] = []
    result = sync_apply(client, config, plan, journal=False, events=events.append)
    assert not result.ok
    assert [f.target for f in result.failed] == [f"{dst}:b3"]
    assert "BLOB_UNKNOWN" in result.failed[0].error or "not found" in result.failed[0].error
    assert result.copied == 4
    assert [e.kind for e in events].count("error") == 1
    summary = events[-1]
    assert summary.kind == "summary" and summary.failed == 1 and summary.copied == 4  # type: ignore[union-attr]
    target = client.at(dst)
    assert sorted(target.with_tag(None).tag_list()) == ["b0", "b1", "b2", "b4"]


def test_each_digest_once_and_the_throttle(
    client: Client, registry_anon: RegistryServer, registry_anon2: RegistryServer, repo_name: str
) -> None:
    src = f"{registry_anon.host}/{repo_name}"
    a, b, c, d = (image(f"once-{n}") for n in "abcd")
    tags = {f"a{i}": a for i in range(4)} | {f"b{i}": b for i in range(4)} | {"c": c, "d": d}
    push(client.store(Reference.parse(src)), registry_anon.host, repo_name, tags)
    dst = f"{registry_anon2.host}/{repo_name}"
    config = parse_config(
        f"defaults:\n  jobs: 4\nregistries:\n  {registry_anon2.host}: {{jobs: 1}}\n"
        + _repo_rule(src, dst)
    )
    source, target = AccessLog(registry_anon), AccessLog(registry_anon2)
    events: list[Event] = []
    result = sync_apply(client, config, journal=False, events=events.append)
    assert result.ok and result.copied == 10
    at_source, at_target = source.requests(repo_name), target.requests(repo_name)
    assert count(at_source, "GET", "manifests") == 4  # each digest read once, plan and apply
    assert count(at_target, "PUT", "manifests") == 10  # 4 copies, 6 more tags
    uploads = [r for r in at_target if r.method == "PUT" and "/blobs/uploads/" in r.path]
    assert len(uploads) == 4 * 2 + 1  # each config and own layer once, the shared one once
    done = [e for e in events if isinstance(e, ImageDone)]
    assert sorted(len(e.tags) for e in done) == [1, 1, 4, 4]
    spans = sorted((e.time - e.seconds, e.time) for e in done)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.2, spans  # one image at a time at the throttled registry


# -- a killed apply -----------------------------------------------------------------------------


def _env(tmp_path: Path, *servers: RegistryServer) -> dict[str, str]:
    settings = {"registries": {s.host: {"tls": "disabled"} for s in servers}}
    (tmp_path / "hoist.json").write_text(json.dumps(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOIST_", "REGISTRY_"))}
    env.update(
        HOIST_CONFIG=str(tmp_path / "hoist.json"),
        DOCKER_CONFIG=str(tmp_path),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_RUNTIME_DIR=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path),
    )
    return env


def test_a_killed_apply_resumes_without_redoing(
    client: Client,
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    repo_name: str,
    tmp_path: Path,
) -> None:
    src = f"{registry_anon.host}/{repo_name}"
    images = {f"k{i:02d}": image(f"killed-{i}", size=1 << 20) for i in range(24)}
    push(client.store(Reference.parse(src)), registry_anon.host, repo_name, images)
    dst = f"{registry_anon2.host}/{repo_name}"
    journal = tmp_path / "sync.journal"
    config = tmp_path / "sync.yaml"
    config.write_text(f"defaults:\n  jobs: 1\n  journal: {journal}\n" + _repo_rule(src, dst))
    argv = [sys.executable, "-m", "hoist", "sync", "apply", "-c", str(config), "-q"]
    env = _env(tmp_path, registry_anon, registry_anon2)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            state = read_journal(journal) if journal.exists() else None
            if state is not None and len(state.done) >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"apply ended before it was killed: {proc.communicate()}")
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    killed = read_journal(journal)
    assert killed is not None and not killed.finished
    done_before = set(killed.done)
    assert 3 <= len(done_before) < len(images)

    source, target = AccessLog(registry_anon), AccessLog(registry_anon2)
    events = tmp_path / "events.ndjson"
    rerun = subprocess.run(
        [*argv, "--events", str(events)], env=env, capture_output=True, text=True, timeout=180
    )
    assert rerun.returncode == 0, rerun.stderr
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    start = lines[0]
    assert start["event"] == "start" and start["resumed"] == len(done_before)
    assert start["plan"] == killed.plan_id  # the same plan, from the journal: not planned again
    by_how: dict[str, set[str]] = {}
    for e in lines:
        if e["event"] == "image":
            by_how.setdefault(e["how"], set()).update(f"{dst}:{t}" for t in e["tags"])
    assert by_how["journal"] == done_before
    assert (
        by_how["copied"] | by_how.get("up-to-date", set())
        == {f"{dst}:{t}" for t in images} - done_before
    )
    final = read_journal(journal)
    assert final is not None and final.finished and final.ok
    assert set(final.done) == {f"{dst}:{t}" for t in images}

    # Nothing was asked about the images done before the kill: no tag list, no HEAD, no GET.
    done_tags = {d.rsplit(":", 1)[1] for d in done_before}
    done_digests = {str(images[t].top.digest) for t in done_tags}
    for r in source.requests(repo_name) + target.requests(repo_name):
        ref = r.path.rsplit("/", 1)[1]
        assert ref not in done_tags and ref not in done_digests, r
    assert count(source.requests(repo_name), "GET", "tags") == 0
    # ... and the images left were each checked once at the target, then copied.
    left = len(images) - len(done_before)
    assert count(target.requests(repo_name), "PUT", "manifests") <= left
    assert {i.status for i in sync_plan(client, parse_config(config.read_text())).images} == {
        "up-to-date"
    }


# -- Docker Hub's rate limit ---------------------------------------------------------------------


class HubLike:
    """A fake registry with Docker Hub's ratelimit headers: a manifest GET is a pull, a HEAD is
    free. After ``reset_after`` answers under ``floor`` the count goes back to ``limit``."""

    def __init__(
        self, images: dict[str, SampleImage], remaining: int, floor: int, reset_after: int | None
    ) -> None:
        self.images = images
        self.remaining = remaining
        self.floor = floor
        self.reset_after = reset_after
        self.low = 0
        self.lock = threading.Lock()
        self.manifests = {s.top.digest: s.top for s in images.values()}
        self.blobs = {d: b for s in images.values() for d, b in s.blobs.items()}

    def __call__(self, req: Request) -> None:
        path = req.path
        prefix = "/v2/library/app/"
        if not path.startswith(prefix):
            req.error(404, "NAME_UNKNOWN", "repository name not known to registry")
            return
        rest = path[len(prefix) :]
        if rest == "tags/list":
            req.reply(200, {"name": "library/app", "tags": sorted(self.images)})
            return
        kind, _, ref = rest.partition("/")
        if kind == "manifests":
            top = (
                self.images[ref].top
                if ref in self.images
                else next((m for d, m in self.manifests.items() if str(d) == ref), None)
            )
            if top is None:
                req.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                return
            with self.lock:
                if req.method == "GET":
                    self.remaining -= 1
                elif self.remaining < self.floor:
                    self.low += 1
                    if self.reset_after is not None and self.low >= self.reset_after:
                        self.remaining = 100
                left = self.remaining
            req.reply(
                200,
                top.raw,
                {
                    "Content-Type": top.media_type,
                    "Docker-Content-Digest": str(top.digest),
                    "ratelimit-limit": "100;w=21600",
                    "ratelimit-remaining": f"{left};w=21600",
                    "docker-ratelimit-source": "203.0.113.7",
                },
            )
            return
        if kind == "blobs":
            blob = next((b for d, b in self.blobs.items() if str(d) == ref), None)
            if blob is None:
                req.error(404, "BLOB_UNKNOWN", "blob unknown")
            else:
                req.reply(200, blob, {"Docker-Content-Digest": ref})
            return
        req.error(404, "UNSUPPORTED", "no")


@pytest.mark.parametrize("action", ["stop", "wait"])
def test_the_rate_limit_floor(registry_anon2: RegistryServer, repo_name: str, action: str) -> None:
    images = {f"r{i}": image(f"rate-{repo_name}-{i}") for i in range(3)}
    hub = HubLike(images, remaining=100, floor=96, reset_after=2 if action == "wait" else None)
    with FakeServer(hub) as server:
        dst = f"{registry_anon2.host}/{repo_name}"
        text = (
            "defaults:\n  jobs: 1\n"
            f"  ratelimit: {{min: 96, action: {action}, poll: 0.2s, max-wait: 10s}}\n"
            + _repo_rule(f"{server.host}/library/app", dst)
        )
        config = parse_config(text)
        with registry_client(server, registry_anon2) as planner:
            plan = sync_plan(planner, config)  # three GETs to count blobs: 97 left
        assert hub.remaining == 97
        events: list[Event] = []
        with registry_client(server, registry_anon2) as client:  # a new run: it reads again
            result = sync_apply(client, config, plan, journal=False, events=events.append)
        waits = [e for e in events if isinstance(e, RateLimitWait)]
        gets = [s for s in server.requests() if s.method == "GET" and "/manifests/" in s.path]
        if action == "stop":
            assert result.copied == 2 and result.skipped == 1 and not result.ok
            assert result.stopped is not None and "under the floor of 96" in result.stopped
            assert [(w.action, w.remaining) for w in waits] == [("stop", 95)]
            assert len(gets) == 3 + 2  # the plan's three, and one pull per image copied
        else:
            assert result.ok and result.copied == 3
            assert [w.action for w in waits] == ["wait"]  # 95 left, then the count reset
            assert all(w.remaining == 95 for w in waits)
        heads = [s for s in server.requests() if s.method == "HEAD"]
        assert len(heads) >= 3  # the remaining count is learnt with HEADs, which are free
