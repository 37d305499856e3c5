"""``hoist image flatten``: squash an image's layers, all of them or only those above a base."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from hoist.cli.common import (
    emit_json,
    format_option,
    get_client,
    human_size,
    platform_option_with,
)
from hoist.cli.image_insight import max_size_option

if TYPE_CHECKING:
    from hoist.authoring.flatten import FlattenedImage
    from hoist.model.platform import Platform

__all__ = ["image_flatten"]


def _describe(image: FlattenedImage) -> str:
    after = image.kept + (1 if image.layer is not None else image.squashed)
    if image.layer is None:
        return f"{image.platform}: {image.layers_before} layers, nothing to squash (unchanged)"
    kept = f"{image.kept} kept, " if image.kept else ""
    return (
        f"{image.platform}: {image.layers_before} layers -> {after} ({kept}{image.squashed} "
        f"squashed into {image.layer.digest.short} {human_size(image.layer.size)})"
    )


@click.command("flatten")
@click.argument("reference")
@click.option("--create", "create", metavar="NEWREF", required=True, help="Write the result here.")
@click.option(
    "--keep-base",
    metavar="BASE",
    help="Squash only the layers above BASE; its layers stay as they are (same digests).",
)
@click.option(
    "--last", type=click.IntRange(min=1), metavar="N", help="Squash only the top N layers."
)
@platform_option_with("Flatten only this platform of an index (default: every platform).")
@click.option(
    "--layer-compress",
    type=click.Choice(["gzip", "zstd", "none"]),
    default="gzip",
    show_default=True,
    help="Compression of the new layer.",
)
@max_size_option
@format_option("text", "json")
@click.pass_context
def image_flatten(
    ctx: click.Context,
    reference: str,
    create: str,
    keep_base: str | None,
    last: int | None,
    platform: Platform | None,
    layer_compress: str,
    max_size: int | None,
    fmt: str,
) -> None:
    """Squash the layers of REFERENCE into one and write the image to NEWREF; prints the
    digest.

    Without --keep-base or --last every layer is squashed: one layer holds the image's
    files, whiteouts applied. --keep-base BASE keeps BASE's layers (the image must be built
    on it) and squashes the rest; --last N squashes the top N. What the squashed layers
    delete below them stays deleted. The config keeps everything but the layers' diff_ids
    and history: the squashed steps become one, keeping the old steps in its comment.
    """
    from hoist.authoring.flatten import FlattenOptions, image_flatten

    if keep_base and last:
        raise click.UsageError("give --keep-base BASE or --last N, not both")
    client = get_client(ctx)
    src, dst = client.at(reference), client.at(create)
    options = FlattenOptions(
        keep_base=client.at(keep_base) if keep_base else None,
        last=last,
        platform=platform,
        compression=layer_compress,
        max_bytes=max_size,
    )
    result = image_flatten(src, dst, options)
    if fmt == "json":
        emit_json(result.to_dict())
        return
    for image in result.images:
        click.echo(_describe(image), err=True)
    click.echo(f"wrote {dst}", err=True)
    click.echo(str(result.descriptor.digest))
