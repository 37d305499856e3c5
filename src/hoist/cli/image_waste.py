"""``hoist image waste``: why an image is big, layer by layer, straight from where it lives."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from hoist.cli.common import (
    emit_json,
    format_option,
    get_client,
    get_location,
    human_size,
    platform_option,
    table,
)
from hoist.cli.image_insight import max_size_option

if TYPE_CHECKING:
    from hoist.insight.waste import WasteReport
    from hoist.model.platform import Platform

__all__ = ["image_waste", "render_waste"]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def render_waste(report: WasteReport, *, full: bool = False) -> str:
    """The report as text: the layers with their steps and largest files, the efficiency,
    the paths wasting the most."""
    lines = [f"{report.image} ({report.platform})"]
    rows: list[tuple[object, ...]] = []
    for layer in report.layers:
        created_by = layer.created_by or ""
        rows.append(
            (
                layer.index,
                human_size(layer.size),
                human_size(layer.file_bytes),
                human_size(layer.wasted),
                created_by if full else _cut(created_by, 60),
            )
        )
        for f in layer.largest:
            mark = "  (wasted)" if f.wasted else ""
            rows.append(("", "", human_size(f.size), "", f"  {f.to_dict()['path']}{mark}"))
    lines.append(table(rows, ["#", "SIZE", "UNPACKED", "WASTED", "CREATED BY / LARGEST FILES"]))
    lines.append(
        f"efficiency: {report.efficiency:.1%}  (wasted {human_size(report.wasted)} of "
        f"{human_size(report.total)} unpacked; {human_size(report.final)} in the final "
        "filesystem)"
    )
    if report.paths:
        more = report.wasted_paths - len(report.paths)
        lines.append(
            "wasted by path"
            + (f" (the {len(report.paths)} largest of {report.wasted_paths})" if more > 0 else "")
            + ":"
        )
        path_rows = []
        for p in report.paths:
            fate = f"{p.how} by layer {p.by}" if p.by is not None else p.how
            layers = ",".join(str(i) for i in p.layers)
            path_rows.append((p.versions, human_size(p.wasted), layers, p.to_dict()["path"], fate))
        lines.append(table(path_rows, ["VERSIONS", "WASTED", "IN LAYERS", "PATH", ""]))
    return "\n".join(lines)


@click.command("waste")
@click.argument("reference")
@platform_option
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    metavar="N",
    help="The N largest files of each layer.",
)
@click.option(
    "--paths",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    metavar="N",
    help="The N paths wasting the most.",
)
@click.option("--no-trunc", is_flag=True, help="Show whole history steps.")
@max_size_option
@format_option("text", "json")
@click.pass_context
def image_waste(
    ctx: click.Context,
    reference: str,
    platform: Platform | None,
    top: int,
    paths: int,
    no_trunc: bool,
    max_size: int | None,
    fmt: str,
) -> None:
    """Why is REFERENCE big? Each layer's size and unpacked size next to its history step, its
    largest files, and the bytes wasted by files that later layers overwrite or delete.

    Every layer is read once (headers only; its digest verified), nothing is unpacked. The
    efficiency is 1 - wasted / unpacked: the share of the shipped file bytes that reach the
    final filesystem (dive's view, without an engine).
    """
    from hoist.insight.waste import image_waste as waste

    image = get_client(ctx).image(get_location(ctx, reference), platform=platform)
    report = waste(image, largest=top, paths=paths, max_bytes=max_size)
    if fmt == "json":
        emit_json(report.to_dict())
    else:
        click.echo(render_waste(report, full=no_trunc))
