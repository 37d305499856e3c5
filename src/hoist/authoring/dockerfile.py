"""Dockerfiles parsed into stages of instructions, the way BuildKit's parser reads them.

Pure: text in, values out, no I/O. Handles parser directives (``# escape=``, ``# syntax=``,
``# check=``), comments, line continuations, JSON (exec) and shell forms, builder flags
(``--from=``, ``--chown=``, ...), ``ENV``/``LABEL`` in both ``K=V ...`` and legacy ``K V``
forms, and ``ARG`` before ``FROM``. Variables are substituted later, when the builder knows
their values (see :mod:`hoist.authoring.shellwords`). Every error is an InvalidDockerfile with
the line it is about.

``RUN`` needs a container, so it is an error here unless ``allow_run`` (the builder allows
it to parse, then refuses it only in stages it must build). Heredocs (``<<EOF``) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hoist.authoring.dflines import (
    WHITESPACE,
    LineReader,
    heredocs,
    json_array,
    logical_lines,
    parse_words,
    split_flags,
    split_words,
)
from hoist.authoring.gofmt import parse_go_duration
from hoist.errors import InvalidDockerfile

__all__ = [
    "KEYWORDS",
    "RUN_ERROR",
    "Dockerfile",
    "Instruction",
    "Stage",
    "parse_dockerfile",
    "parse_instruction",
]

KEYWORDS = frozenset(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD RUN "  # noqa: SIM905
    "SHELL STOPSIGNAL USER VOLUME WORKDIR".split()
)
RUN_ERROR = "RUN needs a container; hoist builds without one"

_FLAGS: dict[str, frozenset[str]] = {
    "FROM": frozenset({"platform"}),
    "COPY": frozenset({"from", "chown", "chmod", "link", "parents", "exclude"}),
    "ADD": frozenset({"chown", "chmod", "link", "checksum", "keep-git-dir", "unpack", "exclude"}),
    "HEALTHCHECK": frozenset({"interval", "timeout", "start-period", "start-interval", "retries"}),
    "RUN": frozenset({"mount", "network", "security", "device"}),
}
_BOOL_FLAGS = frozenset({"link", "parents", "keep-git-dir", "unpack"})
_UNSUPPORTED_FLAGS = {
    "parents": "is not supported by hoist",
    "exclude": "is not supported by hoist",
    "unpack": "is not supported by hoist",
    "checksum": "is for URL sources, which hoist cannot fetch (no network)",
    "keep-git-dir": "is for Git sources, which hoist cannot fetch (no network)",
}
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction, arguments as written (variables not yet substituted).

    ``args``: the words (COPY, ADD, VOLUME, EXPOSE, FROM, HEALTHCHECK: type then command),
    one string for shell forms and for USER/WORKDIR/STOPSIGNAL/MAINTAINER; ``json`` marks
    the exec (JSON array) form. ``pairs``: ENV and LABEL keys and values (quotes kept),
    ARG names and optional defaults. ``trigger``: the instruction an ONBUILD records, with
    ``expression`` its text.
    """

    keyword: str
    line: int
    original: str
    args: tuple[str, ...] = ()
    json: bool = False
    flags: tuple[tuple[str, str], ...] = ()
    pairs: tuple[tuple[str, str | None], ...] = ()
    trigger: Instruction | None = None
    expression: str = ""
    heredoc: bool = False

    def flag(self, name: str) -> str | None:
        """The value of ``--name`` (``"true"`` for a bare boolean flag), or None."""
        for key, value in self.flags:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Stage:
    """A ``FROM`` and what follows it up to the next ``FROM``."""

    index: int
    base: str
    name: str | None
    platform: str | None
    line: int
    instructions: tuple[Instruction, ...]

    @property
    def label(self) -> str:
        """The name BuildKit shows: the stage's name, else ``stage-N``."""
        return self.name or f"stage-{self.index}"


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """Stages in order, the ``ARG``s before the first ``FROM``, and the escape character."""

    stages: tuple[Stage, ...]
    meta_args: tuple[Instruction, ...] = ()
    escape: str = "\\"
    name: str = "Dockerfile"

    def find_stage(self, ref: str) -> Stage | None:
        """The stage named ``ref`` (case-insensitive) or at index ``ref``; None if neither."""
        lowered = ref.lower()
        for stage in self.stages:
            if stage.name == lowered:
                return stage
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None

    def error(self, message: str, line: int = 0) -> InvalidDockerfile:
        return InvalidDockerfile(message, line, self.name)


# --------------------------------------------------------------------------- instructions

_Make = Callable[..., Instruction]


class _Parser(LineReader):
    def __init__(self, name: str, allow_run: bool) -> None:
        super().__init__(name, skip_run_heredocs=allow_run)
        self.allow_run = allow_run

    def flags(self, keyword: str, words: list[str], line: int) -> tuple[tuple[str, str], ...]:
        allowed = _FLAGS.get(keyword, frozenset())
        out: dict[str, str] = {}
        for word in words:
            key, eq, value = word[2:].partition("=")
            if key not in allowed:
                raise self.fail(f"unknown flag: --{key}", line)
            if key in out:
                raise self.fail(f"duplicate flag specified: --{key}", line)
            if key in _BOOL_FLAGS:
                value = value.lower() if eq else "true"
                if value not in ("true", "false"):
                    raise self.fail(f"expecting boolean value for flag --{key}, not: {value}", line)
            elif not eq:
                raise self.fail(f"missing a value on flag: --{key}", line)
            if keyword != "RUN" and key in _UNSUPPORTED_FLAGS and value != "false":
                raise self.fail(f"{keyword} --{key} {_UNSUPPORTED_FLAGS[key]}", line)
            out[key] = value
        return tuple(out.items())

    def instruction(self, text: str, line: int) -> Instruction:
        parts = WHITESPACE.split(text.strip(), maxsplit=1)
        word = parts[0]
        keyword = word.upper()
        if keyword not in KEYWORDS:
            raise self.fail(f"unknown instruction: {word}", line)
        flag_words, rest = split_flags(parts[1] if len(parts) > 1 else "")
        rest = rest.strip()
        flags = self.flags(keyword, flag_words, line)
        try:
            return self._dispatch(keyword, rest, flags, text, line)
        except ValueError as exc:
            if isinstance(exc, InvalidDockerfile):
                raise
            raise self.fail(str(exc), line) from None

    def _dispatch(
        self, keyword: str, rest: str, flags: tuple[tuple[str, str], ...], text: str, line: int
    ) -> Instruction:
        def make(args: Sequence[str] = (), **kw: Any) -> Instruction:
            return Instruction(keyword, line, text, tuple(args), flags=flags, **kw)

        if keyword == "RUN":
            if not self.allow_run:
                raise self.fail(RUN_ERROR, line)
            exec_form = json_array(rest)
            heredoc = bool(heredocs(parse_words(rest, self.escape)))
            return make(exec_form or [rest], json=exec_form is not None, heredoc=heredoc)
        if keyword == "FROM":
            args = split_words(rest)
            if len(args) == 3 and args[1].lower() == "as":
                name = args[2].lower()
                if not _STAGE_NAME.match(name):
                    raise ValueError(
                        f"invalid name for build stage: {args[2]!r}, name can't start with a "
                        "number or contain symbols"
                    )
            elif len(args) != 1:
                raise ValueError("FROM requires either one or three arguments")
            return make(args)
        if keyword in ("COPY", "ADD", "VOLUME"):
            exec_form = json_array(rest)
            args = exec_form if exec_form is not None else split_words(rest)
            if keyword == "VOLUME":
                args = [a.strip() for a in args]
                if not args:
                    raise ValueError("VOLUME requires at least one argument")
                if "" in args:
                    raise ValueError("VOLUME specified can not be an empty string")
            else:
                if len(args) < 2:
                    raise ValueError(
                        f"{keyword} requires at least two arguments, but only one was "
                        "provided. Destination could not be determined"
                    )
                if heredocs(args):
                    raise ValueError(f"{keyword} with a heredoc (<<EOF) is not supported by hoist")
            return make(args, json=exec_form is not None)
        if keyword in ("CMD", "ENTRYPOINT", "SHELL"):
            exec_form = json_array(rest)
            if keyword == "SHELL":
                if exec_form is None:
                    raise ValueError(f"SHELL requires the arguments to be in JSON form: {rest}")
                if not exec_form:
                    raise ValueError("SHELL requires at least one argument")
            if exec_form is not None:
                return make(exec_form, json=True)
            return make([rest] if rest else [])
        if keyword in ("ENV", "LABEL"):
            return make(pairs=self.name_values(keyword, rest))
        if keyword == "ARG":
            pairs: list[tuple[str, str | None]] = []
            for word in parse_words(rest, self.escape):
                key, eq, value = word.partition("=")
                if not key:
                    raise ValueError("ARG names can not be blank")
                pairs.append((key, value if eq else None))
            if not pairs:
                raise ValueError("ARG requires at least one argument")
            return make(pairs=tuple(pairs))
        if keyword == "EXPOSE":
            args = sorted(split_words(rest))
            if not args:
                raise ValueError("EXPOSE requires at least one argument")
            return make(args)
        if keyword in ("USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"):
            if not rest:
                raise ValueError(f"{keyword} requires exactly one argument")
            return make([rest])
        if keyword == "HEALTHCHECK":
            return self.healthcheck(rest, make)
        return self.onbuild(rest, make, line)

    def name_values(self, keyword: str, rest: str) -> tuple[tuple[str, str | None], ...]:
        words = parse_words(rest, self.escape)
        if not words:
            raise ValueError(f"{keyword} requires at least one argument")
        if "=" not in words[0]:
            parts = WHITESPACE.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise ValueError(f"{keyword} must have two arguments")
            pairs: list[tuple[str, str | None]] = [(parts[0], parts[1])]
        else:
            pairs = []
            for word in words:
                if "=" not in word:
                    raise ValueError(
                        f"Syntax error - can't find = in {word!r}. Must be of the form: name=value"
                    )
                key, _, value = word.partition("=")
                pairs.append((key, value))
        if any(not key for key, _ in pairs):
            raise ValueError(f"{keyword} names can not be blank")
        return tuple(pairs)

    def healthcheck(self, rest: str, make: _Make) -> Instruction:
        typ, *more = WHITESPACE.split(rest, maxsplit=1)
        typ = typ.upper()
        command = more[0].strip() if more else ""
        if not typ:
            raise ValueError("HEALTHCHECK requires at least one argument")
        if typ == "NONE":
            if command:
                raise ValueError("HEALTHCHECK NONE takes no arguments")
            return make(["NONE"])
        if typ != "CMD":
            raise ValueError(f'Unknown type "{typ}" in HEALTHCHECK (try CMD)')
        exec_form = json_array(command)
        args = exec_form if exec_form is not None else ([command] if command else [])
        if not args:
            raise ValueError("Missing command after HEALTHCHECK CMD")
        instr = make(["CMD", *args], json=exec_form is not None)
        for key in ("interval", "timeout", "start-period", "start-interval"):
            value = instr.flag(key)
            if value:
                ns = parse_go_duration(value)
                if ns < 0:
                    raise ValueError(f"Interval {key!r} cannot be negative")
                if 0 < ns < 1_000_000:
                    raise ValueError(f"Interval {key!r} cannot be less than 1ms")
        retries = instr.flag("retries")
        if retries:
            if not re.fullmatch(r"[+-]?[0-9]+", retries):
                raise ValueError(f"--retries: invalid number {retries!r}")
            if int(retries) < 0:
                raise ValueError(f"--retries cannot be negative ({int(retries)})")
        return instr

    def onbuild(self, rest: str, make: _Make, line: int) -> Instruction:
        if not rest:
            raise ValueError("ONBUILD requires at least one argument")
        trigger_word = rest.split(None, 1)[0].upper()
        if trigger_word == "ONBUILD":
            raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger_word in ("FROM", "MAINTAINER"):
            raise ValueError(f"{trigger_word} isn't allowed as an ONBUILD trigger")
        allow_run, self.allow_run = self.allow_run, True  # a trigger runs downstream, not here
        try:
            trigger = self.instruction(rest, line)
        finally:
            self.allow_run = allow_run
        return make(trigger=trigger, expression=rest)


def parse_dockerfile(text: str, *, name: str = "Dockerfile", allow_run: bool = False) -> Dockerfile:
    """Parse a Dockerfile's text; raises InvalidDockerfile naming the line at fault."""
    parser = _Parser(name, allow_run)
    meta: list[Instruction] = []
    stages: list[Stage] = []
    current: list[Instruction] = []
    head: Instruction | None = None
    count = 0

    def close() -> None:
        if head is None:
            return
        args = head.args
        stage_name = args[2].lower() if len(args) == 3 else None
        if stage_name and any(s.name == stage_name for s in stages):
            raise parser.fail(f"duplicate stage name {stage_name!r}", head.line)
        stages.append(
            Stage(
                len(stages), args[0], stage_name, head.flag("platform"), head.line, tuple(current)
            )
        )

    for line, number in logical_lines(parser, text):
        count += 1
        instr = parser.instruction(line, number)
        if instr.keyword == "FROM":
            close()
            head, current = instr, []
        elif head is None:
            if instr.keyword != "ARG":
                raise parser.fail(
                    f"{instr.keyword} before the first FROM: no build stage in current context",
                    number,
                )
            meta.append(instr)
        else:
            current.append(instr)
    close()
    if not count:
        raise parser.fail("file with no instructions", 0)
    if not stages:
        raise parser.fail("dockerfile contains no stages to build (no FROM)", 0)
    return Dockerfile(tuple(stages), tuple(meta), parser.escape, name)


def parse_instruction(
    text: str, *, line: int = 0, escape: str = "\\", name: str = "Dockerfile"
) -> Instruction:
    """Parse one instruction (an ONBUILD trigger of a base image); RUN parses, to be refused
    where it would run."""
    parser = _Parser(name, allow_run=True)
    parser.set_escape(escape, line)
    return parser.instruction(text, line)
