"""``hoist repo``: repositories of a registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from hoist.cli.common import emit_json, format_option, get_client, get_location
from hoist.cli.image_copy import copy_options

if TYPE_CHECKING:
    from hoist.copy import CopyOptions


@click.group("repo")
def repo() -> None:
    """List and copy repositories."""


@repo.command("ls")
@click.argument("registry")
@click.option("--limit", type=click.IntRange(min=1), help="At most N repositories.")
@click.option("--last", help="Only repositories after this one (pagination).")
@format_option("text", "json")
@click.pass_context
def repo_ls(
    ctx: click.Context, registry: str, limit: int | None, last: str | None, fmt: str
) -> None:
    """List the repositories of REGISTRY (the registry's catalog)."""
    from hoist.errors import Unsupported
    from hoist.model.reference import Reference
    from hoist.store.base import Cataloger

    where = get_client(ctx).at(Reference(registry.rstrip("/"), "catalog"))
    store = where.store
    if not isinstance(store, Cataloger):
        raise Unsupported(f"{registry} cannot list repositories")
    names = store.repo_list(where.ref, limit=limit, last=last)
    if fmt == "json":
        emit_json(names)
    else:
        for name in names:
            click.echo(name)


@repo.command("copy")
@click.argument("src")
@click.argument("dst")
@click.option("--include", multiple=True, help="Only tags matching this regex.")
@click.option("--exclude", multiple=True, help="Skip tags matching this regex.")
@copy_options
@click.pass_context
def repo_copy(
    ctx: click.Context,
    src: str,
    dst: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    options: CopyOptions,
    quiet: bool,
    fmt: str,
) -> None:
    """Mirror every tag of SRC's repository to DST's; prints each tag's digest (with
    --format json the tags and each blob copied, mounted or skipped).

    The tags are copied together: a manifest or blob they share is copied once."""
    from hoist.cli.progress import make_progress
    from hoist.copy import repo_copy
    from hoist.tags import tag_filter

    source, target = get_location(ctx, src), get_location(ctx, dst)
    tags = tag_filter(source.tag_list(), include, exclude)
    progress, running = make_progress(quiet)
    with running:
        result = repo_copy(source, target, tags, options, progress=progress)
    if fmt == "json":
        emit_json(
            {
                "source": str(source),
                "destination": str(target),
                "tags": {t: result.tags[t].to_dict() for t in tags},
                "up_to_date": result.up_to_date,
                "manifests": [str(d) for d in result.manifests],
                "blobs": {
                    "copied": [str(d) for d in result.copied],
                    "mounted": [str(d) for d in result.mounted],
                    "skipped": [str(d) for d in result.skipped],
                },
                "bytes_copied": result.bytes_copied,
            }
        )
        return
    for t in tags:
        click.echo(f"{t} {result.tags[t].digest}")
