"""Shared pieces of the CLI: the client, options, and plain output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from hoist.client import Client
    from hoist.location import Location
    from hoist.model.platform import Platform

F = TypeVar("F", bound=Callable[..., Any])


def get_client(ctx: click.Context) -> Client:
    """The command's client: :func:`hoist.cli.main.main` closes it when the command succeeds
    and aborts it (dropping half-written archives) when it fails."""
    from hoist.client import Client

    root = ctx.find_root()
    state = root.ensure_object(dict)
    client: Client | None = state.get("client")
    if client is None:
        client = Client()
        state["client"] = client
    return client


def get_location(ctx: click.Context, text: str) -> Location:
    """The location ``text`` names, from the command's client."""
    return get_client(ctx).at(text)


def parse_platform(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> Platform | None:
    """Click callback: a Platform from ``os/arch[/variant]`` or ``local``."""
    if value is None:
        return None
    from hoist.model.platform import Platform

    try:
        return Platform.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def platform_option(f: F) -> F:
    return click.option(
        "-p",
        "--platform",
        callback=parse_platform,
        metavar="OS/ARCH[/VARIANT]",
        help="Platform to pick from an index (default: the local one); 'local' works too.",
    )(f)


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    def deco(f: F) -> F:
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(list(choices)),
            default=default,
            show_default=True,
            help="Output format.",
        )(f)

    return deco


def emit_json(obj: Any) -> None:
    """Pretty JSON on stdout."""
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def emit_bytes(data: bytes) -> None:
    """Exact bytes on stdout."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def table(rows: Sequence[Sequence[object]], headers: Sequence[str] | None = None) -> str:
    """Left-aligned columns separated by two spaces."""
    all_rows = [list(map(str, headers))] if headers else []
    all_rows += [[("" if c is None else str(c)) for c in r] for r in rows]
    if not all_rows:
        return ""
    widths = [max(len(r[i]) for r in all_rows if i < len(r)) for i in range(len(all_rows[0]))]
    lines = []
    for r in all_rows:
        cells = [c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def human_size(n: int) -> str:
    """Bytes for people: 1.5 MB (powers of 1000, like registries show)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
