"""The instructions that change only the config, each recorded in history as BuildKit does.

``created_by`` texts are BuildKit's (``frontend/dockerfile/dockerfile2llb/convert.go``):
``ENV A=b``, ``LABEL k=v``, ``ARG V=1``, ``CMD ["a" "b"]`` (Go ``%q`` of the list),
``EXPOSE map[80/tcp:{}]`` (Go ``%v`` of the port set), ``WORKDIR /app``, ``USER app``,
``VOLUME [/data]``, ``STOPSIGNAL SIGTERM``, ``SHELL [/bin/sh -c]``, ``MAINTAINER x``,
``HEALTHCHECK &{["CMD-SHELL" "..."] "30s" "0s" "0s" "0s" '\\x03'}``. ONBUILD, as in
BuildKit, only adds to the config's ``OnBuild`` and records no history.

One difference: BuildKit's WORKDIR also makes the directory in a layer; here it changes
only the config (runtimes create a missing working directory when a container starts).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hoist.authoring import edits
from hoist.authoring.dockerfile import Instruction
from hoist.authoring.gofmt import (
    go_duration,
    go_map_keys,
    go_quote_rune,
    go_quote_slice,
    parse_go_duration,
)
from hoist.authoring.shellwords import process_word, process_words
from hoist.authoring.stage import StageState

__all__ = ["PLATFORM_ARGS", "StepContext", "apply_step", "parse_ports"]

PLATFORM_ARGS = (
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
)
"""The ARGs BuildKit defines in the global scope (a stage sees them once it declares them)."""

_SIGNALS = frozenset(
    "ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT "  # noqa: SIM905
    "RTMAX RTMIN SEGV STKFLT STOP SYS TERM TRAP TSTP TTIN TTOU UNUSED URG USR1 USR2 "
    "VTALRM WINCH XCPU XFSZ".split()
    + [f"RTMIN+{i}" for i in range(1, 16)]
    + [f"RTMAX-{i}" for i in range(1, 15)]
)


@dataclass
class StepContext:
    """What instructions need besides the stage: escape character, ARG values."""

    escape: str = "\\"
    build_args: Mapping[str, str] = field(default_factory=dict)
    meta_args: Mapping[str, str | None] = field(default_factory=dict)
    """Global ARGs (before the first FROM, and the platform ones) with their values."""
    used_args: set[str] = field(default_factory=set)


def _shell(state: StageState) -> list[str]:
    shell = state.draft.config.get("Shell")
    if shell:
        return list(shell)
    return ["cmd", "/S", "/C"] if state.platform.os == "windows" else ["/bin/sh", "-c"]


def parse_ports(spec: str) -> list[str]:
    """``80``, ``80/udp``, ``8000-8002`` -> ``["80/tcp"]``... (Docker's nat.ParsePortSpec)."""
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if not port:
        raise ValueError(f"no port specified: {spec}<empty>")
    if proto not in ("tcp", "udp", "sctp"):
        raise ValueError(f"invalid proto: {proto}")
    port = port.rsplit(":", 1)[-1]  # ip:hostPort:containerPort exposes containerPort
    start, dash, end = port.partition("-")
    try:
        low, high = int(start), int(end if dash else start)
        if not start.isdigit() or (dash and not end.isdigit()):
            raise ValueError
    except ValueError:
        raise ValueError(f"invalid containerPort: {port}") from None
    if not 0 <= low <= high <= 65535:
        raise ValueError(f"invalid port range: {port}")
    return [f"{p}/{proto}" for p in range(low, high + 1)]


def _healthcheck(instr: Instruction) -> tuple[dict[str, object], str]:
    if instr.args[0] == "NONE":
        test = ["NONE"]
        durations = [0, 0, 0, 0]
        retries = 0
    else:
        test = ["CMD", *instr.args[1:]] if instr.json else ["CMD-SHELL", instr.args[1]]
        durations = [
            parse_go_duration(instr.flag(key) or "0")
            for key in ("interval", "timeout", "start-period", "start-interval")
        ]
        retries = int(instr.flag("retries") or 0)
    conf: dict[str, object] = {"Test": test}
    for key, value in zip(
        ("Interval", "Timeout", "StartPeriod", "StartInterval"), durations, strict=True
    ):
        if value:
            conf[key] = value
    if retries:
        conf["Retries"] = retries
    shown = " ".join(f'"{go_duration(d)}"' for d in durations)
    return conf, f"HEALTHCHECK &{{{go_quote_slice(test)} {shown} {go_quote_rune(retries)}}}"


def _arg(state: StageState, instr: Instruction, ctx: StepContext, expand: _Expand) -> str:
    parts = []
    for key, default in instr.pairs:
        value = default
        if key in PLATFORM_ARGS and key in ctx.meta_args:
            value = ctx.meta_args[key]
        elif key in ctx.build_args:
            value = ctx.build_args[key]
            ctx.used_args.add(key)
        elif default is not None:
            value = expand(default)
        elif key in ctx.meta_args:
            value = ctx.meta_args[key]
        if value is not None:
            state.vars[key] = value
        parts.append(key if value is None else f"{key}={value}")
    return "ARG " + " ".join(parts)


def _pairs(instr: Instruction, expand: _Expand) -> list[tuple[str, str]]:
    return [(expand(k), expand(v or "")) for k, v in instr.pairs]


_Expand = Callable[[str], str]


def apply_step(state: StageState, instr: Instruction, ctx: StepContext) -> str | None:
    """Apply a config-only instruction; its history ``created_by`` (None: no history)."""
    env = dict(state.vars)  # every word of one instruction sees the variables before it

    def expand(word: str) -> str:
        return process_word(word, env, ctx.escape)

    draft = state.draft
    kw = instr.keyword
    if kw == "ENV":
        pairs = _pairs(instr, expand)
        for key, value in pairs:
            edits.set_env(draft, key, value)
            state.vars[key] = value
        return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
    if kw == "LABEL":
        pairs = _pairs(instr, expand)
        edits.set_labels(draft, dict(pairs))
        return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
    if kw == "ARG":
        return _arg(state, instr, ctx, expand)
    if kw in ("CMD", "ENTRYPOINT"):
        args: list[str] | None = list(instr.args)
        if not instr.json:
            args = [*_shell(state), " ".join(instr.args)]
        elif kw == "ENTRYPOINT" and not args:
            args = None
        if kw == "CMD":
            edits.set_cmd(draft, args)
            state.cmd_set = True
        else:
            edits.set_entrypoint(draft, args)
            if not state.cmd_set:
                draft.config.pop("Cmd", None)  # an ENTRYPOINT resets an inherited CMD
        return f"{kw} {go_quote_slice(args)}"
    if kw == "EXPOSE":
        ports: list[str] = []
        for word in instr.args:
            for spec in process_words(word, env, ctx.escape):
                ports.extend(parse_ports(spec))
        edits.expose(draft, ports)
        return "EXPOSE " + go_map_keys(ports)
    if kw == "WORKDIR":
        path = expand(instr.args[0])
        if not path:
            raise ValueError("WORKDIR: cannot normalize nothing")
        current = draft.config.get("WorkingDir") or "/"
        workdir = posixpath.normpath(posixpath.join("/", current, path))
        edits.set_workdir(draft, workdir)
        parent = workdir
        while parent != "/":
            state.dir_paths.add(parent.lstrip("/"))
            parent = posixpath.dirname(parent)
        return "WORKDIR " + workdir
    if kw == "USER":
        user = expand(instr.args[0])
        edits.set_user(draft, user)
        return "USER " + user
    if kw == "VOLUME":
        volumes = [expand(v) for v in instr.args]
        if "" in volumes:
            raise ValueError("VOLUME specified can not be an empty string")
        edits.add_volumes(draft, volumes)
        return "VOLUME [" + " ".join(volumes) + "]"
    if kw == "STOPSIGNAL":
        signal = expand(instr.args[0])
        name = signal.upper().removeprefix("SIG")
        if not (signal.isdigit() and int(signal) > 0) and name not in _SIGNALS:
            raise ValueError(f"Invalid signal: {signal}")
        edits.set_stop_signal(draft, signal)
        return "STOPSIGNAL " + signal
    if kw == "HEALTHCHECK":
        healthcheck, created_by = _healthcheck(instr)
        edits.set_healthcheck(draft, healthcheck)
        return created_by
    if kw == "SHELL":
        edits.set_shell(draft, instr.args)
        return "SHELL [" + " ".join(instr.args) + "]"
    if kw == "ONBUILD":
        edits.add_onbuild(draft, instr.expression)
        return None
    if kw == "MAINTAINER":
        edits.set_author(draft, instr.args[0])
        return "MAINTAINER " + instr.args[0]
    raise ValueError(f"{kw} is not a config-only instruction")
