#!/usr/bin/env python3
"""Soak ``hoist serve`` and ``docker-registry`` (CNCF distribution) with busy and stalled clients.

Not a test: a measurement. For each server in turn (both in the same run, one after the other,
each as a subprocess on a loopback port with filesystem storage under the work directory), for
``--seconds`` seconds:

* ``--clients`` pushers each push small images in a loop (a config pushed monolithically, a
  ``--layer-kb`` layer through a session: POST, PATCH, PUT, then the manifest under a tag);
* as many pullers each pull a seeded image in a loop (manifest, then config and layer, checked
  against their digests);
* a prober asks ``GET /v2/`` every 50 ms;
* ``--stalled`` clients each open an upload, send the head of a 1 MiB PATCH and 64 KiB of its
  body, then nothing. A stalled client that the server answers (429) or drops opens a new one
  after 0.2 s, so the pressure stays for the whole run.

It reports, per server: operations, p50 and p99 latency and errors of pushes, pulls and probes;
how the stalled clients fared (answered, dropped, still hanging at the end); and the server's
RSS (at start, peak as VmHWM, at the end). Every loop stops at the deadline and every request has
a time-out, so a run takes about ``2 x --seconds`` plus start-up.

    /work/main/.venv/bin/python bench/soak_bench.py --seconds 20 --clients 4 --stalled 100
    /work/main/.venv/bin/python bench/soak_bench.py --json > soak.json

Needs ``docker-registry`` (``--registry-bin``) and hoist in the venv (``--serve``).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import secrets
import selectors
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import Registry, default_hoist, format_table, log, workspace
from serve_bench import HoistServe

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
TIMEOUT = 10.0
"""Seconds any one request may take before it counts as an error."""
STALLED_LENGTH = 1 << 20
STALLED_SENT = 64 << 10
SERVERS = ("hoist-serve", "distribution")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def desc(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


class Client:
    """One keep-alive HTTP/1.1 connection to a registry, reopened after a failure."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def with_query(location: str, query: str) -> str:
    return location + ("&" if "?" in location else "?") + query


def expect(status: int, wanted: int, what: str, body: bytes = b"") -> None:
    if status != wanted:
        raise RuntimeError(f"{what}: HTTP {status} {body[:120]!r}")


def push_blob(client: Client, repo: str, data: bytes, *, chunked: bool) -> None:
    """POST a session, then PUT the bytes, or (``chunked``) PATCH them and PUT to close."""
    status, headers, body = client.request("POST", f"/v2/{repo}/blobs/uploads/", body=b"")
    expect(status, 202, "upload POST", body)
    location, digest = path_of(headers["location"]), sha256(data)
    octets = {"Content-Type": "application/octet-stream"}
    if chunked:
        status, headers, body = client.request("PATCH", location, body=data, headers=octets)
        expect(status, 202, "PATCH", body)
        location, data = path_of(headers["location"]), b""
    closing = with_query(location, f"digest={digest}")
    status, _, body = client.request("PUT", closing, body=data, headers=octets)
    expect(status, 201, "PUT", body)


def push_image(client: Client, repo: str, tag: str, layer: bytes) -> None:
    """The config in one PUT, the layer in a PATCH and a closing PUT, then the manifest."""
    config = json.dumps({"created": time.time(), "nonce": secrets.token_hex(8)}).encode()
    push_blob(client, repo, config, chunked=False)
    push_blob(client, repo, layer, chunked=True)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, config),
            "layers": [desc(OCI_LAYER, layer)],
        }
    ).encode()
    status, _, body = client.request(
        "PUT", f"/v2/{repo}/manifests/{tag}", body=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    expect(status, 201, "manifest PUT", body)


def pull_image(client: Client, repo: str, tag: str) -> None:
    """The manifest, then each blob it names, checked against its digest."""
    status, _, body = client.request(
        "GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST}
    )
    expect(status, 200, "manifest GET", body)
    manifest = json.loads(body)
    for d in [manifest["config"], *manifest["layers"]]:
        status, _, blob = client.request("GET", f"/v2/{repo}/blobs/{d['digest']}")
        expect(status, 200, "blob GET", blob)
        if sha256(blob) != d["digest"]:
            raise RuntimeError(f"blob {d['digest']} came back as {sha256(blob)}")


@dataclass
class Series:
    """Latencies (seconds) of the operations of one kind that succeeded, and the errors."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(q: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1) if lat else None

        return {
            "ops": len(lat),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(lat[-1] * 1000, 1) if lat else None,
            "errors": self.errors,
            "first_error": self.first_error,
        }


def timed_loop(deadline: float, series: Series, op: Callable[[], None], pause: float = 0.0) -> None:
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            op()
        except Exception as exc:  # a failed operation is an error of the run, not of the bench
            series.errors += 1
            series.first_error = series.first_error or f"{type(exc).__name__}: {exc}"[:200]
            time.sleep(0.05)
        else:
            series.latencies.append(time.monotonic() - started)
        if pause:
            time.sleep(pause)


@dataclass
class StalledStats:
    opened: int = 0
    answered: dict[int, int] = field(default_factory=dict)
    """Answers by status (429 refused, 408 timed out, ...)."""
    dropped: int = 0
    """Closed by the server without an answer."""
    failed_to_open: int = 0
    hanging_at_end: int = 0


def _open_stalled(host: str, port: int, repo: str) -> socket.socket:
    """An upload session, then on a fresh connection the head of a 1 MiB PATCH and 64 KiB."""
    client = Client(host, port)
    try:
        status, headers, body = client.request("POST", f"/v2/{repo}/blobs/uploads/", body=b"")
        expect(status, 202, "stalled POST", body)
    finally:
        client.close()
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    head = (
        f"PATCH {path_of(headers['location'])} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {STALLED_LENGTH}\r\n\r\n"
    )
    sock.sendall(head.encode() + secrets.token_bytes(STALLED_SENT))
    sock.setblocking(False)
    return sock


def stalled_clients(host: str, port: int, count: int, deadline: float, stats: StalledStats) -> None:
    """Keep ``count`` stalled uploads open until the deadline (one thread, a selector)."""
    selector = selectors.DefaultSelector()
    reopen_at: list[float] = []

    def open_one() -> None:
        try:
            sock = _open_stalled(host, port, "soak/stalled")
        except (OSError, RuntimeError):
            stats.failed_to_open += 1
            reopen_at.append(time.monotonic() + 0.2)
            return
        stats.opened += 1
        selector.register(sock, selectors.EVENT_READ, bytearray())

    for _ in range(count):
        if time.monotonic() >= deadline:
            break
        open_one()
    while (left := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=min(left, 0.1)):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            buffer: bytearray = key.data
            if data:
                buffer += data
                if b"\r\n\r\n" not in buffer:
                    continue
                status = int(bytes(buffer).split(b" ", 2)[1])
                stats.answered[status] = stats.answered.get(status, 0) + 1
            else:
                stats.dropped += 1
            selector.unregister(sock)
            sock.close()
            reopen_at.append(time.monotonic() + 0.2)
        now = time.monotonic()
        due = [t for t in reopen_at if t <= now]
        reopen_at[:] = [t for t in reopen_at if t > now]
        for _ in due:
            if time.monotonic() < deadline:
                open_one()
    stats.hanging_at_end = len(selector.get_map())
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()


def rss_kib(pid: int, key: str = "VmRSS") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def soak(server: Registry, args: argparse.Namespace) -> dict[str, Any]:
    """One soak of ``server`` (started fresh, stopped at the end)."""
    server.restart(fresh=True)
    assert server.proc is not None
    pid = server.proc.pid
    host, port = "127.0.0.1", server.port
    layer = secrets.token_bytes(args.layer_kb * 1024)
    seed = Client(host, port)
    for i in range(args.clients):
        push_image(seed, f"soak/pull{i}", "v1", layer)
    seed.close()
    rss_start = rss_kib(pid)
    deadline = time.monotonic() + args.seconds
    pushes, pulls, probes = Series(), Series(), Series()
    stalled = StalledStats()
    rss_samples: list[int] = []
    threads: list[threading.Thread] = []

    def pusher(i: int) -> None:
        client = Client(host, port)
        n = 0

        def op() -> None:
            nonlocal n
            n += 1
            push_image(client, f"soak/push{i}", f"t{n}", secrets.token_bytes(args.layer_kb * 1024))

        timed_loop(deadline, pushes, op)
        client.close()

    def puller(i: int) -> None:
        client = Client(host, port)
        timed_loop(deadline, pulls, lambda: pull_image(client, f"soak/pull{i}", "v1"))
        client.close()

    def prober() -> None:
        client = Client(host, port)

        def op() -> None:
            status, _, body = client.request("GET", "/v2/")
            expect(status, 200, "GET /v2/", body)

        timed_loop(deadline, probes, op, pause=0.05)
        client.close()

    def sampler() -> None:
        while time.monotonic() < deadline:
            value = rss_kib(pid)
            if value is not None:
                rss_samples.append(value)
            time.sleep(0.25)

    threads.append(
        threading.Thread(target=stalled_clients, args=(host, port, args.stalled, deadline, stalled))
    )
    threads += [threading.Thread(target=pusher, args=(i,)) for i in range(args.clients)]
    threads += [threading.Thread(target=puller, args=(i,)) for i in range(args.clients)]
    threads += [threading.Thread(target=prober), threading.Thread(target=sampler)]
    cpu_before = server.cpu_seconds()
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.seconds + 4 * TIMEOUT)
    cpu = server.cpu_seconds() - cpu_before
    result = {
        "push": pushes.summary(),
        "pull": pulls.summary(),
        "probe": probes.summary(),
        "stalled": {
            "opened": stalled.opened,
            "answered": {str(k): v for k, v in sorted(stalled.answered.items())},
            "dropped": stalled.dropped,
            "failed_to_open": stalled.failed_to_open,
            "hanging_at_end": stalled.hanging_at_end,
        },
        "rss_mib": {
            "start": round((rss_start or 0) / 1024, 1),
            "max_sampled": round(max(rss_samples, default=0) / 1024, 1),
            "peak": round((server.peak_rss_kib() or 0) / 1024, 1),
            "end": round((rss_kib(pid) or 0) / 1024, 1),
        },
        "cpu_s": round(cpu, 2),
        "alive": server.proc is not None and server.proc.poll() is None,
    }
    server.stop()
    return result


def table(rows: dict[str, dict[str, Any]]) -> str:
    flat = []
    for name, r in rows.items():
        flat.append(
            {
                "server": name,
                "push": r["push"],
                "pull": r["pull"],
                "probe": r["probe"],
                "rss": r["rss_mib"],
                "st": {
                    "answered": sum(r["stalled"]["answered"].values()),
                    "dropped": r["stalled"]["dropped"],
                    "hanging": r["stalled"]["hanging_at_end"],
                },
                "cpu_s": r["cpu_s"],
            }
        )
    return format_table(
        flat,
        [("server", "server", 12)],
        [
            ("push n", "push", "ops", "d"),
            ("p50 ms", "push", "p50_ms", ".1f"),
            ("p99 ms", "push", "p99_ms", ".1f"),
            ("err", "push", "errors", "d"),
            ("pull n", "pull", "ops", "d"),
            ("p50 ms", "pull", "p50_ms", ".1f"),
            ("p99 ms", "pull", "p99_ms", ".1f"),
            ("err", "pull", "errors", "d"),
            ("/v2/ p50", "probe", "p50_ms", ".1f"),
            ("/v2/ p99", "probe", "p99_ms", ".1f"),
            ("err", "probe", "errors", "d"),
            ("stalled ans", "st", "answered", "d"),
            ("drop", "st", "dropped", "d"),
            ("hang", "st", "hanging", "d"),
            ("RSS start", "rss", "start", ".1f"),
            ("peak", "rss", "peak", ".1f"),
            ("end", "rss", "end", ".1f"),
            ("cpu s", None, "cpu_s", ".1f"),
        ],
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Soak hoist serve and docker-registry with busy and stalled clients.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--seconds", type=float, default=20.0, help="duration per server")
    p.add_argument("--clients", type=int, default=4, help="pushers, and as many pullers")
    p.add_argument("--stalled", type=int, default=100, help="stalled uploads kept open")
    p.add_argument("--layer-kb", type=int, default=256, help="size of each pushed layer (KiB)")
    p.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset")
    p.add_argument(
        "--serve",
        type=shlex.split,
        default=default_hoist(),
        help="the hoist command that runs 'serve' (default: the venv's hoist)",
    )
    p.add_argument(
        "--serve-arg", action="append", default=[], help="extra argument for hoist serve"
    )
    p.add_argument(
        "--registry-bin",
        default=__import__("shutil").which("docker-registry") or "docker-registry",
    )
    p.add_argument("--workdir", type=Path, help="keep the storage here (default: a temporary dir)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout, not the table")
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.seconds > 3600:
        p.error("--seconds must be in (0, 3600]")
    if not 1 <= args.clients <= 64 or not 0 <= args.stalled <= 5000:
        p.error("--clients must be 1..64 and --stalled 0..5000")
    args.server_list = [s for s in args.servers.split(",") if s]
    if not args.server_list or set(args.server_list) - set(SERVERS):
        p.error(f"--servers: a subset of {', '.join(SERVERS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        workdir = stack.enter_context(workspace(args.workdir))
        servers: dict[str, Registry] = {
            "hoist-serve": HoistServe(workdir / "hoist-serve", args.serve, args.serve_arg),
            "distribution": Registry(workdir / "distribution", args.registry_bin),
        }
        for server in servers.values():
            stack.callback(server.stop)
        for name in args.server_list:
            log(
                f"soaking {name} on {servers[name].host} for {args.seconds:g} s: "
                f"{args.clients} pushers, {args.clients} pullers, {args.stalled} stalled"
            )
            rows[name] = soak(servers[name], args)
            log(f"  {name}: {json.dumps(rows[name])}")
    if args.json:
        environment = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
        print(
            json.dumps(
                {
                    "args": vars(args) | {"workdir": str(args.workdir)},
                    "environment": environment,
                    "rows": rows,
                },
                indent=2,
                default=str,
            )
        )
        return 0
    print(
        f"{args.seconds:g} s per server, {args.clients} pushers ({args.layer_kb} KiB layers) + "
        f"{args.clients} pullers + a GET /v2/ prober every 50 ms + {args.stalled} stalled "
        "uploads; latencies in ms; RSS of the server in MiB (peak: VmHWM)"
    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
