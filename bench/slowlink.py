"""The slow-link case: copies through :class:`~latency_proxy.LatencyProxy`, counted in round trips.

Each registry gets a proxy in front of it; the tools talk to the proxies only. Three cases, each
run once with no added latency and once with ``rtt`` (40 ms) of round-trip time:

* ``cold``: a 2-platform image of small layers (:func:`write_images`) into an empty registry,
* ``again``: the same copy right after it, with nothing left to do,
* ``repo``: every tag of a repository whose 20 tags name 5 such images sharing layers, into an
  empty registry (``hoist repo copy``, ``skopeo sync``).

A case's round trips are the time the two links had something in flight (the union over both
proxies of every piece's time on the wire, a connection's handshake included), over ``rtt``:
requests in flight together cost one, the client's own work between them costs none (median of
the rounds). ``(median time at rtt - median time at 0) / rtt``, the latency the run's wall time
shows, is in the JSON too (``round_trips_by_time``); it moves with the client's CPU noise. The
proxies also count connections and requests; for ``repo`` they count the blob uploads (``PUT``
of an upload session with ``?digest=``) per digest, which shows whether a digest shared by
several tags was sent once.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from common import Registry, http_status, log, run_measured
from latency_proxy import LatencyProxy, Stats
from tools import PEERS, Place, Tool

from hoist.config.settings import RegistrySettings
from hoist.model import mediatype as mt
from hoist.model.config import History
from hoist.model.manifest import Index
from hoist.model.platform import Platform
from hoist.model.reference import Reference
from hoist.store.registry import RegistryStore
from hoist.testing.sample import build_image, make_layer

SMALL_REPOSITORY = "bench/small"
TAGS_REPOSITORY = "bench/tags"
SMALL_TAG = "v1"
PLATFORMS = (Platform("linux", "amd64"), Platform("linux", "arm64", "v8"))
DISTINCT = 5
"""Distinct images behind the repository's tags."""
TAG_COUNT = 20
LAYER_BYTES = 32 * 1024
CASES = ("cold", "again", "repo")


@dataclass(frozen=True)
class SmallImages:
    """What :func:`write_images` pushed: the image of ``cold``/``again`` and the tags of
    ``repo`` (tag -> index digest), with the blobs the tags reference, counted once."""

    digest: str
    tags: dict[str, str]
    blob_count: int
    """Distinct blobs behind the tags."""
    small_blobs: int
    """Blobs of the image of ``cold``."""


def _random_layer(name: str, seed: int) -> Any:
    data = random.Random(f"{seed}-{name}").randbytes(LAYER_BYTES)
    return make_layer({f"data/{name}.bin": data})


def write_images(host: str, seed: int = 12) -> SmallImages:
    """Push the images to ``host`` (plain HTTP, in process): image ``k`` has, per platform, a
    base layer shared by every image of that platform, a layer shared by everything, and a layer
    and config of its own. Tag ``v1`` of ``bench/small`` is image 0; ``t01``..``t20`` of
    ``bench/tags`` cycle through the five images."""
    store = RegistryStore(settings={host: RegistrySettings(tls="disabled")}, credentials=None)
    common = _random_layer("common", seed)
    bases = {p: _random_layer(f"base-{p.architecture}", seed) for p in PLATFORMS}
    images: list[Index] = []
    blobs_by_image: list[dict[Any, bytes]] = []
    children_by_image = []
    for k in range(DISTINCT):
        blobs: dict[Any, bytes] = {}
        children = []
        for p in PLATFORMS:
            app = _random_layer(f"app-{k}-{p.architecture}", seed)
            manifest, more = build_image(
                [bases[p], common, app],
                [
                    History(created="2024-01-01T00:00:00Z", created_by=f"layer {i}")
                    for i in range(3)
                ],
                platform=p,
                config={"Cmd": ["/app"], "Env": [f"IMAGE={k}"]},
            )
            blobs.update(more)
            children.append(manifest)
        index = Index.build(
            [m.descriptor(platform=p) for m, p in zip(children, PLATFORMS, strict=True)],
            media_type=mt.OCI_INDEX,
        )
        images.append(index)
        blobs_by_image.append(blobs)
        children_by_image.append(children)
    tags = {f"t{i + 1:02}": images[i % DISTINCT] for i in range(TAG_COUNT)}
    try:
        for repository, wanted in (
            (SMALL_REPOSITORY, {SMALL_TAG: images[0]}),
            (TAGS_REPOSITORY, tags),
        ):
            pushed: set[Any] = set()
            for tag, index in wanted.items():
                k = images.index(index)
                ref = Reference(host, repository, tag)
                if index.digest not in pushed:
                    for digest, blob in blobs_by_image[k].items():
                        store.blob_put(ref, blob, digest=digest, size=len(blob))
                    for child in children_by_image[k]:
                        store.manifest_put(ref.by_digest(child.digest), child)
                    pushed.add(index.digest)
                store.manifest_put(ref, index)
    finally:
        store.close()
    every = {d for blobs in blobs_by_image for d in blobs}
    return SmallImages(
        str(images[0].digest),
        {t: str(i.digest) for t, i in tags.items()},
        len(every),
        len(blobs_by_image[0]),
    )


@dataclass
class LinkRun:
    seconds: float
    src: Stats
    dst: Stats

    def uploads(self) -> Counter[str]:
        """Blob uploads per digest (a ``PUT`` with ``?digest=``) at the destination."""
        counts: Counter[str] = Counter()
        for method, target in self.dst.requests:
            if method == "PUT" and "/blobs/uploads/" in target:
                for digest in parse_qs(urlsplit(target).query).get("digest", []):
                    counts[digest] += 1
        return counts


class ToolFailed(RuntimeError):
    """A tool's copy exited non-zero (not the registries or the proxies failing)."""


@dataclass
class SlowLink:
    """The registries, their proxies and the images of the slow-link case."""

    workdir: Path
    src_registry: Registry
    dst_registry: Registry
    src_proxy: LatencyProxy
    dst_proxy: LatencyProxy
    images: SmallImages
    results: dict[tuple[str, str, float], list[LinkRun]] = field(default_factory=dict)

    def place(self, side: str, repository: str, tag: str) -> Place:
        proxy = self.src_proxy if side == "src" else self.dst_proxy
        return Place("registry", tag, host=proxy.host, repository=repository)

    def verify(self, case: str) -> None:
        base = f"http://{self.dst_registry.host}/v2"
        wanted = {SMALL_TAG: self.images.digest} if case != "repo" else dict(self.images.tags)
        repository = SMALL_REPOSITORY if case != "repo" else TAGS_REPOSITORY
        for tag, digest in wanted.items():
            for ref in (tag, digest):
                url = f"{base}/{repository}/manifests/{ref}"
                if http_status(url, "HEAD", accept=mt.OCI_INDEX) != 200:
                    raise RuntimeError(f"slow link {case}: {repository}:{ref} missing")

    def run(self, tool: Tool, case: str, rtt: float, env: dict[str, str]) -> LinkRun | None:
        if case in ("cold", "repo"):
            self.dst_registry.restart(fresh=True)
        if case == "repo":
            argv = tool.repo_copy(
                self.place("src", TAGS_REPOSITORY, "t01"), self.place("dst", TAGS_REPOSITORY, "t01")
            )
        else:
            argv = tool.copy(
                self.place("src", SMALL_REPOSITORY, SMALL_TAG),
                self.place("dst", SMALL_REPOSITORY, SMALL_TAG),
                self.workdir / f"{tool.name}-digest",
            )
        if argv is None:
            return None
        self.src_proxy.rtt = self.dst_proxy.rtt = rtt
        self.src_proxy.reset()
        self.dst_proxy.reset()
        seconds, _, _, code, _, stderr = run_measured(argv, env)
        src, dst = self.src_proxy.reset(), self.dst_proxy.reset()
        if code != 0:
            raise ToolFailed(f"{' '.join(argv)} failed ({code}):\n{stderr}")
        self.verify(case)
        return LinkRun(seconds, src, dst)


def run_rounds(
    link: SlowLink,
    tools: Sequence[Tool],
    envs: dict[str, dict[str, str]],
    rounds: int,
    rtt: float,
) -> None:
    """Every tool and case, at no added latency and at ``rtt``, ``rounds`` times. A peer
    (regctl, crane, oras) that fails is left out of the section (its cases build on each
    other: "again" follows "cold"), logged, and the run goes on; hoist or skopeo failing
    ends it."""
    failed: set[str] = set()

    def attempt(tool: Tool, case: str, delay: float) -> LinkRun | None:
        if tool.name in failed:
            return None
        try:
            return link.run(tool, case, delay, envs[tool.name])
        except ToolFailed as exc:
            if tool.name not in PEERS:
                raise
            failed.add(tool.name)
            for key in [key for key in link.results if key[0] == tool.name]:
                del link.results[key]
            first = next((line for line in str(exc).splitlines()[1:] if line.strip()), str(exc))
            log(f"slow link: {tool.name} failed {case}; left out of this section: {first}")
            return None

    for tool in tools:  # warm-up, not counted: page cache, bytecode, the registries' caches
        for case in CASES:
            attempt(tool, case, 0.0)
    for n in range(rounds):
        order = list(tools) if n % 2 == 0 else list(tools)[::-1]
        for tool in order:
            for delay in (0.0, rtt):
                for case in CASES:
                    run = attempt(tool, case, delay)
                    if run is None:
                        continue
                    link.results.setdefault((tool.name, case, delay), []).append(run)
                    log(
                        f"slow link {n + 1}/{rounds} {tool.name:7} {case:5} rtt "
                        f"{delay * 1000:3.0f} ms {run.seconds:6.2f} s, requests "
                        f"{len(run.src.requests)}+{len(run.dst.requests)}, connections "
                        f"{run.src.connections}+{run.dst.connections}"
                    )


def summarize(link: SlowLink, tools: Sequence[Tool], rtt: float) -> list[dict[str, Any]]:
    """One row per tool and case: medians of time, round trips, requests, connections."""
    rows = []
    for tool in tools:
        for case in CASES:
            fast = link.results.get((tool.name, case, 0.0))
            slow = link.results.get((tool.name, case, rtt))
            if not fast or not slow:
                continue
            t0 = statistics.median(r.seconds for r in fast)
            t1 = statistics.median(r.seconds for r in slow)
            uploads = slow[-1].uploads()
            rows.append(
                {
                    "tool": tool.name,
                    "case": case,
                    "seconds_rtt0": t0,
                    "seconds_rtt": t1,
                    "round_trips": statistics.median(r.src.busy(r.dst) for r in slow) / rtt,
                    "round_trips_by_time": (t1 - t0) / rtt,
                    "requests_src": statistics.median(len(r.src.requests) for r in slow),
                    "requests_dst": statistics.median(len(r.dst.requests) for r in slow),
                    "connections_src": statistics.median(r.src.connections for r in slow),
                    "connections_dst": statistics.median(r.dst.connections for r in slow),
                    "blob_uploads": sum(uploads.values()),
                    "distinct_uploads": len(uploads),
                    "max_uploads_per_digest": max(uploads.values(), default=0),
                    "samples_rtt0_s": [round(r.seconds, 4) for r in fast],
                    "samples_rtt_s": [round(r.seconds, 4) for r in slow],
                    "requests_src_list": [f"{m} {t}" for m, t in slow[-1].src.requests],
                    "requests_dst_list": [f"{m} {t}" for m, t in slow[-1].dst.requests],
                }
            )
    return rows
