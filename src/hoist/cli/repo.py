"""``hoist repo``: repositories of a registry."""

from __future__ import annotations

import click

from hoist.cli.common import emit_json, format_option, get_client


@click.group("repo")
def repo() -> None:
    """List repositories."""


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

    client = get_client(ctx)
    ref = Reference(registry.rstrip("/"), "catalog")
    store = client.store(ref)
    if not isinstance(store, Cataloger):
        raise Unsupported(f"{registry} cannot list repositories")
    names = store.repo_list(ref, limit=limit, last=last)
    if fmt == "json":
        emit_json(names)
    else:
        for name in names:
            click.echo(name)
