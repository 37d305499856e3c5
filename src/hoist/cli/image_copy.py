"""``hoist image copy|export|import``: moving images between stores."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from hoist.cli.common import (
    emit_json,
    format_option,
    get_location,
    parse_platform,
    platform_option_with,
)

if TYPE_CHECKING:
    from hoist.copy import CopyOptions, CopyResult
    from hoist.location import Location
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
            platform_option_with(
                "Copy only this platform's manifest, tagged at DST (default: every platform, "
                "the index as it is); 'local' works too."
            ),
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
            format_option("text", "json"),
        ]
    ):
        command = option(command)
    return cast(F, command)


def plural(n: int, word: str) -> str:
    """``1 manifest``, ``2 manifests``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def copy_summary(result: CopyResult) -> str:
    """The stderr line after a copy."""
    return (
        f"copied {plural(len(result.copied), 'blob')} ({result.bytes_copied} bytes), "
        f"skipped {len(result.skipped)}, mounted {len(result.mounted)}; "
        f"{plural(len(result.manifests), 'manifest')}"
    )


def copy_json(source: Location | str, target: Location | str, result: CopyResult) -> dict[str, Any]:
    """A copy's outcome for --format json: what was written where, and how each blob got
    there (OCI's spelling for the descriptor: mediaType, digest, size)."""
    return {
        "source": str(source),
        "destination": str(target),
        **result.descriptor.to_dict(),
        "up_to_date": result.up_to_date,
        "manifests": [str(d) for d in result.manifests],
        "blobs": {
            "copied": [str(d) for d in result.copied],
            "mounted": [str(d) for d in result.mounted],
            "skipped": [str(d) for d in result.skipped],
        },
        "bytes_copied": result.bytes_copied,
    }


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
def image_copy(
    ctx: click.Context, src: str, dst: str, options: CopyOptions, quiet: bool, fmt: str
) -> None:
    """Copy SRC to DST (registries, ocidir://, oci-archive://, docker-archive://).

    By default the whole image, every platform, byte for byte: the digest stays the same.
    A docker-archive holds one platform: an index's only one, else the local one (said on
    stderr), else --platform's. Prints the digest at DST on stdout (with --format json what
    was written, and each blob copied, mounted or skipped); progress goes to stderr.
    """
    import dataclasses

    from hoist.cli.progress import make_progress
    from hoist.copy import image_copy as copy

    source, target = get_location(ctx, src), get_location(ctx, dst)
    if target.ref.kind == "docker-archive":
        options = dataclasses.replace(options, platform=_archive_platform(source, options))
        _name_archive(source, target)
    if target.ref.kind in ("docker-archive", "oci-archive"):
        _create_archive(target)
    progress, running = make_progress(quiet)
    with running:
        result = copy(source, target, options, progress=progress)
    _finish_archive(target)  # an archive is complete (or refused) before its digest is printed
    if fmt == "json":
        emit_json(copy_json(source, target, result))
        return
    if not quiet:
        if result.up_to_date:
            click.echo(f"{target} already holds {result.descriptor.digest}", err=True)
        else:
            click.echo(copy_summary(result), err=True)
    click.echo(str(result.descriptor.digest))


def _archive_platform(source: Location, options: CopyOptions) -> Platform | None:
    """The one platform of ``source`` a docker-archive gets, said on stderr when picked."""
    from hoist.export import archive_platform

    if options.platforms:
        raise click.UsageError(
            "a docker-archive holds one platform: give --platform, not --platforms"
        )
    chosen = archive_platform(source, options.platform)
    if chosen.others:
        others = ", ".join(str(p) for p in chosen.others)
        click.echo(
            f"a docker-archive holds one platform: {chosen.platform} (the local one; "
            f"also in the index: {others}; --platform picks another)",
            err=True,
        )
    return chosen.platform


def _create_archive(target: Location) -> None:
    """A new archive at ``target`` (a file there is replaced once the copy is complete)."""
    from hoist.store.archive import ArchiveStore

    if isinstance(target.store, ArchiveStore):
        target.store.create(target.ref)


def _name_archive(source: Location, target: Location) -> None:
    """Name the image in a docker-archive as ``image export`` does (``RepoTags``)."""
    from hoist.export import archive_name
    from hoist.store.archive import ArchiveStore

    name = archive_name(source)
    if name is not None and isinstance(target.store, ArchiveStore):
        target.store.name_images(target.ref, name)


def _finish_archive(target: Location) -> None:
    if target.ref.kind not in ("docker-archive", "oci-archive"):
        return  # not an archive: the archive store need not even be imported
    from hoist.store.archive import ArchiveStore

    if isinstance(target.store, ArchiveStore):
        target.store.close()


@click.command("export")
@click.argument("reference")
@click.argument("file", required=False)
@platform_option_with(
    "The platform to export (docker: default an index's only one, else the local one; "
    "oci: default every platform)."
)
@click.option(
    "--type",
    "kind",
    type=click.Choice(["docker", "oci"]),
    default="docker",
    show_default=True,
    help="docker: the `docker save` layout (docker load, skopeo docker-archive:); "
    "oci: an OCI layout in a tar (oci-archive:).",
)
@click.option("--rootfs", is_flag=True, help="The image's files as one tar (see below).")
@click.option("-o", "--output", metavar="FILE", help="Where to write (instead of FILE; - stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@format_option("text", "json")
@click.pass_context
def image_export(
    ctx: click.Context,
    reference: str,
    file: str | None,
    platform: Platform | None,
    kind: str,
    rootfs: bool,
    output: str | None,
    quiet: bool,
    fmt: str,
) -> None:
    """Write REFERENCE to FILE (or - for stdout) as a tar archive; prints the digest.

    --type docker (the default) holds one platform: an index's only one, else the local one
    (said on stderr), else --platform's; --type oci keeps an index whole unless --platform is
    given. With FILE - the archive goes to stdout and the digest (or JSON) to stderr.

    --rootfs writes the image's filesystem instead, as one tar (crane export): every layer
    applied, whiteouts too, for `| tar -x`; streamed, each layer downloaded once.
    """
    if file and output:
        raise click.UsageError("give FILE or -o FILE, not both")
    file = file or output
    if not file:
        raise click.UsageError("where to? give FILE or -o FILE (- for stdout)")
    if rootfs:
        from hoist.cli.image_rootfs import export_rootfs

        if ctx.get_parameter_source("kind") is click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError("--rootfs writes the files as a plain tar: leave out --type")

        return export_rootfs(ctx, reference, file, platform, fmt, quiet=quiet)
    from hoist.cli.progress import make_progress
    from hoist.export import FORMATS
    from hoist.export import image_export as export

    src = get_location(ctx, reference)
    if kind == "docker":
        from hoist.copy import CopyOptions

        platform = _archive_platform(src, CopyOptions(platform=platform))
    progress, running = make_progress(quiet)
    with running:
        result = export(
            src,
            file,
            fmt=kind,
            platform=platform,
            progress=progress,
            output=sys.stdout.buffer if file == "-" else None,
        )
    if fmt == "json":
        data = copy_json(src, f"{FORMATS[kind]}://{file}", result)
        data["platform"] = str(platform) if platform is not None else None
        click.echo(_dumps(data), err=file == "-")
        return
    click.echo(str(result.descriptor.digest), err=file == "-")


def _dumps(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, ensure_ascii=False)


@click.command("import")
@click.argument("reference")
@click.argument("file")
@click.option("--name", help="The image to take from an archive holding several (name:tag).")
@click.option(
    "--layer-compress",
    "compression",
    type=click.Choice(["gzip", "zstd", "none"]),
    help="Compress the layers so (default: gzip for a docker archive, whose layers are plain "
    "tars; an OCI archive as it is). none keeps the layers, and the digest, as they are.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@format_option("text", "json")
@click.pass_context
def image_import(
    ctx: click.Context,
    reference: str,
    file: str,
    name: str | None,
    compression: str | None,
    quiet: bool,
    fmt: str,
) -> None:
    """Copy the image in archive FILE (docker or OCI; - for stdin) to REFERENCE.

    A docker archive (docker save) holds uncompressed layers: they are gzip-compressed on the
    way, as docker push does (a new digest; the diff_ids stay). Prints the digest.
    """
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
        src = Location(store, src_ref)
        if compression is None:
            compression = "gzip" if store.kind == "docker-archive" else "none"
        try:
            if compression != "none":
                from hoist.authoring.mod import Changes, image_mod

                changes = Changes(layer_compress=compression, to_oci=compression == "zstd")
                desc = image_mod(src, dst, changes)
                data: dict[str, Any] = {"source": file, "destination": str(dst), **desc.to_dict()}
                data["layer_compress"] = compression
            else:
                progress, running = make_progress(quiet)
                with running:
                    result = copy(src, dst, progress=progress)
                desc = result.descriptor
                data = copy_json(src, dst, result)
                data["source"] = file
        finally:
            store.close()
    if fmt == "json":
        emit_json(data)
    else:
        click.echo(str(desc.digest))
