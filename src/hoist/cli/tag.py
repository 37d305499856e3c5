"""``hoist tag``: list and delete tags."""

from __future__ import annotations

import click

from hoist.cli.common import emit_json, format_option, get_location


@click.group("tag")
def tag() -> None:
    """List, add and delete tags."""


@tag.command("ls")
@click.argument("reference")
@click.option("--limit", type=click.IntRange(min=1), help="At most N tags.")
@click.option("--last", help="Only tags after this one (pagination).")
@click.option("--include", "include", multiple=True, help="Only tags matching this regex.")
@click.option("--exclude", "exclude", multiple=True, help="Drop tags matching this regex.")
@format_option("text", "json")
@click.pass_context
def tag_ls(
    ctx: click.Context,
    reference: str,
    limit: int | None,
    last: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    fmt: str,
) -> None:
    """List the tags of REFERENCE's repository (or layout), sorted."""
    from hoist.tags import tag_filter

    where = get_location(ctx, reference)
    lister = getattr(where.store, "tag_list_page", None)
    if lister is not None and (limit or last):
        tags = lister(where.ref, limit=limit, last=last)
    else:
        tags = where.tag_list()
        if last:
            tags = [t for t in tags if t > last]
        if limit:
            tags = tags[:limit]
    tags = tag_filter(tags, include, exclude)
    if fmt == "json":
        emit_json(tags)
    else:
        for t in tags:
            click.echo(t)


@tag.command("add")
@click.argument("reference")
@click.argument("tags", nargs=-1, required=True)
@click.pass_context
def tag_add(ctx: click.Context, reference: str, tags: tuple[str, ...]) -> None:
    """Add TAGS to the image REFERENCE names: a manifest PUT each, no blob moves."""
    where = get_location(ctx, reference)
    manifest = where.manifest_get()
    targets = [where.with_tag(new) for new in tags]  # each tag is validated before any PUT
    for target in targets:
        target.manifest_put(manifest)
        click.echo(f"tagged {target}", err=True)
    click.echo(str(manifest.digest))


@tag.command("delete")
@click.argument("reference")
@click.pass_context
def tag_delete(ctx: click.Context, reference: str) -> None:
    """Delete only the tag REFERENCE; other tags on the same image survive."""
    where = get_location(ctx, reference)
    where.tag_delete()
    click.echo(f"deleted {where}", err=True)
