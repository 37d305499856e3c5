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
import json
import os
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
    format_table,
    log,
    machine_cpu,
    push,
    run_measured,
    skopeo_copy_argv,
    verify_layout,
    verify_registry,
    wait_for_idle,
    workspace,
)

REPOSITORY = "bench/image"
BIG_REPOSITORY = "bench/big"
TOOLS = ("hoist", "skopeo")


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
        return skopeo_copy_argv(self.skopeo, self.workdir, digest_file, src, dst), digest_file

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
        if case.dst == "registry":
            verify_registry(self.dst_registry.host, source.repository, source.info, case.name)
        else:
            verify_layout(self.workdir / "dst-layout", source.info, case.name)


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


_COLUMNS: list[Column] = [
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
    return format_table(rows, [("case", "case", 20)], _COLUMNS)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time hoist image copy against skopeo copy on loopback registries.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_image_args(p, rounds_help="timed runs per tool and case")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of the cases")
    add_busy_args(p)
    p.add_argument(
        "--memory-check",
        action="store_true",
        help="also copy a 2x image once per case with hoist and compare its peak RSS",
    )
    add_hoist_args(
        p,
        hoist_help="the hoist command, split like a shell would (default: the venv's hoist); e.g. "
        "'env PYTHONPATH=/other/src python -m hoist' to time another checkout",
        hoist_arg_help="extra argument for hoist image copy (repeatable), "
        "e.g. --hoist-arg=--concurrency=8",
    )
    add_tool_args(p)
    args = p.parse_args(argv)
    unknown = [c for c in args.cases.split(",") if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    return args


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

        env = client_env(workdir, [src.host, dst.host])

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
