#!/usr/bin/env python3
"""Benchmark ``hoist image copy`` against ``skopeo copy`` on real loopback registries.

One run starts two ``docker-registry`` (CNCF distribution) instances with temporary filesystem
storage, builds a multi-layer image with hoist's own model (about 500 MB: half the layers random,
half compressible, all gzip), pushes it once to the source registry, then times both tools, as
subprocesses, copying it

* registry -> registry (an empty destination registry each run),
* registry -> ocidir   (a fresh layout directory each run),
* ocidir   -> registry (an empty destination registry each run),

for ``--rounds`` rounds, alternating which tool goes first. It prints the median wall time, the
throughput, the ratio hoist/skopeo and the peak memory (max RSS) of each tool; ``--json`` prints
every sample as JSON instead. ``--memory-check`` also copies an image twice as big with hoist
once per case, to show that its peak memory does not grow with the image.

    /work/venv/bin/python bench/copy_bench.py --rounds 5 --memory-check

See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from isal import isal_zlib

from hoist.copy import image_copy
from hoist.model import mediatype as mt
from hoist.model.config import History, ImageConfig
from hoist.model.descriptor import Descriptor
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest
from hoist.model.reference import LayoutReference, Reference
from hoist.store.ocidir import OCIDirStore
from hoist.store.registry import RegistryStore
from hoist.transport.settings import RegistrySettings

REPOSITORY = "bench/image"
BIG_REPOSITORY = "bench/big"
TAG = "v1"
CREATED = "2024-01-01T00:00:00Z"
MB = 1_000_000
MIB = 1 << 20
TOOLS = ("hoist", "skopeo")

# Direct connections only: loopback must never go through an HTTP(S)_PROXY.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- registries ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(
    url: str, method: str = "GET", timeout: float = 5.0, accept: str | None = None
) -> int:
    headers = {"Accept": accept} if accept else {}
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        with err:
            return int(err.code)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq + steal
    return busy / tick, (busy + idle + iowait) / tick


def wait_for_idle(limit: float, busy_max: float = 0.10) -> float:
    """Wait until the machine is at least ``1 - busy_max`` idle over one second (at most
    ``limit`` seconds); returns the seconds waited. Other work on the machine (a test suite
    starting registries) would otherwise land in the timings."""
    started = time.monotonic()
    while True:
        busy0, total0 = machine_cpu()
        time.sleep(1.0)
        busy1, total1 = machine_cpu()
        if (busy1 - busy0) / max(total1 - total0, 1e-9) <= busy_max:
            return time.monotonic() - started
        if time.monotonic() - started >= limit:
            log(f"  machine still busy after {limit:.0f} s; running anyway")
            return time.monotonic() - started


class Registry:
    """A ``docker-registry serve`` on 127.0.0.1 with filesystem storage under ``workdir``.

    The same configuration as tests/registry_fixtures.py (anonymous), with request logging off.
    The port is chosen once and kept across restarts, so hoist's config file stays valid.
    """

    def __init__(self, workdir: Path, binary: str) -> None:
        self.workdir = workdir
        self.binary = binary
        self.root = workdir / "data"
        self.config_path = workdir / "config.yml"
        self.log_path = workdir / "registry.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        return {
            "version": "0.1",
            "log": {"level": "error", "formatter": "text", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host, "secret": secrets.token_hex(16)},
        }

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")
        # REGISTRY_* variables would override the config file; keep them out.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                code, self.proc = self.proc.returncode, None
                raise RuntimeError(f"docker-registry exited with {code}; see {self.log_path}")
            try:
                if http_status(f"http://{self.host}/v2/", timeout=2.0) in (200, 401):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"docker-registry not ready on {self.host}; see {self.log_path}")
            time.sleep(0.05)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def cpu_seconds(self) -> float:
        """User + system CPU time the registry process has used so far."""
        if self.proc is None:
            return 0.0
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def restart(self, fresh: bool = True) -> None:
        """Stop, wipe the storage when ``fresh``, and start again on the same port."""
        self.stop()
        if fresh and self.root.exists():
            shutil.rmtree(self.root)
        self.start()


# -- the image -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    """What was generated: the manifest digest and the bytes a copy moves."""

    digest: str
    blobs: dict[str, int]
    manifest_size: int
    layers: list[dict[str, Any]]

    @property
    def total_bytes(self) -> int:
        return sum(self.blobs.values()) + self.manifest_size


_BLOCK_RANDOM = 128 * 1024
"""A compressible block: this many random bytes as hex text (4 bits of entropy per byte) ..."""
_BLOCK_ZEROS = 256 * 1024
"""... followed by this many zero bytes (sparse data). gzip shrinks such a block to ~27%."""


def _layer_content(kind: str, target: int, rng: random.Random) -> tuple[int, Iterator[bytes]]:
    """The uncompressed size and the content chunks of one layer file of about ``target``
    compressed bytes."""
    if kind == "random":
        size = target

        def random_chunks() -> Iterator[bytes]:
            left = size
            while left > 0:
                n = min(left, 4 * MIB)
                yield rng.randbytes(n)
                left -= n

        return size, random_chunks()

    def block() -> bytes:
        return rng.randbytes(_BLOCK_RANDOM).hex().encode() + bytes(_BLOCK_ZEROS)

    probe = block()
    ratio = len(isal_zlib.compress(probe, 1)) / len(probe)
    count = max(1, round(target / (ratio * len(probe))))

    def compressible_chunks() -> Iterator[bytes]:
        yield probe
        for _ in range(count - 1):
            yield block()

    return count * len(probe), compressible_chunks()


def make_layer(index: int, kind: str, target: int, seed: int) -> tuple[bytes, Descriptor, Digest]:
    """A gzip layer holding one file, streamed through the tar writer, hasher and compressor:
    (blob, descriptor, diff_id). Memory holds the compressed blob only."""
    rng = random.Random(f"{seed}-{index}-{kind}")
    size, chunks = _layer_content(kind, target, rng)
    info = tarfile.TarInfo(f"data/layer-{index}-{kind}.bin")
    info.size, info.mode, info.mtime = size, 0o644, 0
    diff = hashlib.sha256()
    gz = isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)  # wbits 31: gzip framing
    out: list[bytes] = []
    written = 0

    def feed(data: bytes) -> None:
        nonlocal written
        diff.update(data)
        written += len(data)
        out.append(gz.compress(data))

    feed(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
    for chunk in chunks:
        feed(chunk)
    feed(bytes((-size) % tarfile.BLOCKSIZE))
    feed(bytes(2 * tarfile.BLOCKSIZE))  # end of archive
    feed(bytes((-written) % tarfile.RECORDSIZE))  # as tarfile pads the last record
    out.append(gz.flush())
    blob = b"".join(out)
    return blob, Descriptor.of(mt.OCI_LAYER_GZIP, blob), Digest("sha256", diff.hexdigest())


def build_layout(path: Path, total: int, layers: int, seed: int) -> ImageInfo:
    """Write the benchmark image to the OCI layout ``path`` (tag ``v1``) with hoist's store:
    blobs first, one layer at a time, then the manifest (as hoist.sample.write_image does)."""
    marker = path / "bench-image.json"
    wanted = {"total": total, "layers": layers, "seed": seed}
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if saved.get("params") == wanted:
            log(f"reusing the image in {path}")
            return ImageInfo(**saved["info"])
    if path.exists():
        shutil.rmtree(path)
    store = OCIDirStore(fsync=False)
    ref = LayoutReference("ocidir", str(path), TAG)
    per_layer = total // layers
    descs: list[Descriptor] = []
    diff_ids: list[Digest] = []
    history: list[History] = []
    described: list[dict[str, Any]] = []
    for i in range(layers):
        kind = "random" if i % 2 == 0 else "compressible"
        started = time.perf_counter()
        blob, desc, diff_id = make_layer(i, kind, per_layer, seed)
        store.blob_put(ref, blob, digest=desc.digest, size=desc.size, media_type=desc.media_type)
        log(
            f"  layer {i}: {kind:12} {desc.size / MB:7.1f} MB gzip "
            f"({time.perf_counter() - started:.1f} s)"
        )
        descs.append(desc)
        diff_ids.append(diff_id)
        history.append(History(created=CREATED, created_by=f"COPY layer-{i}-{kind}.bin /data/"))
        described.append({"kind": kind, "digest": str(desc.digest), "size": desc.size})
        del blob
    config = ImageConfig.build(
        architecture="amd64",
        os="linux",
        diff_ids=diff_ids,
        history=history,
        config={"Cmd": ["/bin/sh"]},
        created=CREATED,
    )
    config_desc = Descriptor.of(mt.OCI_CONFIG, config.raw)
    store.blob_put(ref, config.raw, digest=config_desc.digest, size=config_desc.size)
    manifest = ImageManifest.build(config_desc, descs)
    store.manifest_put(ref, manifest)
    blobs = {str(d.digest): d.size for d in (config_desc, *descs)}
    info = ImageInfo(str(manifest.digest), blobs, len(manifest.raw), described)
    marker.write_text(json.dumps({"params": wanted, "info": asdict(info)}, indent=2))
    return info


def push(layout: Path, registry: Registry, repository: str) -> None:
    """Copy the layout to the source registry once, in process, with hoist's library."""
    dst = RegistryStore(
        settings={registry.host: RegistrySettings(tls="disabled")}, credentials=None
    )
    try:
        image_copy(
            OCIDirStore(),
            LayoutReference("ocidir", str(layout), TAG),
            dst,
            Reference(registry.host, repository, TAG),
        )
    finally:
        dst.close()


# -- running the tools ---------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    max_rss_kib: int
    cpu_s: float
    """User + system CPU time of the tool."""
    registry_cpu_s: float
    """CPU time of both registries during the run: the same work for both tools, ideally."""
    other_cpu_s: float
    """CPU time of everything else on the machine during the run (0 on a quiet machine)."""


@dataclass
class Case:
    name: str
    src: str  # "registry" | "ocidir"
    dst: str


CASES = {
    "registry->registry": Case("registry->registry", "registry", "registry"),
    "registry->ocidir": Case("registry->ocidir", "registry", "ocidir"),
    "ocidir->registry": Case("ocidir->registry", "ocidir", "registry"),
}


@dataclass(frozen=True)
class Source:
    """An image to copy: in the layout ``layout`` and at ``repository`` on the source registry."""

    info: ImageInfo
    layout: Path
    repository: str


@dataclass
class Bench:
    """Everything a timed run needs."""

    workdir: Path
    src_registry: Registry
    dst_registry: Registry
    hoist: list[str]
    skopeo: str
    hoist_args: list[str]
    env: dict[str, str]
    idle_wait: float = 0.0

    def location(self, tool: str, kind: str, side: str, image: Source) -> str:
        if kind == "registry":
            registry = self.src_registry if side == "src" else self.dst_registry
            name = f"{registry.host}/{image.repository}:{TAG}"
            return name if tool == "hoist" else f"docker://{name}"
        path = image.layout if side == "src" else self.workdir / "dst-layout"
        return f"ocidir://{path}:{TAG}" if tool == "hoist" else f"oci:{path}:{TAG}"

    def prepare(self, case: Case) -> None:
        """An empty destination: a wiped, restarted registry or no layout directory."""
        if case.dst == "registry":
            self.dst_registry.restart(fresh=True)
        else:
            shutil.rmtree(self.workdir / "dst-layout", ignore_errors=True)
        os.sync()  # no dirty pages from the previous run are written back during this one

    def command(self, tool: str, case: Case, image: Source) -> tuple[list[str], Path | None]:
        src = self.location(tool, case.src, "src", image)
        dst = self.location(tool, case.dst, "dst", image)
        if tool == "hoist":
            return [*self.hoist, "image", "copy", "-q", *self.hoist_args, src, dst], None
        digest_file = self.workdir / "skopeo-digest"
        digest_file.unlink(missing_ok=True)
        return [
            self.skopeo,
            "--policy",
            str(self.workdir / "policy.json"),
            "copy",
            "--quiet",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--digestfile",
            str(digest_file),
            src,
            dst,
        ], digest_file

    def run(self, tool: str, case: Case, image: Source) -> Run:
        self.prepare(case)
        argv, digest_file = self.command(tool, case, image)
        if self.idle_wait > 0:
            wait_for_idle(self.idle_wait)
        registries = (self.src_registry, self.dst_registry)
        before = sum(r.cpu_seconds() for r in registries)
        machine_before, _ = machine_cpu()
        seconds, rss, cpu, code, stdout, stderr = run_measured(argv, self.env)
        registry_cpu = sum(r.cpu_seconds() for r in registries) - before
        other_cpu = max(0.0, machine_cpu()[0] - machine_before - registry_cpu - cpu)
        if code != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({code}):\n{stderr}")
        digest = stdout.strip().splitlines()[-1] if tool == "hoist" else ""
        if digest_file is not None:
            digest = digest_file.read_text().strip()
        if digest != image.info.digest:
            raise RuntimeError(f"{tool} {case.name}: digest {digest!r}, want {image.info.digest}")
        self.verify(case, image)
        return Run(seconds, rss, cpu, registry_cpu, other_cpu)

    def verify(self, case: Case, source: Source) -> None:
        """Every blob is at the destination with its size; the manifest is there too."""
        image = source.info
        if case.dst == "registry":
            base = f"http://{self.dst_registry.host}/v2/{source.repository}"
            for digest in image.blobs:
                if http_status(f"{base}/blobs/{digest}", "HEAD") != 200:
                    raise RuntimeError(f"{case.name}: blob {digest} missing at the destination")
            url = f"{base}/manifests/{image.digest}"
            if http_status(url, "HEAD", accept=mt.OCI_MANIFEST) != 200:
                raise RuntimeError(f"{case.name}: manifest missing at the destination")
            return
        root = self.workdir / "dst-layout"
        for digest, size in image.blobs.items():
            path = root / "blobs" / digest.replace(":", "/")
            if not path.is_file() or path.stat().st_size != size:
                raise RuntimeError(f"{case.name}: blob {digest} missing or wrong size in {root}")
        index = json.loads((root / "index.json").read_text())
        if not any(m.get("digest") == image.digest for m in index.get("manifests", [])):
            raise RuntimeError(f"{case.name}: {image.digest} not in {root}/index.json")


# Forks and execs the command, then writes its wall time, its own peak RSS (KiB) and its CPU time
# (user + system) to the file named by argv[1]. The launcher exists because Linux folds the RSS
# high-water mark of the memory a process had before exec into that process's ru_maxrss: a child
# forked straight from this (big) script would report at least this script's RSS. Forked from a
# fresh ``python -S`` (~8 MiB) instead, the command's own peak is what shows.
_LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as f:
    f.write(f"{seconds!r} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime!r}")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_measured(
    argv: Sequence[str], env: dict[str, str]
) -> tuple[float, int, float, int, str, str]:
    """Run ``argv``: (wall seconds, max RSS in KiB, CPU seconds, exit code, stdout, stderr)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rusage") as report,
    ):
        launcher = [sys.executable, "-S", "-c", _LAUNCHER, report.name]
        code = subprocess.run(
            [*launcher, *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
        ).returncode
        seconds, rss, cpu = report.read().split()
        out.seek(0)
        err.seek(0)
        return (
            float(seconds),
            int(rss),
            float(cpu),
            code,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


# -- reporting -----------------------------------------------------------------------------------


def summarize(results: dict[str, dict[str, list[Run]]], image: ImageInfo) -> list[dict[str, Any]]:
    rows = []
    for case, by_tool in results.items():
        row: dict[str, Any] = {"case": case}
        for tool in TOOLS:
            runs = by_tool.get(tool, [])
            if not runs:
                continue
            median = statistics.median(r.seconds for r in runs)
            row[tool] = {
                "median_s": median,
                "min_s": min(r.seconds for r in runs),
                "max_s": max(r.seconds for r in runs),
                "mb_per_s": image.total_bytes / MB / median,
                "median_cpu_s": statistics.median(r.cpu_s for r in runs),
                "median_registry_cpu_s": statistics.median(r.registry_cpu_s for r in runs),
                "median_other_cpu_s": statistics.median(r.other_cpu_s for r in runs),
                "max_rss_mib": max(r.max_rss_kib for r in runs) / 1024,
                "median_rss_mib": statistics.median(r.max_rss_kib for r in runs) / 1024,
                "samples_s": [round(r.seconds, 4) for r in runs],
                "samples_rss_kib": [r.max_rss_kib for r in runs],
                "samples_cpu_s": [round(r.cpu_s, 3) for r in runs],
                "samples_registry_cpu_s": [round(r.registry_cpu_s, 3) for r in runs],
                "samples_other_cpu_s": [round(r.other_cpu_s, 3) for r in runs],
            }
        if "hoist" in row and "skopeo" in row:
            row["ratio"] = row["hoist"]["median_s"] / row["skopeo"]["median_s"]
        rows.append(row)
    return rows


_COLUMNS = [
    # header, tool (None: the row itself), key, format
    ("hoist s", "hoist", "median_s", ".2f"),
    ("skopeo s", "skopeo", "median_s", ".2f"),
    ("hoist MB/s", "hoist", "mb_per_s", ".0f"),
    ("skopeo MB/s", "skopeo", "mb_per_s", ".0f"),
    ("hoist/skopeo", None, "ratio", ".2f"),
    ("hoist RSS MiB", "hoist", "max_rss_mib", ".1f"),
    ("skopeo RSS MiB", "skopeo", "max_rss_mib", ".1f"),
    ("hoist CPU s", "hoist", "median_cpu_s", ".2f"),
    ("skopeo CPU s", "skopeo", "median_cpu_s", ".2f"),
]


def table(rows: list[dict[str, Any]]) -> str:
    """The medians as a plain-text table, one line per case."""
    lines = ["  ".join([f"{'case':20}", *(f"{h:>{len(h)}}" for h, *_ in _COLUMNS)])]
    lines.append("-" * len(lines[0]))
    for row in rows:
        cells = [f"{row['case']:20}"]
        for header, tool, key, fmt in _COLUMNS:
            where = row if tool is None else row.get(tool, {})
            value = where.get(key)
            cells.append(
                f"{value:>{len(header)}{fmt}}" if value is not None else f"{'-':>{len(header)}}"
            )
        lines.append("  ".join(cells))
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------


def default_hoist() -> list[str]:
    script = Path(sys.executable).parent / "hoist"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "hoist"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time hoist image copy against skopeo copy on loopback registries.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--rounds", type=int, default=5, help="timed runs per tool and case")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    p.add_argument("--size-mb", type=int, default=500, help="image size (compressed, 10^6 B)")
    p.add_argument("--layers", type=int, default=8, help="layers; even ones random, odd ones text")
    p.add_argument("--seed", type=int, default=4, help="seed of the image content")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of the cases")
    p.add_argument(
        "--idle-wait",
        type=float,
        default=120.0,
        help="before each run, wait up to this many seconds for the machine to be >90%% idle "
        "(0: do not wait)",
    )
    p.add_argument(
        "--max-other-cpu",
        type=float,
        default=0.3,
        help="a run during which the rest of the machine used more CPU seconds than this is "
        "run again (see --retries)",
    )
    p.add_argument("--retries", type=int, default=3, help="repeats of a busy run, at most")
    p.add_argument("--json", action="store_true", help="print JSON on stdout, not the table")
    p.add_argument(
        "--memory-check",
        action="store_true",
        help="also copy a 2x image once per case with hoist and compare its peak RSS",
    )
    p.add_argument(
        "--hoist",
        type=shlex.split,
        default=default_hoist(),
        help="the hoist command, split like a shell would (default: the venv's hoist); e.g. "
        "'env PYTHONPATH=/other/src python -m hoist' to time another checkout",
    )
    p.add_argument(
        "--hoist-arg",
        action="append",
        default=[],
        help="extra argument for hoist image copy (repeatable), e.g. --hoist-arg=--concurrency=8",
    )
    p.add_argument("--skopeo", default=shutil.which("skopeo") or "skopeo")
    p.add_argument(
        "--registry-bin",
        default=shutil.which("docker-registry") or shutil.which("registry") or "docker-registry",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        help="keep everything here (the generated image is reused); default: a temporary dir",
    )
    args = p.parse_args(argv)
    unknown = [c for c in args.cases.split(",") if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    return args


@contextmanager
def workspace(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="hoist-bench-", dir="/var/tmp") as tmp:
        yield Path(tmp)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cases = [CASES[c] for c in args.cases.split(",")]
    with ExitStack() as stack:
        workdir = stack.enter_context(workspace(args.workdir))
        src = Registry(workdir / "registry-src", args.registry_bin)
        dst = Registry(workdir / "registry-dst", args.registry_bin)
        stack.callback(src.stop)
        stack.callback(dst.stop)
        src.restart(fresh=True)
        dst.start()
        log(f"registries: source {src.host}, destination {dst.host}; workdir {workdir}")

        config = workdir / "hoist-config.json"
        config.write_text(
            json.dumps({"registries": {r.host: {"tls": "disabled"} for r in (src, dst)}})
        )
        docker_config = workdir / "docker-config"
        docker_config.mkdir(exist_ok=True)
        (workdir / "policy.json").write_text(
            json.dumps({"default": [{"type": "insecureAcceptAnything"}]})
        )
        (workdir / "auth.json").write_text('{"auths": {}}')
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        env.update(
            HOIST_CONFIG=str(config),
            DOCKER_CONFIG=str(docker_config),
            REGISTRY_AUTH_FILE=str(workdir / "auth.json"),
        )

        layout = workdir / "src-layout"
        log(f"building a {args.size_mb} MB image of {args.layers} layers in {layout}")
        image = build_layout(layout, args.size_mb * MB, args.layers, args.seed)
        log(f"image {image.digest}: {image.total_bytes / MB:.1f} MB; pushing to {src.host}")
        push(layout, src, REPOSITORY)

        bench = Bench(
            workdir, src, dst, args.hoist, args.skopeo, args.hoist_arg, env, args.idle_wait
        )
        source = Source(image, layout, REPOSITORY)
        results: dict[str, dict[str, list[Run]]] = {c.name: {t: [] for t in TOOLS} for c in cases}
        discarded = dict.fromkeys(TOOLS, 0)
        for n in range(args.warmup + args.rounds):
            timed = n >= args.warmup
            label = f"round {n - args.warmup + 1}/{args.rounds}" if timed else "warm-up"
            order = TOOLS if n % 2 == 0 else TOOLS[::-1]
            for case in cases:
                for tool in order:
                    for attempt in range(1 + args.retries):
                        run = bench.run(tool, case, source)
                        log(
                            f"{label:11} {case.name:20} {tool:6} {run.seconds:7.2f} s "
                            f"{run.max_rss_kib / 1024:7.1f} MiB  cpu {run.cpu_s:5.2f} s, "
                            f"registries {run.registry_cpu_s:5.2f} s, "
                            f"other {run.other_cpu_s:5.2f} s"
                        )
                        if run.other_cpu_s <= args.max_other_cpu or attempt == args.retries:
                            break
                        log("            (discarded: the machine was busy; again)")
                        if timed:
                            discarded[tool] += 1
                    if timed:
                        results[case.name][tool].append(run)
        rows = summarize(results, image)

        memory: list[dict[str, Any]] = []
        if args.memory_check:
            big_layout = workdir / "src-layout-2x"
            log(f"memory check: building a {2 * args.size_mb} MB image in {big_layout}")
            big = build_layout(big_layout, 2 * args.size_mb * MB, args.layers, args.seed + 1)
            push(big_layout, src, BIG_REPOSITORY)
            for case in cases:
                run = bench.run("hoist", case, Source(big, big_layout, BIG_REPOSITORY))
                one = results[case.name]["hoist"]
                base = max(r.max_rss_kib for r in one) / 1024 if one else float("nan")
                memory.append(
                    {
                        "case": case.name,
                        "image_mb": round(image.total_bytes / MB, 1),
                        "image_2x_mb": round(big.total_bytes / MB, 1),
                        "hoist_rss_mib": base,
                        "hoist_rss_2x_mib": run.max_rss_kib / 1024,
                        "seconds_2x": run.seconds,
                    }
                )
                log(
                    f"2x image    {case.name:20} hoist  {run.seconds:7.2f} s "
                    f"{run.max_rss_kib / 1024:7.1f} MiB"
                )

    environment = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "skopeo": subprocess.run(
            [args.skopeo, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "hoist_command": args.hoist,
        "hoist_args": args.hoist_arg,
    }
    if args.json:
        print(
            json.dumps(
                {
                    "image": {
                        "digest": image.digest,
                        "bytes": image.total_bytes,
                        "layers": image.layers,
                    },
                    "rounds": args.rounds,
                    "warmup": args.warmup,
                    "discarded_busy_runs": discarded,
                    "environment": environment,
                    "cases": rows,
                    "memory_check": memory,
                },
                indent=2,
            )
        )
        return 0
    print(
        f"image: {len(image.layers)} layers, {image.total_bytes / MB:.1f} MB "
        f"({image.digest}); {args.rounds} rounds, medians; MB = 10^6 bytes; "
        f"RSS = max over the rounds"
    )
    print(table(rows))
    if memory:
        print()
        print(f"{'hoist peak RSS (MiB)':20} {'1x image':>9} {'2x image':>9}")
        for m in memory:
            print(f"{m['case']:20} {m['hoist_rss_mib']:9.1f} {m['hoist_rss_2x_mib']:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
