"""What the benchmarks share: loopback registries, the generated image, timing a tool.

* :class:`Registry` runs a ``docker-registry serve`` (CNCF distribution) on a free loopback port
  with filesystem storage; subclasses run other servers the same way (``serve_bench.py`` runs
  ``hoist serve``).
* :func:`build_layout` writes the benchmark image (half random, half compressible gzip layers)
  with hoist's own model to an OCI layout; :func:`push` copies it to a registry in process.
* :func:`run_measured` times a command through a tiny launcher, for its own peak RSS and CPU.
* :func:`wait_for_idle` and :func:`machine_cpu` keep other work on the machine out of the numbers.
* :func:`add_image_args`, :func:`add_busy_args`, :func:`add_hoist_args` and :func:`add_tool_args`
  add the options both scripts have; :func:`format_table` prints their medians table.

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
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from isal import isal_zlib

from hoist.config.settings import RegistrySettings
from hoist.copy import image_copy
from hoist.location import Location
from hoist.model import mediatype as mt
from hoist.model.config import History, ImageConfig
from hoist.model.descriptor import Descriptor
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest
from hoist.model.reference import LayoutReference, Reference
from hoist.store.ocidir import OCIDirStore
from hoist.store.registry import RegistryStore

TAG = "v1"
CREATED = "2024-01-01T00:00:00Z"
MB = 1_000_000
MIB = 1 << 20


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

    The same configuration as tests/support/registry_fixtures.py (anonymous), with request
    logging off.
    The port is chosen once and kept across restarts, so hoist's config file stays valid.
    Subclasses run another server the same way by overriding :meth:`argv` (and
    :meth:`write_config`).
    """

    name = "docker-registry"

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

    def write_config(self) -> None:
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")

    def argv(self) -> list[str]:
        """The server's command line."""
        return [self.binary, "serve", str(self.config_path)]

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.write_config()
        # REGISTRY_* variables would override the config file; keep them out.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv(),
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
                raise RuntimeError(f"{self.name} exited with {code}; see {self.log_path}")
            try:
                if http_status(f"http://{self.host}/v2/", timeout=2.0) in (200, 401):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} not ready on {self.host}; see {self.log_path}")
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
        """User + system CPU time the server process (all its threads) has used so far."""
        if self.proc is None:
            return 0.0
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_kib(self) -> int | None:
        """The server's peak resident memory (``VmHWM``, KiB) since it started; None if
        unknown."""
        if self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return None

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
    blobs first, one layer at a time, then the manifest (as hoist.testing.sample.write_image
    does)."""
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
            Location(OCIDirStore(), LayoutReference("ocidir", str(layout), TAG)),
            Location(dst, Reference(registry.host, repository, TAG)),
        )
    finally:
        dst.close()


def verify_registry(host: str, repository: str, image: ImageInfo, what: str) -> None:
    """Every blob and the manifest of ``image`` are in ``repository`` on ``host``."""
    base = f"http://{host}/v2/{repository}"
    for digest in image.blobs:
        if http_status(f"{base}/blobs/{digest}", "HEAD") != 200:
            raise RuntimeError(f"{what}: blob {digest} missing at {host}")
    url = f"{base}/manifests/{image.digest}"
    if http_status(url, "HEAD", accept=mt.OCI_MANIFEST) != 200:
        raise RuntimeError(f"{what}: manifest {image.digest} missing at {host}")


def verify_layout(root: Path, image: ImageInfo, what: str) -> None:
    """Every blob of ``image`` is in the layout ``root`` with its size; the index lists it."""
    for digest, size in image.blobs.items():
        path = root / "blobs" / digest.replace(":", "/")
        if not path.is_file() or path.stat().st_size != size:
            raise RuntimeError(f"{what}: blob {digest} missing or wrong size in {root}")
    index = json.loads((root / "index.json").read_text())
    if not any(m.get("digest") == image.digest for m in index.get("manifests", [])):
        raise RuntimeError(f"{what}: {image.digest} not in {root}/index.json")


# -- running the tools ---------------------------------------------------------------------------


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


def default_hoist() -> list[str]:
    script = Path(sys.executable).parent / "hoist"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "hoist"]


def client_env(workdir: Path, hosts: Sequence[str]) -> dict[str, str]:
    """The environment of the clients: plain HTTP to ``hosts`` for hoist (``HOIST_CONFIG``),
    no credentials for either tool, no proxies. Writes the files it names under ``workdir``:
    also ``policy.json``, the accept-anything policy of :func:`skopeo_copy_argv`."""
    config = workdir / "hoist-config.json"
    config.write_text(json.dumps({"registries": {h: {"tls": "disabled"} for h in hosts}}))
    docker_config = workdir / "docker-config"
    docker_config.mkdir(exist_ok=True)
    (workdir / "policy.json").write_text(
        json.dumps({"default": [{"type": "insecureAcceptAnything"}]})
    )
    (workdir / "auth.json").write_text('{"auths": {}}')
    # No proxies; and Python may write bytecode, as on any installed system (a shell that sets
    # PYTHONDONTWRITEBYTECODE would have hoist compile every module it imports on every run).
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        HOIST_CONFIG=str(config),
        DOCKER_CONFIG=str(docker_config),
        REGISTRY_AUTH_FILE=str(workdir / "auth.json"),
    )
    return env


def skopeo_copy_argv(
    skopeo: str, workdir: Path, digest_file: Path, src: str, dst: str
) -> list[str]:
    """``skopeo copy`` byte for byte (``--preserve-digests``), plain HTTP, the manifest digest
    written to ``digest_file``."""
    return [
        skopeo,
        "--policy",
        str(workdir / "policy.json"),
        "copy",
        "--quiet",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--digestfile",
        str(digest_file),
        src,
        dst,
    ]


@contextmanager
def workspace(path: Path | None) -> Iterator[Path]:
    """``path`` (created, kept), else a temporary directory under /var/tmp (removed)."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="hoist-bench-", dir="/var/tmp") as tmp:
        yield Path(tmp)


# -- command line and report ---------------------------------------------------------------------
# The options both scripts take, in four groups: each script adds its own options between them, so
# that its --help lists them where it always has.


def add_image_args(p: argparse.ArgumentParser, rounds_help: str) -> None:
    """``--rounds``, ``--warmup`` and the image: ``--size-mb``, ``--layers``, ``--seed``."""
    p.add_argument("--rounds", type=int, default=5, help=rounds_help)
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    p.add_argument("--size-mb", type=int, default=500, help="image size (compressed, 10^6 B)")
    p.add_argument("--layers", type=int, default=8, help="layers; even ones random, odd ones text")
    p.add_argument("--seed", type=int, default=4, help="seed of the image content")


def add_busy_args(p: argparse.ArgumentParser) -> None:
    """What to do about a busy machine (``--idle-wait``, ``--max-other-cpu``, ``--retries``),
    and ``--json``."""
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


def add_hoist_args(p: argparse.ArgumentParser, hoist_help: str, hoist_arg_help: str) -> None:
    """``--hoist`` (the client command, split like a shell would) and ``--hoist-arg``."""
    p.add_argument("--hoist", type=shlex.split, default=default_hoist(), help=hoist_help)
    p.add_argument("--hoist-arg", action="append", default=[], help=hoist_arg_help)


def add_tool_args(p: argparse.ArgumentParser) -> None:
    """``--skopeo``, ``--registry-bin`` and ``--workdir``."""
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


Column = tuple[str, str | None, str, str]
"""A column of :func:`format_table`: header, the key of the sub-dict the value is in (None: the
row itself), the value's key, its format spec."""


def format_table(
    rows: Sequence[dict[str, Any]],
    lead: Sequence[tuple[str, str, int]],
    columns: Sequence[Column],
) -> str:
    """``rows`` as a plain-text table: first the ``lead`` columns, (header, key, width) of a
    value of the row, left-aligned; then ``columns``, right-aligned as wide as their header,
    ``-`` where a value is missing or None."""
    lines = ["  ".join([*(f"{h:{w}}" for h, _, w in lead), *(h for h, *_ in columns)])]
    lines.append("-" * len(lines[0]))
    for row in rows:
        cells = [f"{row[key]:{width}}" for _, key, width in lead]
        for header, sub, key, fmt in columns:
            where = row if sub is None else row.get(sub, {})
            value = where.get(key)
            cells.append(
                f"{value:>{len(header)}{fmt}}" if value is not None else f"{'-':>{len(header)}}"
            )
        lines.append("  ".join(cells))
    return "\n".join(lines)
