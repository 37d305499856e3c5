"""``hoist blob``: blobs by digest."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, BinaryIO

import click

from hoist.cli.common import emit_json, format_option, get_location, table

if TYPE_CHECKING:
    from hoist.model.digest import Digest


def _digest(value: str) -> Digest:
    from hoist.model.digest import Digest

    try:
        return Digest.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group("blob")
def blob() -> None:
    """Get, head, put, copy and delete blobs."""


@blob.command("get")
@click.argument("reference")
@click.argument("digest")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE (atomically).")
@click.pass_context
def blob_get(ctx: click.Context, reference: str, digest: str, output: str | None) -> None:
    """Stream blob DIGEST of REFERENCE's repository to stdout or FILE, verifying it."""
    from hoist.fsutil import atomic_file

    where = get_location(ctx, reference)
    with where.blob_get(_digest(digest)) as reader:
        if output is None:
            out = sys.stdout.buffer
            for chunk in reader:
                out.write(chunk)
            out.flush()
            return
        with atomic_file(output) as f:
            for chunk in reader:
                f.write(chunk)


@blob.command("head")
@click.argument("reference")
@click.argument("digest")
@format_option("text", "json")
@click.pass_context
def blob_head(ctx: click.Context, reference: str, digest: str, fmt: str) -> None:
    """Show whether blob DIGEST exists, and its size."""
    desc = get_location(ctx, reference).blob_head(_digest(digest))
    if fmt == "json":
        emit_json({"digest": str(desc.digest), "size": desc.size})
    else:
        click.echo(table([("Digest:", str(desc.digest)), ("Size:", desc.size)]))


@blob.command("put")
@click.argument("reference")
@click.argument("file", type=click.File("rb"), default="-")
@click.option("--digest", "expected", help="Expected digest; the upload is refused otherwise.")
@format_option("text", "json")
@click.pass_context
def blob_put(
    ctx: click.Context, reference: str, file: BinaryIO, expected: str | None, fmt: str
) -> None:
    """Upload FILE (or stdin) as a blob to REFERENCE's repository; prints its digest."""
    where = get_location(ctx, reference)
    d = _digest(expected) if expected else None
    desc = where.blob_put(file, digest=d)
    if fmt == "json":
        emit_json({"destination": str(where), "digest": str(desc.digest), "size": desc.size})
    else:
        click.echo(str(desc.digest))


@blob.command("copy")
@click.argument("src")
@click.argument("dst")
@click.argument("digest")
@click.option("--force", is_flag=True, help="Copy even when DST already has the blob.")
@format_option("text", "json")
@click.pass_context
def blob_copy(ctx: click.Context, src: str, dst: str, digest: str, force: bool, fmt: str) -> None:
    """Copy blob DIGEST from SRC's repository to DST's (mounted when on one registry)."""
    from hoist.copy import blob_copy as copy

    source, target = get_location(ctx, src), get_location(ctx, dst)
    d = _digest(digest)
    desc = source.blob_head(d)
    how = copy(source, target, desc, force=force)
    if fmt == "json":
        emit_json(
            {
                "source": str(source),
                "destination": str(target),
                "digest": str(d),
                "size": desc.size,
                "how": how,
            }
        )
        return
    click.echo(f"{how} {d}", err=True)
    click.echo(str(d))


@blob.command("delete")
@click.argument("reference")
@click.argument("digest")
@format_option("text", "json")
@click.pass_context
def blob_delete(ctx: click.Context, reference: str, digest: str, fmt: str) -> None:
    """Delete blob DIGEST from REFERENCE's repository."""
    where = get_location(ctx, reference)
    where.blob_delete(_digest(digest))
    if fmt == "json":
        emit_json({"deleted": str(where), "digest": digest})
    else:
        click.echo(f"deleted {digest}", err=True)
