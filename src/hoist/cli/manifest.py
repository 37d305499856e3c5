"""``hoist manifest``: manifests by tag or digest."""

from __future__ import annotations

from typing import BinaryIO

import click

from hoist.cli.common import (
    AliasGroup,
    emit_bytes,
    emit_json,
    format_option,
    get_client,
    get_location,
    human_size,
    platform_option_with,
    table,
)
from hoist.model.platform import Platform


@click.group("manifest", cls=AliasGroup, aliases={"rm": "delete"})
def manifest() -> None:
    """Get, head, put and delete manifests."""


@manifest.command("get")
@click.argument("reference")
@platform_option_with(
    "That platform's manifest in an index (default: the manifest REFERENCE names)."
)
@format_option("raw", "json", "text", default="json")
@click.pass_context
def manifest_get(ctx: click.Context, reference: str, platform: Platform | None, fmt: str) -> None:
    """Print the manifest REFERENCE names (with --platform, that platform's manifest).

    --format raw prints the exact bytes the digest is computed over.
    """
    from hoist.model.manifest import ImageManifest, Index, Manifest

    where = get_location(ctx, reference)
    m: Manifest
    if platform is not None:
        m = get_client(ctx).image(where, platform=platform).manifest
    else:
        m = where.manifest_get()
    if fmt == "raw":
        emit_bytes(m.raw)
    elif fmt == "json":
        emit_json(m.json())
    else:
        click.echo(
            table(
                [
                    ("Name:", str(where)),
                    ("MediaType:", m.media_type),
                    ("Digest:", str(m.digest)),
                    ("Size:", f"{m.size} ({human_size(m.size)})"),
                ]
            )
        )
        if isinstance(m, Index):
            click.echo("\nManifests:")
            rows = [
                (str(d.platform) if d.platform else "-", str(d.digest), d.media_type, d.size)
                for d in m.manifests
            ]
            click.echo(table(rows, ["PLATFORM", "DIGEST", "MEDIA TYPE", "SIZE"]))
        elif isinstance(m, ImageManifest):
            click.echo(f"\nConfig:\n  {m.config.digest}  {m.config.media_type}  {m.config.size}")
            click.echo("\nLayers:")
            layer_rows = [
                (i, str(d.digest), d.media_type, human_size(d.size)) for i, d in enumerate(m.layers)
            ]
            click.echo(table(layer_rows, ["#", "DIGEST", "MEDIA TYPE", "SIZE"]))


@manifest.command("head")
@click.argument("reference")
@format_option("text", "json")
@click.pass_context
def manifest_head(ctx: click.Context, reference: str, fmt: str) -> None:
    """Print the digest, media type and size of REFERENCE's manifest."""
    desc = get_location(ctx, reference).manifest_head()
    if fmt == "json":
        emit_json(desc.to_dict())
    else:
        click.echo(
            table(
                [
                    ("Digest:", str(desc.digest)),
                    ("MediaType:", desc.media_type),
                    ("Size:", desc.size),
                ]
            )
        )


@manifest.command("put")
@click.argument("reference")
@click.argument("file", type=click.File("rb"), default="-")
@click.option("-t", "--media-type", help="Media type (default: the body's mediaType).")
@format_option("text", "json")
@click.pass_context
def manifest_put(
    ctx: click.Context, reference: str, file: BinaryIO, media_type: str | None, fmt: str
) -> None:
    """Push the manifest in FILE (or stdin) to REFERENCE; prints its digest."""
    from hoist.model.manifest import parse_manifest

    where = get_location(ctx, reference)
    raw = file.read()
    m = parse_manifest(raw, media_type)
    desc = where.manifest_put(m)
    if fmt == "json":
        emit_json({"destination": str(where), **desc.to_dict()})
    else:
        click.echo(str(desc.digest))


@manifest.command("delete")
@click.argument("reference")
@format_option("text", "json")
@click.pass_context
def manifest_delete(ctx: click.Context, reference: str, fmt: str) -> None:
    """Delete the manifest REFERENCE names, and with it every tag on it (also: manifest rm).

    A tag is resolved to its digest first, and a warning says that every tag on that digest
    goes; to delete only a tag, use `hoist tag delete`.
    """
    where = get_location(ctx, reference)
    given = where
    if where.digest is None:
        where = where.by_digest(where.manifest_head().digest)
        click.echo(
            f"warning: deleting {where.digest} removes every tag on it, not only {given.tag}; "
            f"to delete only the tag: hoist tag delete {given}",
            err=True,
        )
    where.manifest_delete()
    if fmt == "json":
        emit_json({"deleted": str(where), "digest": str(where.digest)})
    else:
        click.echo(f"deleted {where}", err=True)
