#!/usr/bin/env python3
"""Benchmark ``hoist sync apply`` against ``skopeo sync`` on real loopback registries.

20 repositories of 10 tags each (200 images) on a source ``docker-registry``: every image has
two base layers shared by all repositories, a layer shared by the tags of its repository, a layer
and a config of its own. Each tool mirrors all of it to a second registry, as a subprocess:

``full``
    onto an empty destination (storage wiped, registry restarted);
``again``
    right after, with the destination up to date (the daily cron run of a mirror).

For ``--rounds`` rounds (the tools' order alternating), the bench reports the median wall time,
the client's CPU time, and the requests both registries logged during the run (their access
logs): all of them, the manifest GETs at the source (what Docker Hub counts as pulls), and the
blob uploads at the destination. Every full run is checked: each of the 200 tags at the
destination names the source's digest.

    /work/main/.venv/bin/python bench/sync_bench.py              # 3 rounds, table on stdout
    /work/main/.venv/bin/python bench/sync_bench.py --json

hoist runs ``hoist sync apply -c sync.yaml --no-journal -q`` (``jobs: 4``); skopeo runs
``skopeo sync --src yaml --dest docker --preserve-digests`` over the same 20 repositories
(``images-by-tag-regex: .*``). skopeo's blob info cache (which remembers where blobs were, for
mounts) is removed before each of its runs, as the destination it remembers was wiped.

See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    Registry,
    client_env,
    default_hoist,
    log,
    run_measured,
    wait_for_idle,
    workspace,
)

from hoist.config.settings import RegistrySettings
from hoist.model import mediatype as mt
from hoist.model.config import History, ImageConfig
from hoist.model.descriptor import Descriptor
from hoist.model.manifest import ImageManifest
from hoist.model.reference import Reference
from hoist.store.registry import RegistryStore
from hoist.testing.sample import Layer, make_layer

REPOS = 20
TAGS = 10
_ACCESS = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')
_BIC = (
    Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb"),
    Path.home() / ".local/share/containers/cache/blob-info-cache-v1.boltdb",
)


class LoggedRegistry(Registry):
    """A docker-registry with its access log on (one line per request, counted by the bench)."""

    def config(self) -> dict[str, Any]:
        config = super().config()
        config["log"] = {"level": "error", "formatter": "text"}
        return config

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def requests_since(self, offset: int) -> list[tuple[str, str]]:
        with self.log_path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        return [(m.group(1), m.group(2)) for m in _ACCESS.finditer(text)]


def _random_layer(name: str, size: int) -> Layer:
    return make_layer({f"{name}.bin": random.Random(name).randbytes(size)})


@dataclass(frozen=True)
class Fixture:
    repositories: list[str]
    digests: dict[str, str]  # "repo:tag" -> digest
    bytes: int


def build_and_push(source: Registry, kib: int) -> Fixture:
    """The 200 images, pushed to ``source`` with hoist's library."""
    store = RegistryStore(
        settings={source.host: RegistrySettings(tls="disabled")}, credentials=None
    )
    bases = [_random_layer("base-1", 2 * kib * 1024), _random_layer("base-2", kib * 1024)]
    digests: dict[str, str] = {}
    blobs: dict[str, int] = {}
    repositories = [f"bench/r{r:02d}" for r in range(REPOS)]
    try:
        for r, repo in enumerate(repositories):
            pushed: set[str] = set()
            shared = _random_layer(f"repo-{r}", kib * 512)
            for t in range(TAGS):
                own = _random_layer(f"own-{r}-{t}", kib * 128)
                layers = [*bases, shared, own]
                config = ImageConfig.build(
                    architecture="amd64",
                    os="linux",
                    diff_ids=[layer.diff_id for layer in layers],
                    history=[History(created_by=f"layer {i}") for i in range(len(layers))],
                    created="2024-01-01T00:00:00Z",
                    config={"Labels": {"image": f"{r}-{t}"}},
                )
                config_desc = Descriptor.of(mt.OCI_CONFIG, config.raw)
                manifest = ImageManifest.build(config_desc, [x.descriptor for x in layers])
                ref = Reference(source.host, repo, f"1.{t}.0")
                for layer in layers:
                    desc = layer.descriptor
                    if str(desc.digest) not in pushed:
                        store.blob_put(ref, layer.blob, digest=desc.digest, size=desc.size)
                        pushed.add(str(desc.digest))
                    blobs[str(desc.digest)] = desc.size
                store.blob_put(ref, config.raw, digest=config_desc.digest, size=config_desc.size)
                blobs[str(config_desc.digest)] = config_desc.size
                store.manifest_put(ref, manifest)
                digests[f"{repo}:1.{t}.0"] = str(manifest.digest)
    finally:
        store.close()
    return Fixture(repositories, digests, sum(blobs.values()))


def _verify(dest: Registry, fixture: Fixture, prefix: str) -> None:
    """Every tag is at the destination and names the source's digest."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for name, digest in fixture.digests.items():
        repo, tag = name.rsplit(":", 1)
        last = repo.rsplit("/", 1)[1]  # skopeo sync keeps the last path component
        url = f"http://{dest.host}/v2/{prefix}/{last}/manifests/{tag}"
        request = urllib.request.Request(url, method="HEAD", headers={"Accept": mt.OCI_MANIFEST})
        try:
            with opener.open(request, timeout=10) as answer:
                found = answer.headers.get("Docker-Content-Digest")
        except OSError as exc:
            raise RuntimeError(f"{prefix}/{last}:{tag} missing at the destination: {exc}") from None
        if found != digest:
            raise RuntimeError(f"{prefix}/{last}:{tag} is {found}, not {digest}")


def _counts(requests: Sequence[tuple[str, str]]) -> dict[str, int]:
    return {
        "requests": len(requests),
        "manifest_gets": sum(1 for m, p in requests if m == "GET" and "/manifests/" in p),
        "heads": sum(1 for m, _ in requests if m == "HEAD"),
        "uploads": sum(1 for m, p in requests if m == "PUT" and "/blobs/uploads/" in p),
        "mounts": sum(1 for m, p in requests if m == "POST" and "mount=" in p),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--kib", type=int, default=1024, help="size unit of the layers (KiB)")
    p.add_argument("--jobs", type=int, default=4, help="hoist's jobs (images at once)")
    p.add_argument("--hoist", default=" ".join(default_hoist()))
    p.add_argument("--skopeo", default="skopeo")
    p.add_argument("--registry-bin", default="docker-registry")
    p.add_argument("--idle-wait", type=float, default=30.0)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    with workspace(args.workdir) as work:
        source = LoggedRegistry(work / "source", args.registry_bin)
        dest = LoggedRegistry(work / "dest", args.registry_bin)
        source.start()
        dest.start()
        try:
            log(f"pushing {REPOS} x {TAGS} images to {source.host}")
            fixture = build_and_push(source, args.kib)
            log(f"  {fixture.bytes / 1e6:.1f} MB of distinct blobs")
            env = client_env(work, [source.host, dest.host])
            hoist_config = work / "sync.yaml"
            names = ", ".join(fixture.repositories)
            hoist_config.write_text(
                f"defaults:\n  jobs: {args.jobs}\n"
                f"sync:\n  - source: {source.host}\n    target: {dest.host}\n"
                f"    repositories: [{names}]\n    strip-prefix: bench\n    add-prefix: hoist\n"
            )
            skopeo_yaml = work / "skopeo-sync.yaml"
            skopeo_yaml.write_text(
                json.dumps(
                    {
                        source.host: {
                            "tls-verify": False,
                            "images-by-tag-regex": {r: ".*" for r in fixture.repositories},
                        }
                    }
                )
            )
            tools = {
                "hoist": [
                    *args.hoist.split(),
                    "sync",
                    "apply",
                    "-c",
                    str(hoist_config),
                    "--no-journal",
                    "-q",
                ],
                "skopeo": [
                    args.skopeo,
                    "--policy",
                    str(work / "policy.json"),
                    "sync",
                    "--src",
                    "yaml",
                    "--dest",
                    "docker",
                    "--dest-tls-verify=false",
                    "--preserve-digests",
                    str(skopeo_yaml),
                    f"{dest.host}/skopeo",
                ],
            }
            prefixes = {"hoist": "hoist", "skopeo": "skopeo"}
            samples: list[dict[str, Any]] = []
            for n in range(args.rounds):
                order = list(tools) if n % 2 == 0 else list(reversed(tools))
                for tool in order:
                    dest.restart(fresh=True)
                    for case in ("full", "again"):
                        if tool == "skopeo":
                            for bic in _BIC:
                                if case == "full" and bic.exists():
                                    bic.unlink()
                        if args.idle_wait:
                            wait_for_idle(args.idle_wait)
                        marks = (source.log_size(), dest.log_size())
                        seconds, rss, cpu, code, out, err = run_measured(tools[tool], env)
                        if code != 0:
                            raise RuntimeError(f"{tool} {case} failed ({code}):\n{out}\n{err}")
                        at_src = _counts(source.requests_since(marks[0]))
                        at_dst = _counts(dest.requests_since(marks[1]))
                        if case == "full":
                            _verify(dest, fixture, prefixes[tool])
                        sample = {
                            "round": n,
                            "tool": tool,
                            "case": case,
                            "seconds": seconds,
                            "cpu_s": cpu,
                            "rss_kib": rss,
                            "source": at_src,
                            "dest": at_dst,
                        }
                        samples.append(sample)
                        log(
                            f"  round {n} {tool:6} {case:5} {seconds:6.2f} s  "
                            f"{at_src['requests'] + at_dst['requests']:5} requests  "
                            f"{at_src['manifest_gets']:4} pulls"
                        )
        finally:
            source.stop()
            dest.stop()
    if args.json:
        json.dump({"bytes": fixture.bytes, "samples": samples}, sys.stdout, indent=2)
        print()
        return 0
    print(_table(samples))
    return 0


def _table(samples: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| case | tool | wall s | CPU s | requests | source manifest GETs | HEADs | blob uploads "
        "| mounts |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in ("full", "again"):
        for tool in ("hoist", "skopeo"):
            rows = [s for s in samples if s["tool"] == tool and s["case"] == case]
            if not rows:
                continue

            def med(key: str, where: str | None = None, rows: list[Any] = rows) -> float:
                return statistics.median((r[where][key] if where else r[key]) for r in rows)

            requests = statistics.median(
                r["source"]["requests"] + r["dest"]["requests"] for r in rows
            )
            heads = statistics.median(r["source"]["heads"] + r["dest"]["heads"] for r in rows)
            lines.append(
                f"| {case} | {tool} | {med('seconds'):.2f} | {med('cpu_s'):.2f} | {requests:.0f} | "
                f"{med('manifest_gets', 'source'):.0f} | {heads:.0f} | "
                f"{med('uploads', 'dest'):.0f} | {med('mounts', 'dest'):.0f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
