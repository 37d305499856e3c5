"""``hoist image copy|export|import``: moving images between stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hoist.cli.common import get_client, parse_platform, platform_option

if TYPE_CHECKING:
    from hoist.copy import CopyOptions
    from hoist.model.platform import Platform

F = TypeVar("F", bound=Callable[..., Any])


def _platforms(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[Any, ...]:
    if not value:
        return ()
    return tuple(parse_platform(ctx, param, p.strip()) for p in value.split(",") if p.strip())


def copy_options(f: F) -> F:
    """The options shared by image copy and repo copy."""
    for option in reversed(
        [
            click.option(
                "--platforms",
                callback=_platforms,
                metavar="P1,P2,...",
                help="A new index with only these platforms (a new digest, printed).",
            ),
            click.option("--referrers", is_flag=True, help="Also copy referrers, recursively."),
            click.option("--digest-tags", is_flag=True, help="Also copy sha256-<hex>.* tags."),
            click.option(
                "--force", is_flag=True, help="Re-check every blob, even when DST has it."
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(1, 64),
                default=4,
                show_default=True,
                help="Blobs transferred at once.",
            ),
            click.option(
                "--include-nondistributable",
                is_flag=True,
                help="Also copy foreign / non-distributable layers.",
            ),
            click.option("-q", "--quiet", is_flag=True, help="No progress output."),
        ]
    ):
        f = option(f)
    return f


def make_options(
    platform: Platform | None,
    platforms: tuple[Platform, ...],
    referrers: bool,
    digest_tags: bool,
    force: bool,
    concurrency: int,
    include_nondistributable: bool,
) -> CopyOptions:
    from hoist.copy import CopyOptions

    if platform is not None and platforms:
        raise click.UsageError("--platform and --platforms are exclusive")
    return CopyOptions(
        platform=platform,
        platforms=platforms,
        referrers=referrers,
        digest_tags=digest_tags,
        force=force,
        concurrency=concurrency,
        include_nondistributable=include_nondistributable,
    )


@click.command("copy")
@click.argument("src")
@click.argument("dst")
@platform_option
@copy_options
@click.pass_context
def image_copy(
    ctx: click.Context,
    src: str,
    dst: str,
    platform: Platform | None,
    platforms: tuple[Platform, ...],
    referrers: bool,
    digest_tags: bool,
    force: bool,
    concurrency: int,
    include_nondistributable: bool,
    quiet: bool,
) -> None:
    """Copy SRC to DST (registries, ocidir://, oci-archive://, docker-archive://).

    By default the whole image, every platform, byte for byte: the digest stays the same.
    Prints the digest at DST on stdout; progress goes to stderr.
    """
    from hoist.cli.progress import make_progress
    from hoist.copy import image_copy as copy

    options = make_options(
        platform, platforms, referrers, digest_tags, force, concurrency, include_nondistributable
    )
    client = get_client(ctx)
    src_ref, dst_ref = client.ref(src), client.ref(dst)
    progress, running = make_progress(quiet)
    with running:
        result = copy(
            client.store(src_ref),
            src_ref,
            client.store(dst_ref),
            dst_ref,
            options,
            progress=progress,
        )
    if not quiet:
        if result.up_to_date:
            click.echo(f"{dst_ref} already holds {result.descriptor.digest}", err=True)
        else:
            click.echo(
                f"copied {len(result.copied)} blobs, skipped {len(result.skipped)}, "
                f"mounted {len(result.mounted)}; {len(result.manifests)} manifests",
                err=True,
            )
    click.echo(str(result.descriptor.digest))


COMMANDS = [image_copy]
