#!/usr/bin/env python3
"""Benchmark ``hoist serve`` against ``docker-registry`` (CNCF distribution) with real clients.

One run builds the benchmark image of copy_bench.py (about 500 MB in 8 gzip layers, half random,
half compressible) in an OCI layout, then, for ``--rounds`` rounds, has each client (``skopeo``
and ``hoist``) push it from the layout to each server and pull it back into a fresh layout:

* push: the server is restarted on empty storage first, the image goes up
  (``oci:LAYOUT:v1`` -> ``docker://HOST/bench/image:v1``);
* pull: the server is restarted on the storage the push left, the image comes down into a layout
  directory that does not exist yet.

Both servers run as subprocesses on loopback ports with filesystem storage in the same
directory tree; the order of the two servers alternates from round to round. It prints, per
client and direction, the median wall time of the client, the throughput, the ratio
hoist-serve/distribution, and each server's median CPU time and peak memory; ``--json`` prints
every sample instead.

    /work/venv/bin/python bench/serve_bench.py --rounds 5

See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    MB,
    TAG,
    Column,
    ImageInfo,
    Registry,
    add_busy_args,
    add_hoist_args,
    add_image_args,
    add_tool_args,
    build_layout,
    client_env,
    default_hoist,
    format_table,
    log,
    machine_cpu,
    run_measured,
    skopeo_copy_argv,
    verify_layout,
    verify_registry,
    wait_for_idle,
    workspace,
)

REPOSITORY = "bench/image"
SERVERS = ("hoist-serve", "distribution")
CLIENTS = ("skopeo", "hoist")
DIRECTIONS = ("push", "pull")


class HoistServe(Registry):
    """``hoist serve`` on 127.0.0.1 with its storage under ``workdir``, as a subprocess."""

    name = "hoist serve"

    def __init__(self, workdir: Path, command: list[str], extra: list[str]) -> None:
        super().__init__(workdir, command[0])
        self.command = command
        self.extra = extra

    def write_config(self) -> None:
        pass  # configured on the command line

    def argv(self) -> list[str]:
        return [
            *self.command,
            "serve",
            "--addr",
            self.host,
            "--root",
            str(self.root),
            "-q",
            *self.extra,
        ]


@dataclass
class Run:
    seconds: float
    """Wall time of the client, fork to exit."""
    client_rss_kib: int
    client_cpu_s: float
    server_cpu_s: float
    """User + system CPU time of the server during the run."""
    server_rss_kib: int | None
    """Peak RSS of the server process, started just before the run."""
    other_cpu_s: float
    """CPU time of everything else on the machine during the run (0 on a quiet machine)."""


@dataclass
class Bench:
    """Everything a timed run needs."""

    workdir: Path
    servers: dict[str, Registry]
    layout: Path
    image: ImageInfo
    hoist: list[str]
    hoist_args: list[str]
    skopeo: str
    env: dict[str, str]
    idle_wait: float = 0.0

    @property
    def pulled(self) -> Path:
        return self.workdir / "pulled-layout"

    def argv(self, client: str, direction: str, server: Registry) -> tuple[list[str], Path | None]:
        remote = f"{server.host}/{REPOSITORY}:{TAG}"
        layout = self.layout if direction == "push" else self.pulled
        if client == "hoist":
            local = f"ocidir://{layout}:{TAG}"
            src, dst = (local, remote) if direction == "push" else (remote, local)
            return [*self.hoist, "image", "copy", "-q", *self.hoist_args, src, dst], None
        local, remote = f"oci:{layout}:{TAG}", f"docker://{remote}"
        src, dst = (local, remote) if direction == "push" else (remote, local)
        digest_file = self.workdir / "skopeo-digest"
        digest_file.unlink(missing_ok=True)
        return skopeo_copy_argv(self.skopeo, self.workdir, digest_file, src, dst), digest_file

    def run(self, client: str, direction: str, server_name: str) -> Run:
        server = self.servers[server_name]
        what = f"{client} {direction} {server_name}"
        # push: empty storage; pull: what the push stored. A just-started server either way.
        server.restart(fresh=direction == "push")
        if direction == "pull":
            shutil.rmtree(self.pulled, ignore_errors=True)
        argv, digest_file = self.argv(client, direction, server)
        os.sync()  # no dirty pages from the previous run are written back during this one
        if self.idle_wait > 0:
            wait_for_idle(self.idle_wait)
        server_before = server.cpu_seconds()
        machine_before, _ = machine_cpu()
        seconds, rss, cpu, code, stdout, stderr = run_measured(argv, self.env)
        server_cpu = server.cpu_seconds() - server_before
        other_cpu = max(0.0, machine_cpu()[0] - machine_before - server_cpu - cpu)
        server_rss = server.peak_rss_kib()
        if code != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({code}):\n{stderr}")
        digest = stdout.strip().splitlines()[-1] if client == "hoist" else ""
        if digest_file is not None:
            digest = digest_file.read_text().strip()
        if digest != self.image.digest:
            raise RuntimeError(f"{what}: digest {digest!r}, want {self.image.digest}")
        if direction == "push":
            verify_registry(server.host, REPOSITORY, self.image, what)
        else:
            verify_layout(self.pulled, self.image, what)
        return Run(seconds, rss, cpu, server_cpu, server_rss, other_cpu)


# -- reporting -----------------------------------------------------------------------------------

Results = dict[str, dict[str, dict[str, list[Run]]]]
"""client -> direction -> server -> runs."""


def summarize(results: Results, image: ImageInfo) -> list[dict[str, Any]]:
    rows = []
    for client, by_direction in results.items():
        for direction, by_server in by_direction.items():
            row: dict[str, Any] = {"client": client, "direction": direction}
            for server in SERVERS:
                runs = by_server.get(server, [])
                if not runs:
                    continue
                median = statistics.median(r.seconds for r in runs)
                rss = [r.server_rss_kib for r in runs if r.server_rss_kib is not None]
                row[server] = {
                    "median_s": median,
                    "min_s": min(r.seconds for r in runs),
                    "max_s": max(r.seconds for r in runs),
                    "mb_per_s": image.total_bytes / MB / median,
                    "median_server_cpu_s": statistics.median(r.server_cpu_s for r in runs),
                    "median_client_cpu_s": statistics.median(r.client_cpu_s for r in runs),
                    "median_other_cpu_s": statistics.median(r.other_cpu_s for r in runs),
                    "max_server_rss_mib": max(rss) / 1024 if rss else None,
                    "max_client_rss_mib": max(r.client_rss_kib for r in runs) / 1024,
                    "samples_s": [round(r.seconds, 4) for r in runs],
                    "samples_server_cpu_s": [round(r.server_cpu_s, 3) for r in runs],
                    "samples_server_rss_kib": [r.server_rss_kib for r in runs],
                    "samples_client_cpu_s": [round(r.client_cpu_s, 3) for r in runs],
                    "samples_client_rss_kib": [r.client_rss_kib for r in runs],
                    "samples_other_cpu_s": [round(r.other_cpu_s, 3) for r in runs],
                }
            if all(s in row for s in SERVERS):
                row["ratio"] = row["hoist-serve"]["median_s"] / row["distribution"]["median_s"]
            rows.append(row)
    return rows


_COLUMNS: list[Column] = [
    # header, server (None: the row itself), key, format
    ("hoist-serve s", "hoist-serve", "median_s", ".2f"),
    ("distribution s", "distribution", "median_s", ".2f"),
    ("hoist-serve MB/s", "hoist-serve", "mb_per_s", ".0f"),
    ("distribution MB/s", "distribution", "mb_per_s", ".0f"),
    ("ratio", None, "ratio", ".2f"),
    ("hoist-serve CPU s", "hoist-serve", "median_server_cpu_s", ".2f"),
    ("distribution CPU s", "distribution", "median_server_cpu_s", ".2f"),
    ("hoist-serve RSS MiB", "hoist-serve", "max_server_rss_mib", ".0f"),
    ("distribution RSS MiB", "distribution", "max_server_rss_mib", ".0f"),
]


def table(rows: list[dict[str, Any]]) -> str:
    """The medians as a plain-text table, one line per client and direction."""
    return format_table(rows, [("client", "client", 7), ("dir", "direction", 4)], _COLUMNS)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time pushes and pulls to hoist serve and to docker-registry.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_image_args(p, rounds_help="timed runs per client, server, way")
    p.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated subset")
    add_busy_args(p)
    add_hoist_args(
        p,
        hoist_help="the hoist client command, split like a shell would (default: the venv's hoist)",
        hoist_arg_help="extra argument for hoist image copy (repeatable)",
    )
    p.add_argument(
        "--serve",
        type=shlex.split,
        default=default_hoist(),
        help="the hoist command that runs 'serve' (default: the venv's hoist); e.g. "
        "'env PYTHONPATH=/other/src python -m hoist' to time another checkout's server",
    )
    p.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        help="extra argument for hoist serve (repeatable)",
    )
    add_tool_args(p)
    args = p.parse_args(argv)
    args.client_list = [c for c in args.clients.split(",") if c]
    unknown = [c for c in args.client_list if c not in CLIENTS]
    if unknown or not args.client_list:
        p.error(f"unknown client(s) {', '.join(unknown)}; known: {', '.join(CLIENTS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    clients: list[str] = args.client_list
    with ExitStack() as stack:
        workdir = stack.enter_context(workspace(args.workdir))
        servers: dict[str, Registry] = {
            "hoist-serve": HoistServe(workdir / "hoist-serve", args.serve, args.serve_arg),
            "distribution": Registry(workdir / "distribution", args.registry_bin),
        }
        for server in servers.values():
            stack.callback(server.stop)
        env = client_env(workdir, [s.host for s in servers.values()])
        log(
            "servers: "
            + ", ".join(f"{name} {s.host}" for name, s in servers.items())
            + f"; workdir {workdir}"
        )

        layout = workdir / "src-layout"
        log(f"building a {args.size_mb} MB image of {args.layers} layers in {layout}")
        image = build_layout(layout, args.size_mb * MB, args.layers, args.seed)
        log(f"image {image.digest}: {image.total_bytes / MB:.1f} MB")

        bench = Bench(
            workdir,
            servers,
            layout,
            image,
            args.hoist,
            args.hoist_arg,
            args.skopeo,
            env,
            args.idle_wait,
        )
        results: Results = {c: {d: {s: [] for s in SERVERS} for d in DIRECTIONS} for c in clients}
        discarded = dict.fromkeys(SERVERS, 0)
        for n in range(args.warmup + args.rounds):
            timed = n >= args.warmup
            label = f"round {n - args.warmup + 1}/{args.rounds}" if timed else "warm-up"
            order = SERVERS if n % 2 == 0 else SERVERS[::-1]
            for client in clients:
                for name in order:
                    for direction in DIRECTIONS:
                        for attempt in range(1 + args.retries):
                            run = bench.run(client, direction, name)
                            rss = run.server_rss_kib
                            log(
                                f"{label:11} {client:6} {direction:4} {name:12} "
                                f"{run.seconds:6.2f} s  client cpu {run.client_cpu_s:5.2f} s, "
                                f"server cpu {run.server_cpu_s:5.2f} s, "
                                f"server rss {rss / 1024 if rss else 0:6.1f} MiB, "
                                f"other {run.other_cpu_s:5.2f} s"
                            )
                            if run.other_cpu_s <= args.max_other_cpu or attempt == args.retries:
                                break
                            log("            (discarded: the machine was busy; again)")
                            if timed:
                                discarded[name] += 1
                        if timed:
                            results[client][direction][name].append(run)
        rows = summarize(results, image)

    environment = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "skopeo": subprocess.run(
            [args.skopeo, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "registry": subprocess.run(
            [args.registry_bin, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "hoist_command": args.hoist,
        "hoist_args": args.hoist_arg,
        "serve_command": args.serve,
        "serve_args": args.serve_arg,
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
                    "rows": rows,
                },
                indent=2,
            )
        )
        return 0
    print(
        f"image: {len(image.layers)} layers, {image.total_bytes / MB:.1f} MB "
        f"({image.digest}); {args.rounds} rounds, medians of the client's wall time; "
        f"MB = 10^6 bytes; ratio = hoist-serve / distribution; CPU = the server's; "
        f"RSS = the server's peak, max over the rounds"
    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
