"""``hoist tag``: list and delete tags."""

from __future__ import annotations

import click

from hoist.cli.common import AliasGroup, emit_json, format_option, get_location


@click.group("tag", cls=AliasGroup, aliases={"rm": "delete"})
def tag() -> None:
    """List, add and delete tags."""


@tag.command("ls")
@click.argument("reference")
@click.option("--limit", type=click.IntRange(min=1), help="At most N tags.")
@click.option("--last", help="Only tags after this one (pagination).")
@click.option("--include", "include", multiple=True, help="Only tags matching this regex.")
@click.option("--exclude", "exclude", multiple=True, help="Drop tags matching this regex.")
@click.option(
    "--sort",
    type=click.Choice(["name", "semver", "created"]),
    default="name",
    show_default=True,
    help="Order: by name, by version (tags that are none last), by the images' created time.",
)
@click.option("--reverse", is_flag=True, help="Newest (or last) first.")
@click.option("--digest", metavar="DIGEST", help="Only the tags that point at DIGEST.")
@format_option("text", "json")
@click.pass_context
def tag_ls(
    ctx: click.Context,
    reference: str,
    limit: int | None,
    last: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    sort: str,
    reverse: bool,
    digest: str | None,
    fmt: str,
) -> None:
    """List the tags of REFERENCE's repository (or layout), sorted.

    --last and --limit page the sorted list, whatever order the registry keeps: the tags after
    LAST that --include and --exclude let through, at most N of them.
    """
    from hoist.tags import tag_filter, tag_page

    where = get_location(ctx, reference)
    if sort != "name" or reverse or digest:
        from hoist.cli.tag_query import query_tags

        tags = query_tags(where, include, exclude, sort, reverse=reverse, digest=digest, last=last)
    else:
        tags = tag_filter(tag_page(where, last=last), include, exclude)
    if limit:
        tags = tags[:limit]
    if fmt == "json":
        emit_json(tags)
    else:
        for t in tags:
            click.echo(t)


@tag.command("add")
@click.argument("reference")
@click.argument("tags", nargs=-1, required=True)
@format_option("text", "json")
@click.pass_context
def tag_add(ctx: click.Context, reference: str, tags: tuple[str, ...], fmt: str) -> None:
    """Add TAGS to the image REFERENCE names: a manifest PUT each, no blob moves."""
    where = get_location(ctx, reference)
    manifest = where.manifest_get()
    targets = [where.with_tag(new) for new in tags]  # each tag is validated before any PUT
    for target in targets:
        target.manifest_put(manifest)
        if fmt != "json":
            click.echo(f"tagged {target}", err=True)
    if fmt == "json":
        emit_json(
            {
                "source": str(where),
                **manifest.descriptor().to_dict(),
                "tagged": [str(t) for t in targets],
            }
        )
        return
    click.echo(str(manifest.digest))


@tag.command("delete")
@click.argument("reference")
@format_option("text", "json")
@click.pass_context
def tag_delete(ctx: click.Context, reference: str, fmt: str) -> None:
    """Delete only the tag REFERENCE; other tags on the same image survive (also: tag rm)."""
    where = get_location(ctx, reference)
    where.tag_delete()
    if fmt == "json":
        emit_json({"deleted": str(where), "tag": where.tag})
    else:
        click.echo(f"deleted {where}", err=True)
