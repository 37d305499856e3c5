"""The line and word level of Dockerfile syntax, as BuildKit's parser reads it.

Lines: a leading byte-order mark dropped, parser directives (``# escape=``, ``# syntax=``,
``# check=``) only before anything else, ``#`` comment lines dropped (also inside a
continued instruction), the escape character at the end of a line continuing it (empty
continuation lines are skipped), heredoc bodies of RUN skipped. Words: BuildKit's word
splitting (quotes and escapes kept for the variable expansion to remove), builder flags,
and the JSON array (exec) form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from hoist.errors import InvalidDockerfile, InvalidInput
from hoist.model.jsonvalue import parse_json

__all__ = [
    "WHITESPACE",
    "LineReader",
    "heredocs",
    "json_array",
    "logical_lines",
    "parse_words",
    "split_flags",
    "split_words",
]

WHITESPACE = re.compile(r"[\t\v\f\r ]+")
HEREDOC = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = frozenset({"escape", "syntax", "check"})


class LineReader:
    """The escape character (``\\`` or, after ``# escape=```, a backtick) and errors."""

    def __init__(self, name: str = "Dockerfile", *, skip_run_heredocs: bool = False) -> None:
        self.name = name
        self.skip_run_heredocs = skip_run_heredocs
        self.escape = "\\"
        self.continuation = re.compile(r"\\[ \t]*$")

    def fail(self, message: str, line: int) -> InvalidDockerfile:
        return InvalidDockerfile(message, line, self.name)

    def set_escape(self, value: str, line: int) -> None:
        if value not in ("\\", "`"):
            raise self.fail(f"invalid escape token '{value}' does not match ` or \\", line)
        self.escape = value
        self.continuation = re.compile(re.escape(value) + r"[ \t]*$")


def parse_words(rest: str, escape: str) -> list[str]:
    """Split at unquoted whitespace, keeping quotes and escapes (BuildKit's parseWords)."""
    words: list[str] = []
    word: list[str] = []
    blank_ok = False
    quote = ""
    in_word = False
    i = 0
    n = len(rest)
    while i < n:
        ch = rest[i]
        if not in_word:
            if ch.isspace():
                i += 1
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i + 1 == n:
                    i += 1
                    continue
                word.append(ch)
                i += 1
                ch = rest[i]
            word.append(ch)
            i += 1
            continue
        if ch.isspace():
            if blank_ok or word:
                words.append("".join(word))
            word, blank_ok, in_word = [], False, False
            i += 1
            continue
        if ch in ("'", '"'):
            quote, blank_ok = ch, True
        elif ch == escape:
            if i + 1 == n:
                i += 1
                continue
            word.append(ch)
            i += 1
            ch = rest[i]
        word.append(ch)
        i += 1
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def split_flags(rest: str) -> tuple[list[str], str]:
    """Leading ``--name[=value]`` words (quotes and backslashes removed) and the rest."""
    flags: list[str] = []
    pos = 0
    n = len(rest)
    while True:
        while pos < n and rest[pos].isspace():
            pos += 1
        if not rest.startswith("--", pos):
            return flags, rest[pos:]
        word: list[str] = []
        quote = ""
        while pos < n and (quote or not rest[pos].isspace()):
            ch = rest[pos]
            if quote and ch == quote:
                quote = ""
            elif not quote and ch in ("'", '"'):
                quote = ch
            elif ch == "\\" and pos + 1 < n:
                pos += 1
                word.append(rest[pos])
            else:
                word.append(ch)
            pos += 1
        text = "".join(word)
        if text == "--":
            return flags, rest[pos:]
        flags.append(text)


def json_array(rest: str) -> list[str] | None:
    """The strings of a JSON array form, or None when ``rest`` is not one."""
    text = rest.lstrip()
    if not text.startswith("["):
        return None
    try:
        value = parse_json(text)
    except InvalidInput:
        return None  # not an exec form: BuildKit reads the line as shell form
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise ValueError("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def split_words(rest: str) -> list[str]:
    """Words between whitespace, nothing unquoted (COPY, FROM, EXPOSE)."""
    return [w for w in WHITESPACE.split(rest.strip()) if w]


def heredocs(words: Sequence[str]) -> list[tuple[str, bool]]:
    """The ``(name, strip tabs)`` of each ``<<NAME`` word."""
    out = []
    for word in words:
        match = HEREDOC.match(word)
        if match and match.group(3):
            out.append((match.group(3).strip("'\""), match.group(2) == "-"))
    return out


def logical_lines(reader: LineReader, text: str) -> Iterator[tuple[str, int]]:
    """Instructions as single lines with their first line number, directives applied."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    seen: set[str] = set()
    looking = True
    i = 0

    def directive(raw: str, number: int) -> None:
        nonlocal looking
        if not looking:
            return
        match = _DIRECTIVE.match(raw)
        key = match.group(1).lower() if match else ""
        if key not in _KNOWN_DIRECTIVES:
            looking = False
            return
        if key in seen:
            raise reader.fail(f"only one {key} parser directive can be used", number)
        seen.add(key)
        if key == "escape":
            assert match is not None
            reader.set_escape(match.group(2), number)

    while i < len(lines):
        raw = lines[i].lstrip()
        i += 1
        start = i
        directive(raw, start)
        if raw.startswith("#"):
            continue
        line, more = _trim(reader, raw)
        if not more and not line:
            continue
        while more and i < len(lines):
            raw = lines[i]
            i += 1
            directive(raw, i)
            if raw.lstrip().startswith("#") or not raw.strip():
                continue
            part, more = _trim(reader, raw)
            line += part
        yield line, start
        if line.split(None, 1)[0].upper() == "RUN" and reader.skip_run_heredocs:
            docs = heredocs(parse_words(line, reader.escape))
            for name, chomp in docs:  # skip the bodies of RUN heredocs
                while i < len(lines):
                    body = lines[i].lstrip("\t") if chomp else lines[i]
                    i += 1
                    if body == name:
                        break


def _trim(reader: LineReader, line: str) -> tuple[str, bool]:
    if reader.continuation.search(line):
        return reader.continuation.sub("", line), True
    return line, False
