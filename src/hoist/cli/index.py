"""``hoist index``: create image indexes (or Docker manifest lists) and edit them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hoist.cli.common import emit_json, format_option, get_location, parse_platform
from hoist.model import mediatype as mt

if TYPE_CHECKING:
    from hoist.model.manifest import Index
    from hoist.model.platform import Platform

F = TypeVar("F", bound=Callable[..., Any])


def parse_annotations(
    ctx: click.Context | None, param: click.Parameter | None, values: tuple[str, ...]
) -> dict[str, str]:
    """Click callback: ``K=V`` pairs as a dict (later keys win)."""
    out: dict[str, str] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise click.BadParameter(f"{item!r}: want KEY=VALUE")
        out[key] = value
    return out


def annotation_option(help_text: str) -> Callable[[F], F]:
    """``--annotation K=V``, repeatable, as a dict in ``annotations``."""
    return click.option(
        "--annotation",
        "annotations",
        multiple=True,
        metavar="KEY=VALUE",
        callback=parse_annotations,
        help=help_text,
    )


def _report(
    reference: str, index: Index, fmt: str, replaced: list[tuple[str, str, str]] | None = None
) -> None:
    """The new digest on stdout (or the index, as JSON); what it now holds on stderr, and
    which platform's manifest was replaced (``replaced``: platform, old and new digest)."""
    if fmt == "json":
        data = {"destination": reference, **index.descriptor().to_dict()}
        data["manifests"] = [d.to_dict() for d in index.manifests]
        if replaced is not None:
            data["replaced"] = [{"platform": p, "old": old, "new": new} for p, old, new in replaced]
        emit_json(data)
        return
    for platform, old, new in replaced or []:
        click.echo(f"replaced {platform}: {old} -> {new}", err=True)
    kind = "manifest list" if index.media_type == mt.DOCKER_MANIFEST_LIST else "index"
    held = ", ".join(str(d.platform or d.digest.short) for d in index.manifests) or "empty"
    n = len(index.manifests)
    click.echo(f"{kind} {reference} holds {n} manifest{'' if n == 1 else 's'}: {held}", err=True)
    click.echo(str(index.digest))


@click.group("index")
def index() -> None:
    """Create image indexes (multi-platform images) and add or remove their manifests."""


@index.command("create")
@click.argument("reference")
@click.option(
    "--ref",
    "refs",
    multiple=True,
    required=True,
    metavar="REF",
    help="An image to include (repeatable); an index contributes all its manifests.",
)
@click.option(
    "--platform-from-config",
    is_flag=True,
    help="Read every platform from the image configs, not from the source index.",
)
@click.option("--docker", is_flag=True, help="A Docker manifest list instead of an OCI index.")
@annotation_option("Annotation on the index (repeatable).")
@format_option("text", "json")
@click.pass_context
def index_create(
    ctx: click.Context,
    reference: str,
    refs: tuple[str, ...],
    platform_from_config: bool,
    docker: bool,
    annotations: dict[str, str],
    fmt: str,
) -> None:
    """Create an index of the --ref images; prints its digest (--format json: the index).

    Images elsewhere (another repository, registry or layout) are copied to REFERENCE's
    repository first.
    """
    from hoist.index import index_create as create

    dst = get_location(ctx, reference)
    _report(
        reference,
        create(
            dst,
            [get_location(ctx, r) for r in refs],
            platform_from_config=platform_from_config,
            docker=docker,
            annotations=annotations,
        ),
        fmt,
    )


@index.command("add")
@click.argument("reference")
@click.option("--ref", "refs", multiple=True, required=True, metavar="REF", help="Image to add.")
@click.option("--platform-from-config", is_flag=True, help="Read platforms from the image configs.")
@annotation_option("Annotation to set on the index (repeatable).")
@format_option("text", "json")
@click.pass_context
def index_add(
    ctx: click.Context,
    reference: str,
    refs: tuple[str, ...],
    platform_from_config: bool,
    annotations: dict[str, str],
    fmt: str,
) -> None:
    """Add images to an index; prints the new digest.

    An image for a platform the index has replaces the one there, and says so.
    """
    from hoist.errors import NotFound
    from hoist.index import index_add as add
    from hoist.model.manifest import Index

    dst = get_location(ctx, reference)
    try:
        found = dst.manifest_get()
    except NotFound:
        found = None
    before = _platforms_of(found if isinstance(found, Index) else None)
    index = add(
        dst,
        [get_location(ctx, r) for r in refs],
        platform_from_config=platform_from_config,
        annotations=annotations,
    )
    after = _platforms_of(index)
    replaced = [(p, before[p], d) for p, d in after.items() if p in before and before[p] != d]
    _report(reference, index, fmt, replaced)


def _platforms_of(index: Index | None) -> dict[str, str]:
    """Platform -> digest of what ``index`` holds (None: nothing yet)."""
    if index is None:
        return {}
    return {str(d.platform): str(d.digest) for d in index.manifests if d.platform is not None}


@index.command("remove")
@click.argument("reference")
@click.option(
    "-p",
    "--platform",
    callback=parse_platform,
    metavar="OS/ARCH[/VARIANT]",
    help="Remove the manifests for this platform.",
)
@click.option("--digest", metavar="DIGEST", help="Remove the manifest with this digest.")
@format_option("text", "json")
@click.pass_context
def index_remove(
    ctx: click.Context, reference: str, platform: Platform | None, digest: str | None, fmt: str
) -> None:
    """Remove an image from an index; prints the new digest.

    The image is given by --platform (every matching manifest goes) or by --digest.
    """
    from hoist.index import index_remove as remove
    from hoist.model.digest import Digest

    if (platform is None) == (digest is None):
        raise click.UsageError("give exactly one of --platform or --digest")
    parsed = None
    if digest is not None:
        try:
            parsed = Digest.parse(digest)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--digest") from None
    _report(reference, remove(get_location(ctx, reference), platform=platform, digest=parsed), fmt)
