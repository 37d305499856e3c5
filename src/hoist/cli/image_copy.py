"""``hoist image copy|export|import``: moving images between stores."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from hoist.cli.common import get_location, parse_platform, platform_option

if TYPE_CHECKING:
    from hoist.copy import CopyOptions
    from hoist.model.platform import Platform

F = TypeVar("F", bound=Callable[..., Any])


def _platforms(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[Any, ...]:
    if not value:
        return ()
    return tuple(parse_platform(ctx, param, p.strip()) for p in value.split(",") if p.strip())


_COPY_KEYS = (
    "platform",
    "platforms",
    "referrers",
    "digest_tags",
    "force",
    "concurrency",
    "include_nondistributable",
)


def copy_options(f: F) -> F:
    """The options shared by image copy and repo copy, handed to ``f`` as one
    ``options: CopyOptions`` keyword (``quiet`` stays a keyword of its own)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["options"] = _make_options(**{k: kwargs.pop(k) for k in _COPY_KEYS})
        return f(*args, **kwargs)

    command: Any = wrapper
    for option in reversed(
        [
            platform_option,
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
        command = option(command)
    return cast(F, command)


def _make_options(
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
@copy_options
@click.pass_context
def image_copy(ctx: click.Context, src: str, dst: str, options: CopyOptions, quiet: bool) -> None:
    """Copy SRC to DST (registries, ocidir://, oci-archive://, docker-archive://).

    By default the whole image, every platform, byte for byte: the digest stays the same.
    Prints the digest at DST on stdout; progress goes to stderr.
    """
    from hoist.cli.progress import make_progress
    from hoist.copy import image_copy as copy

    source, target = get_location(ctx, src), get_location(ctx, dst)
    progress, running = make_progress(quiet)
    with running:
        result = copy(source, target, options, progress=progress)
    if not quiet:
        if result.up_to_date:
            click.echo(f"{target} already holds {result.descriptor.digest}", err=True)
        else:
            click.echo(
                f"copied {len(result.copied)} blobs, skipped {len(result.skipped)}, "
                f"mounted {len(result.mounted)}; {len(result.manifests)} manifests",
                err=True,
            )
    click.echo(str(result.descriptor.digest))


@click.command("export")
@click.argument("reference")
@click.argument("file")
@platform_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["docker", "oci"]),
    default="docker",
    show_default=True,
    help="docker: the `docker save` layout (docker load, skopeo docker-archive:); "
    "oci: an OCI layout in a tar (oci-archive:).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.pass_context
def image_export(
    ctx: click.Context,
    reference: str,
    file: str,
    platform: Platform | None,
    fmt: str,
    quiet: bool,
) -> None:
    """Write REFERENCE to FILE (or - for stdout) as a tar archive; prints the digest.

    A docker archive holds one platform (default: the local one); an OCI archive keeps an
    index whole unless --platform is given.
    """
    from hoist.cli.progress import make_progress
    from hoist.export import image_export as export

    src = get_location(ctx, reference)
    progress, running = make_progress(quiet)
    with running:
        result = export(
            src,
            file,
            fmt=fmt,
            platform=platform,
            progress=progress,
            output=sys.stdout.buffer if file == "-" else None,
        )
    click.echo(str(result.descriptor.digest), err=file == "-")


@click.command("import")
@click.argument("reference")
@click.argument("file")
@click.option("--name", help="The image to take from an archive holding several (name:tag).")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.pass_context
def image_import(
    ctx: click.Context, reference: str, file: str, name: str | None, quiet: bool
) -> None:
    """Copy the image in archive FILE (docker or OCI; - for stdin) to REFERENCE."""
    import shutil
    import tempfile

    from hoist.cli.progress import make_progress
    from hoist.copy import image_copy as copy
    from hoist.location import Location
    from hoist.store.archive import open_archive

    dst = get_location(ctx, reference)
    with tempfile.TemporaryDirectory(prefix="hoist-import-") as tmp:
        path = file
        if file == "-":
            path = f"{tmp}/stdin.tar"
            with open(path, "wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        store, src_ref = open_archive(path, name)
        try:
            progress, running = make_progress(quiet)
            with running:
                result = copy(Location(store, src_ref), dst, progress=progress)
        finally:
            store.close()
    click.echo(str(result.descriptor.digest))


COMMANDS = [image_copy, image_export, image_import]
