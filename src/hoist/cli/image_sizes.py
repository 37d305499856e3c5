"""``hoist image inspect --all-platforms [--unpacked]``: every platform's sizes, and totals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from hoist.cli.common import emit_json, get_location, human_size, table

if TYPE_CHECKING:
    from hoist.insight.sizes import ImageSizes
    from hoist.model.platform import Platform

__all__ = ["inspect_sizes", "render_sizes"]


def render_sizes(sizes: ImageSizes) -> str:
    """The sizes as a table: one row per platform, then the totals."""
    unpacked = sizes.unpacked is not None
    headers = ["PLATFORM", "DIGEST", "LAYERS", "COMPRESSED"] + (["UNPACKED"] if unpacked else [])
    rows: list[list[object]] = []
    for p in sizes.platforms:
        name = p.platform if p.kind == "image" else f"{p.platform} ({p.kind})"
        row: list[object] = [name, p.digest.short, p.layers, human_size(p.compressed)]
        if unpacked:
            row.append(human_size(p.unpacked or 0))
        rows.append(row)
    total: list[object] = ["total", "", sizes.layers, human_size(sizes.compressed)]
    if unpacked:
        total.append(human_size(sizes.unpacked or 0))
    rows.append(total)
    lines = [
        table(
            [
                ("Name:", sizes.reference),
                ("Digest:", str(sizes.digest)),
                ("MediaType:", sizes.media_type),
            ]
        ),
        table(rows, headers),
    ]
    if sizes.shared:
        lines.append(
            f"(layers shared between platforms, {human_size(sizes.shared)}, count once in "
            "the total)"
        )
    return "\n".join(lines)


def inspect_sizes(
    ctx: click.Context,
    reference: str,
    platform: Platform | None,
    all_platforms: bool,
    unpacked: bool,
    fmt: str,
) -> None:
    """The ``--all-platforms`` view of ``image inspect``."""
    from hoist.insight.sizes import image_sizes

    if not all_platforms:
        raise click.UsageError("--unpacked goes with --all-platforms")
    if platform is not None:
        raise click.UsageError("--all-platforms shows every platform: leave out --platform")
    sizes = image_sizes(get_location(ctx, reference), unpacked=unpacked)
    if fmt == "json":
        emit_json(sizes.to_dict())
    else:
        click.echo(render_sizes(sizes))
