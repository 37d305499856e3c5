"""Cold start: the wall time of fresh processes for the commands people type most.

``hoist image inspect REF``, ``hoist manifest head REF`` (both against a loopback registry, no
added latency) and ``hoist --help``, each run ``runs`` times as a new process, interleaved; the
median is reported, next to ``python -c pass`` (the interpreter's own start) and the peers'
equivalents where they have one. ``python -X importtime`` shows where hoist's time goes.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Sequence
from typing import Any

from common import log, run_measured
from tools import Place, Tool

COMMANDS: dict[str, Callable[[Tool, Place], list[str] | None]] = {
    "image inspect": lambda tool, ref: tool.inspect(ref),
    "manifest head": lambda tool, ref: tool.head(ref),
    "--help": lambda tool, ref: tool.help(),
}


def run_cold_start(
    tools: Sequence[Tool],
    envs: dict[str, dict[str, str]],
    ref: Place,
    runs: int,
    python: str = sys.executable,
) -> list[dict[str, Any]]:
    """One row per command: the median wall seconds (and the samples) of each tool."""
    argvs: dict[tuple[str, str], list[str]] = {}
    for tool in tools:
        for name, make in COMMANDS.items():
            argv = make(tool, ref)
            if argv is not None:
                argvs[(name, tool.name)] = argv
    argvs[("python -c pass", "python")] = [python, "-c", "pass"]
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in argvs}
    for n in range(runs + 1):  # the first round fills the page cache and is not counted
        for key, argv in argvs.items():
            env = envs.get(key[1], envs["hoist"])
            seconds, _, _, code, _, stderr = run_measured(argv, env)
            if code != 0:
                raise RuntimeError(f"{' '.join(argv)} failed ({code}):\n{stderr}")
            if n:
                samples[key].append(seconds)
    rows: list[dict[str, Any]] = []
    for name in [*COMMANDS, "python -c pass"]:
        row: dict[str, Any] = {"command": name}
        for (command, tool), values in samples.items():
            if command == name:
                row[tool] = {
                    "median_s": statistics.median(values),
                    "samples_s": [round(v, 4) for v in values],
                }
        rows.append(row)
        log(
            f"cold start {name:15} "
            + ", ".join(
                f"{k} {v['median_s'] * 1000:.0f} ms" for k, v in row.items() if k != "command"
            )
        )
    return rows
