"""``hoist repo``: repositories of a registry."""

from __future__ import annotations

from collections.abc import Iterable
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
@click.option("--new-tags", is_flag=True, help="Only tags DST lacks (a tag DST has is kept).")
@click.option(
    "--jobs", type=click.IntRange(1, 256), default=4, show_default=True, help="Images at once."
)
@copy_options
@click.pass_context
def repo_copy(
    ctx: click.Context,
    src: str,
    dst: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    new_tags: bool,
    jobs: int,
    options: CopyOptions,
    quiet: bool,
    fmt: str,
) -> None:
    """Mirror every tag of SRC's repository to DST's; prints each tag's digest (with
    --format json the tags and each blob copied, mounted or skipped).

    The engine of `hoist sync` with one rule: tags decided with SRC's and DST's tag lists and
    HEADs, each digest copied once however many tags name it (the others get a manifest PUT),
    --jobs images at once. --platform, --force and --include-nondistributable copy the tags with
    image copy's engine instead, all together (a blob they share still crosses once)."""
    if options.platform is not None or options.force or options.include_nondistributable:
        _repo_copy_together(ctx, src, dst, include, exclude, new_tags, options, quiet, fmt)
        return
    import dataclasses

    from hoist.cli.progress import make_progress
    from hoist.sync.apply import sync_apply
    from hoist.sync.config import single_rule, tag_rules
    from hoist.sync.memory import RunMemory, repository_key
    from hoist.sync.plan import sync_plan

    source, target = get_location(ctx, src), get_location(ctx, dst)
    config = single_rule(
        repository_key(source.ref),
        repository_key(target.ref),
        tags=tag_rules(include, exclude),
        platforms=options.platforms or None,
        referrers=options.referrers,
        digest_tags=options.digest_tags,
        jobs=jobs,
        concurrency=options.concurrency,
    )
    client, memory = get_client(ctx), RunMemory()
    plan = sync_plan(client, config, memory=memory)
    if new_tags:
        plan = dataclasses.replace(
            plan, images=tuple(i for i in plan.images if i.status != "changed")
        )
    progress, running = make_progress(quiet)
    with running:
        result = sync_apply(client, config, plan, journal=False, memory=memory, progress=progress)
    if not result.ok:
        for failure in result.failed:
            click.echo(f"failed: {failure.source}: {failure.error}", err=True)
        raise click.exceptions.Exit(1)
    images = [i for i in plan.images if i.kind == "tag"]
    if fmt == "json":
        copies = result.copies
        emit_json(
            {
                "source": str(source),
                "destination": str(target),
                "tags": {
                    i.target_ref.tag: {
                        "mediaType": i.media_type,
                        "digest": str(i.result),
                        "size": i.size,
                    }
                    for i in images
                },
                "up_to_date": [i.target_ref.tag for i in images if not i.pending],
                "manifests": _once(d for c in copies for d in c.manifests),
                "blobs": {
                    "copied": _once(d for c in copies for d in c.copied),
                    "mounted": _once(d for c in copies for d in c.mounted),
                    "skipped": _once(d for c in copies for d in c.skipped),
                },
                "bytes_copied": result.bytes,
            }
        )
        return
    for image in images:
        click.echo(f"{image.target_ref.tag} {image.result}")


def _once(digests: Iterable[object]) -> list[str]:
    return list(dict.fromkeys(str(d) for d in digests))


def _repo_copy_together(
    ctx: click.Context,
    src: str,
    dst: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    new_tags: bool,
    options: CopyOptions,
    quiet: bool,
    fmt: str,
) -> None:
    from hoist.cli.progress import make_progress
    from hoist.copy import repo_copy
    from hoist.errors import NotFound
    from hoist.tags import tag_filter

    source, target = get_location(ctx, src), get_location(ctx, dst)
    tags = tag_filter(source.tag_list(), include, exclude)
    if new_tags:
        try:
            present = set(target.tag_list())
        except NotFound:
            present = set()
        tags = [t for t in tags if t not in present]
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
