"""The page ``hoist --help`` prints, made without click.

``hoist --help`` is the command people run first and most often; loading click and typing
for it took more than half its time. :func:`hoist.cli.main.main` prints :func:`root_help`
itself for ``hoist --help`` and ``hoist -h``, and the click group shows the same page for
every other way of asking (``hoist --debug --help``, a usage error). The layout follows
click's own help formatter (``tests/cli/test_help_page.py`` renders the group both ways at
several widths and compares them), and it imports nothing but :mod:`os` and
:mod:`textwrap`.
"""

from __future__ import annotations

import os
import sys
import textwrap

TYPE_CHECKING = False  # not typing's: importing typing would cost the time saved here
if TYPE_CHECKING:
    from collections.abc import Iterable

USAGE = "Usage: hoist [OPTIONS] COMMAND [ARGS]..."

ABOUT = """hoist: container images where they live, on registries and OCI layouts.

Registry commands take --creds, --tls, --proxy, --retries, --timeout and more, before or
after the command's name (see each command's --help); so do -v and --debug. Commands
that print or change things take --format json."""

EXIT_CODES = """Exit status: 0 done; 1 error; 2 usage error (a bad option, argument or reference);
3 checked, and the answer is no (image check-base: a rebuild is needed; image verify:
a mismatch; image diff --exit-code: the images differ)."""

OPTIONS: tuple[tuple[str, str], ...] = (
    ("--version", "Show the version and exit."),
    ("-v, --verbose", "Log more (-vv for HTTP detail)."),
    ("--debug", "Log everything; a traceback with an error."),
    ("-h, --help", "Show this message and exit."),
)
"""The root command's visible options and their help (the group declares them from this)."""

INDENT = 2


def terminal_width() -> int:
    """The width click would wrap to: the terminal's columns (``COLUMNS`` first), at most 80,
    less 2, at least 50."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))  # as shutil.get_terminal_size reads it
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns or 80, 80) - 2, 50)


def root_help(
    commands: Iterable[tuple[str, str]], aliases: Iterable[tuple[str, str]], width: int
) -> str:
    """The whole page: usage, about, options, the commands and aliases, the exit codes."""
    out = [USAGE, "", _paragraphs(ABOUT, width, INDENT), "", "Options:"]
    out += _definitions(OPTIONS, width, INDENT)
    out += ["", "Commands:", *_definitions(commands, width, INDENT)]
    out += ["", "Aliases:", *_definitions(aliases, width, INDENT)]
    out += ["", _paragraphs(EXIT_CODES, width, INDENT)]
    return "\n".join(out) + "\n"


def _paragraphs(text: str, width: int, indent: int) -> str:
    """Each paragraph (blank-line separated) re-flowed to ``width``, indented."""
    pad = " " * indent
    return "\n\n".join(
        _wrap(" ".join(part.split("\n")), width, pad, pad) for part in text.split("\n\n")
    )


def _definitions(rows: Iterable[tuple[str, str]], width: int, indent: int) -> list[str]:
    """Two columns as click lays them out: terms padded to the longest (at most 30) plus 2,
    each description wrapped beside its term."""
    rows = list(rows)
    first = min(max(len(term) for term, _ in rows), 30) + 2
    text_width = max(width - first - 2, 10)
    lines: list[str] = []
    for term, text in rows:
        wrapped = _wrap(text, text_width, "", "").split("\n")
        head = " " * indent + term
        if len(term) <= first - 2:
            lines.append(head + " " * (first - len(term)) + wrapped[0])
        else:
            lines += [head, " " * (first + indent) + wrapped[0]]
        lines += [" " * (first + indent) + line for line in wrapped[1:]]
    return lines


def _wrap(text: str, width: int, first: str, rest: str) -> str:
    wrapper = textwrap.TextWrapper(
        width, initial_indent=first, subsequent_indent=rest, replace_whitespace=False
    )
    return wrapper.fill(text)
