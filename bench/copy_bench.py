#!/usr/bin/env python3
"""Benchmark ``hoist image copy`` against skopeo (and peers) on real loopback registries.

One run starts two ``docker-registry`` (CNCF distribution) instances with temporary filesystem
storage and reports, in three sections:

``copy``
    A multi-layer image built with hoist's own model (about 500 MB: half the layers random,
    half compressible, all gzip), pushed once to the source registry, copied by every tool as a
    subprocess registry -> registry, registry -> ocidir and ocidir -> registry (a fresh
    destination each run), for ``--rounds`` rounds, alternating the tools' order: median wall
    time, the ratio to skopeo (measured in the same run), client CPU and peak RSS.
    ``--memory-check`` also copies an image twice as big with hoist once per case, to show that
    its peak memory does not grow with the image.
``slowlink``
    The same registries behind :mod:`latency_proxy` (``--rtt`` ms of round-trip time): a cold
    2-platform copy of small layers, the same copy again, and a ``repo copy`` of 20 tags that
    share digests, in round trips, requests and connections (see :mod:`slowlink`).
``coldstart``
    ``hoist image inspect``, ``hoist manifest head`` and ``hoist --help`` as fresh processes,
    median wall time (see :mod:`coldstart`).

Peers join with ``--peer regctl=/path/to/regctl`` (also crane, oras). ``--json`` prints every
sample; otherwise the tables print as Markdown, as the README shows them.

    /work/main/.venv/bin/python bench/copy_bench.py --rounds 5 --memory-check

See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coldstart
import slowlink
from common import (
    MB,
    TAG,
    ImageInfo,
    Registry,
    add_busy_args,
    add_hoist_args,
    add_image_args,
    add_tool_args,
    build_layout,
    client_env,
    log,
    machine_cpu,
    push,
    run_measured,
    verify_layout,
    verify_registry,
    wait_for_idle,
    workspace,
)
from latency_proxy import LatencyProxy
from tools import PEERS, Hoist, Place, Tool, make_tool

REPOSITORY = "bench/image"
BIG_REPOSITORY = "bench/big"
SECTIONS = ("copy", "slowlink", "coldstart")


# -- running the tools ---------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    max_rss_kib: int
    cpu_s: float
    """User + system CPU time of the tool."""
    registry_cpu_s: float
    """CPU time of both registries during the run: the same work for every tool, ideally."""
    other_cpu_s: float
    """CPU time of everything else on the machine during the run (0 on a quiet machine)."""


@dataclass
class Case:
    name: str
    label: str
    src: str  # "registry" | "ocidir"
    dst: str


CASES = {
    "registry->registry": Case("registry->registry", "registry → registry", "registry", "registry"),
    "registry->ocidir": Case("registry->ocidir", "registry → OCI layout", "registry", "ocidir"),
    "ocidir->registry": Case("ocidir->registry", "OCI layout → registry", "ocidir", "registry"),
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
    envs: dict[str, dict[str, str]]
    idle_wait: float = 0.0

    def place(self, kind: str, side: str, image: Source) -> Place:
        if kind == "registry":
            registry = self.src_registry if side == "src" else self.dst_registry
            return Place("registry", TAG, host=registry.host, repository=image.repository)
        path = image.layout if side == "src" else self.workdir / "dst-layout"
        return Place("ocidir", TAG, path=path)

    def prepare(self, case: Case) -> None:
        """An empty destination: a wiped, restarted registry or no layout directory."""
        if case.dst == "registry":
            self.dst_registry.restart(fresh=True)
        else:
            shutil.rmtree(self.workdir / "dst-layout", ignore_errors=True)
        os.sync()  # no dirty pages from the previous run are written back during this one

    def run(self, tool: Tool, case: Case, image: Source) -> Run | None:
        digest_file = self.workdir / f"{tool.name}-digest"
        digest_file.unlink(missing_ok=True)
        argv = tool.copy(
            self.place(case.src, "src", image), self.place(case.dst, "dst", image), digest_file
        )
        if argv is None:
            return None
        self.prepare(case)
        if self.idle_wait > 0:
            wait_for_idle(self.idle_wait)
        registries = (self.src_registry, self.dst_registry)
        before = sum(r.cpu_seconds() for r in registries)
        machine_before, _ = machine_cpu()
        seconds, rss, cpu, code, stdout, stderr = run_measured(argv, self.envs[tool.name])
        registry_cpu = sum(r.cpu_seconds() for r in registries) - before
        other_cpu = max(0.0, machine_cpu()[0] - machine_before - registry_cpu - cpu)
        if code != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({code}):\n{stderr}")
        digest = stdout.strip().splitlines()[-1] if isinstance(tool, Hoist) else ""
        if digest_file.is_file():
            digest = digest_file.read_text().strip()
        if digest and digest != image.info.digest:
            raise RuntimeError(
                f"{tool.name} {case.name}: digest {digest!r}, not {image.info.digest}"
            )
        self.verify(case, image)
        return Run(seconds, rss, cpu, registry_cpu, other_cpu)

    def verify(self, case: Case, source: Source) -> None:
        """Every blob is at the destination with its size; the manifest is there too."""
        if case.dst == "registry":
            verify_registry(self.dst_registry.host, source.repository, source.info, case.name)
        else:
            verify_layout(self.workdir / "dst-layout", source.info, case.name)


def summarize(results: dict[str, dict[str, list[Run]]], image: ImageInfo) -> list[dict[str, Any]]:
    rows = []
    gb = image.total_bytes / 1e9
    for case, by_tool in results.items():
        row: dict[str, Any] = {"case": case, "label": CASES[case].label}
        for tool, runs in by_tool.items():
            if not runs:
                continue
            median = statistics.median(r.seconds for r in runs)
            cpu = statistics.median(r.cpu_s for r in runs)
            row[tool] = {
                "median_s": median,
                "min_s": min(r.seconds for r in runs),
                "max_s": max(r.seconds for r in runs),
                "mb_per_s": image.total_bytes / MB / median,
                "median_cpu_s": cpu,
                "cpu_s_per_gb": cpu / gb,
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
        skopeo = row.get("skopeo")
        for tool in by_tool:
            if tool != "skopeo" and tool in row and skopeo:
                row[tool]["ratio_to_skopeo"] = row[tool]["median_s"] / skopeo["median_s"]
        rows.append(row)
    return rows


# -- reporting -----------------------------------------------------------------------------------


def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def copy_table(rows: list[dict[str, Any]], tools: Sequence[str]) -> str:
    """Wall time (ratio to skopeo), client CPU and peak RSS per tool and case."""
    headers = ["case", *tools]
    body = []
    for row in rows:
        cells = [row["label"]]
        for tool in tools:
            cell = row.get(tool)
            if cell is None:
                cells.append("—")
                continue
            ratio = f" **{cell['ratio_to_skopeo']:.2f}×**" if "ratio_to_skopeo" in cell else ""
            cells.append(
                f"{cell['median_s']:.2f} s{ratio} ({cell['median_cpu_s']:.2f} s CPU, "
                f"{cell['max_rss_mib']:.0f} MiB)"
            )
        body.append(cells)
    return markdown(headers, body)


def slowlink_table(rows: list[dict[str, Any]], tools: Sequence[str], rtt_ms: float) -> str:
    labels = {
        "cold": "cold 2-platform copy",
        "again": "the same copy again",
        "repo": f"repo copy, {slowlink.TAG_COUNT} tags / {slowlink.DISTINCT} images",
    }
    headers = ["case", *tools]
    body = []
    for case in slowlink.CASES:
        cells = [labels[case]]
        for tool in tools:
            row = next((r for r in rows if r["tool"] == tool and r["case"] == case), None)
            if row is None:
                cells.append("—")
                continue
            text = (
                f"**{row['round_trips']:.1f}** ({row['seconds_rtt']:.2f} s at {rtt_ms:.0f} ms; "
                f"{row['requests_src']:.0f}+{row['requests_dst']:.0f} requests, "
                f"{row['connections_src']:.0f}+{row['connections_dst']:.0f} connections"
            )
            if case == "repo":
                text += f"; {row['blob_uploads']} blob uploads"
            cells.append(text + ")")
        body.append(cells)
    return markdown(headers, body)


def coldstart_table(rows: list[dict[str, Any]], tools: Sequence[str]) -> str:
    headers = ["command", *tools]
    body = []
    for row in rows:
        if row["command"] == "python -c pass":
            continue
        cells = [f"`{row['command']}`"]
        for tool in tools:
            cell = row.get(tool)
            cells.append(f"{cell['median_s'] * 1000:.0f} ms" if cell else "—")
        body.append(cells)
    python = next(r for r in rows if r["command"] == "python -c pass")["python"]["median_s"]
    return markdown(headers, body) + f"\n\n(`python -c pass`: {python * 1000:.0f} ms)"


def machine() -> dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return {
        "date": datetime.date.today().isoformat(),
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "loadavg_start": [round(x, 2) for x in load],
    }


# -- main ----------------------------------------------------------------------------------------


def compile_hoist() -> None:
    """Byte-compile the hoist package the bench imports, as an install would: no run pays for
    compiling it (the hoist command under test may be another checkout; its warm-up runs
    write its bytecode)."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("hoist")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            compileall.compile_dir(folder, quiet=1)


def parse_peer(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or name not in PEERS:
        raise argparse.ArgumentTypeError(f"want NAME=PATH with NAME one of {', '.join(PEERS)}")
    return name, path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time hoist against skopeo (and peers) on loopback registries.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_image_args(p, rounds_help="timed runs per tool and case")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of the cases")
    p.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="comma-separated subset of " + ", ".join(SECTIONS),
    )
    p.add_argument(
        "--peer",
        type=parse_peer,
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also time a peer: " + ", ".join(PEERS) + " (repeatable)",
    )
    p.add_argument(
        "--tools", default="", help="comma-separated subset of the tools to run (default: all)"
    )
    p.add_argument(
        "--hoist-base",
        type=shlex.split,
        help="another hoist command timed beside (column hoist-base), e.g. an older checkout: "
        "'env PYTHONPATH=/old/src .venv/bin/python -m hoist'",
    )
    p.add_argument("--rtt", type=float, default=40.0, help="slow link: added round-trip time, ms")
    p.add_argument("--link-rounds", type=int, default=5, help="slow link: rounds per tool")
    p.add_argument("--cold-runs", type=int, default=20, help="cold start: runs per command")
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
    bad = [s for s in args.sections.split(",") if s not in SECTIONS]
    if bad:
        p.error(f"unknown section(s) {', '.join(bad)}; known: {', '.join(SECTIONS)}")
    return args


def run_copy(
    args: argparse.Namespace, bench: Bench, tools: Sequence[Tool], source: Source
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    cases = [CASES[c] for c in args.cases.split(",")]
    results: dict[str, dict[str, list[Run]]] = {c.name: {t.name: [] for t in tools} for c in cases}
    discarded = {t.name: 0 for t in tools}
    for n in range(args.warmup + args.rounds):
        timed = n >= args.warmup
        label = f"round {n - args.warmup + 1}/{args.rounds}" if timed else "warm-up"
        order = list(tools) if n % 2 == 0 else list(tools)[::-1]
        for case in cases:
            for tool in order:
                for attempt in range(1 + args.retries):
                    run = bench.run(tool, case, source)
                    if run is None:
                        break
                    log(
                        f"{label:11} {case.name:20} {tool.name:6} {run.seconds:7.2f} s "
                        f"{run.max_rss_kib / 1024:7.1f} MiB  cpu {run.cpu_s:5.2f} s, "
                        f"registries {run.registry_cpu_s:5.2f} s, "
                        f"other {run.other_cpu_s:5.2f} s"
                    )
                    if run.other_cpu_s <= args.max_other_cpu or attempt == args.retries:
                        break
                    log("            (discarded: the machine was busy; again)")
                    if timed:
                        discarded[tool.name] += 1
                if timed and run is not None:
                    results[case.name][tool.name].append(run)
    rows = summarize(results, source.info)

    memory: list[dict[str, Any]] = []
    if args.memory_check:
        big_layout = bench.workdir / "src-layout-2x"
        log(f"memory check: building a {2 * args.size_mb} MB image in {big_layout}")
        big = build_layout(big_layout, 2 * args.size_mb * MB, args.layers, args.seed + 1)
        push(big_layout, bench.src_registry, BIG_REPOSITORY)
        hoist = next(t for t in tools if t.name == "hoist")
        for case in cases:
            run = bench.run(hoist, case, Source(big, big_layout, BIG_REPOSITORY))
            assert run is not None
            one = results[case.name]["hoist"]
            base = max(r.max_rss_kib for r in one) / 1024 if one else float("nan")
            memory.append(
                {
                    "case": case.name,
                    "image_mb": round(source.info.total_bytes / MB, 1),
                    "image_2x_mb": round(big.total_bytes / MB, 1),
                    "hoist_rss_mib": base,
                    "hoist_rss_2x_mib": run.max_rss_kib / 1024,
                    "seconds_2x": run.seconds,
                    "cpu_s_2x": run.cpu_s,
                }
            )
            log(
                f"2x image    {case.name:20} hoist  {run.seconds:7.2f} s "
                f"{run.max_rss_kib / 1024:7.1f} MiB"
            )
    return rows, memory, discarded


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sections = args.sections.split(",")
    report: dict[str, Any] = {"machine": machine()}
    tools = [
        make_tool("hoist", args.hoist, args.hoist_arg),
        make_tool("skopeo", [args.skopeo]),
        *(make_tool(name, [path]) for name, path in args.peer),
    ]
    if args.hoist_base:
        tools.insert(1, make_tool("hoist-base", args.hoist_base, args.hoist_arg))
    if args.tools:
        tools = [t for t in tools if t.name in args.tools.split(",")]
    names = [t.name for t in tools]
    compile_hoist()
    with ExitStack() as stack:
        workdir = stack.enter_context(workspace(args.workdir))
        src = Registry(workdir / "registry-src", args.registry_bin)
        dst = Registry(workdir / "registry-dst", args.registry_bin)
        stack.callback(src.stop)
        stack.callback(dst.stop)
        src.restart(fresh=True)
        dst.restart(fresh=True)
        src_proxy = stack.enter_context(LatencyProxy(("127.0.0.1", src.port), args.rtt / 1000))
        dst_proxy = stack.enter_context(LatencyProxy(("127.0.0.1", dst.port), args.rtt / 1000))
        hosts = [src.host, dst.host, src_proxy.host, dst_proxy.host]
        log(f"registries: source {src.host}, destination {dst.host}; workdir {workdir}")
        base_env = client_env(workdir, hosts)
        envs = {t.name: t.setup(workdir, hosts, dict(base_env)) for t in tools}
        report["tools"] = {t.name: {"command": t.command, "version": t.version()} for t in tools}
        report["tools"]["hoist"]["args"] = args.hoist_arg

        small = slowlink.write_images(src.host)
        if "copy" in sections:
            layout = workdir / "src-layout"
            log(f"building a {args.size_mb} MB image of {args.layers} layers in {layout}")
            image = build_layout(layout, args.size_mb * MB, args.layers, args.seed)
            log(f"image {image.digest}: {image.total_bytes / MB:.1f} MB; pushing to {src.host}")
            push(layout, src, REPOSITORY)
            bench = Bench(workdir, src, dst, envs, args.idle_wait)
            rows, memory, discarded = run_copy(
                args, bench, tools, Source(image, layout, REPOSITORY)
            )
            report["image"] = {
                "digest": image.digest,
                "bytes": image.total_bytes,
                "layers": image.layers,
            }
            report["copy"] = {
                "rounds": args.rounds,
                "warmup": args.warmup,
                "discarded_busy_runs": discarded,
                "cases": rows,
                "memory_check": memory,
            }
        if "slowlink" in sections:
            link = slowlink.SlowLink(workdir, src, dst, src_proxy, dst_proxy, small)
            slowlink.run_rounds(link, tools, envs, args.link_rounds, args.rtt / 1000)
            report["slowlink"] = {
                "rtt_ms": args.rtt,
                "rounds": args.link_rounds,
                "blobs_cold": small.blob_count,
                "rows": slowlink.summarize(link, tools, args.rtt / 1000),
            }
        if "coldstart" in sections:
            ref = Place(
                "registry", slowlink.SMALL_TAG, host=src.host, repository=slowlink.SMALL_REPOSITORY
            )
            report["coldstart"] = {
                "runs": args.cold_runs,
                "rows": coldstart.run_cold_start(tools, envs, ref, args.cold_runs),
            }
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    m = report["machine"]
    print(
        f"{m['date']}, {m['nproc']} × {m['cpu']}, Linux {m['kernel']}, Python {m['python']}; "
        f"load average at start {m['loadavg_start'][0]:.2f}, at end {m['loadavg_end'][0]:.2f}"
    )
    print("tools: " + "; ".join(f"{k} {v['version']}" for k, v in report["tools"].items()))
    if "copy" in report:
        image_mb = report["image"]["bytes"] / MB
        print(
            f"\nCopy: {image_mb:.0f} MB image, {len(report['image']['layers'])} gzip layers; "
            f"medians of {args.rounds}; ratio to skopeo in bold; CPU = client user+system; "
            "RSS = client peak\n"
        )
        print(copy_table(report["copy"]["cases"], names))
        if report["copy"]["memory_check"]:
            print("\nhoist peak RSS, 1× and 2× image (MiB):")
            for mem in report["copy"]["memory_check"]:
                print(
                    f"  {mem['case']:20} {mem['hoist_rss_mib']:6.1f} {mem['hoist_rss_2x_mib']:6.1f}"
                )
    if "slowlink" in report:
        print(
            f"\nSlow link: {args.rtt:.0f} ms RTT in front of each registry; round trips in bold "
            f"(medians of {args.link_rounds}); requests and connections source+destination\n"
        )
        print(slowlink_table(report["slowlink"]["rows"], names, args.rtt))
    if "coldstart" in report:
        print(f"\nCold start: median wall time of {args.cold_runs} fresh processes\n")
        print(coldstart_table(report["coldstart"]["rows"], names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
