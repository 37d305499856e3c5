"""``hoist layer``: one layer blob as a filesystem changeset."""

from __future__ import annotations

import click

from hoist.cli.common import format_option, get_location
from hoist.cli.image_insight import max_size_option, print_entries


@click.group("layer")
def layer() -> None:
    """List the files of a layer."""


@layer.command("ls")
@click.argument("reference")
@click.argument("digest")
@max_size_option
@format_option("text", "json")
@click.pass_context
def layer_ls(
    ctx: click.Context, reference: str, digest: str, max_size: int | None, fmt: str
) -> None:
    """List the entries of the layer DIGEST of REFERENCE, deletions (whiteouts) included.

    DIGEST may be a unique prefix of one of the image's layers (any platform). A blob that
    no manifest lists is read too, its compression recognised from its first bytes.
    """
    from hoist.errors import InvalidInput, NotFound
    from hoist.files import blob_listing, layer_descriptors, match_layer

    location = get_location(ctx, reference)
    layers = layer_descriptors(location)
    try:
        found, desc = match_layer(layers, digest)
    except (NotFound, InvalidInput) as exc:  # DIGEST names no single layer: a usage error
        raise click.BadParameter(str(exc)) from None
    listing = blob_listing(
        location,
        found,
        media_type=desc.media_type if desc else None,
        size=desc.size if desc else None,
        max_bytes=max_size,
    )
    print_entries(listing.entries, fmt)
