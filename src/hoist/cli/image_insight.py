"""``hoist image`` insight commands: tree, check-base, diff, ls-files, get-file, unpack, verify.

They are added to the ``image`` group at the bottom of :mod:`hoist.cli.image`. The library
(:mod:`hoist.files`, :mod:`hoist.insight`) does the work; these print it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from hoist.cli.common import (
    emit_bytes,
    emit_json,
    format_option,
    get_client,
    get_location,
    platform_option,
    platform_option_with,
)

if TYPE_CHECKING:
    from hoist.image import Image
    from hoist.layers.entries import Entry
    from hoist.model.platform import Platform

__all__ = ["parse_size", "print_entries"]

_SUFFIXES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> int | None:
    """Click callback: ``1048576``, ``512M``, ``64G`` (powers of 1024); ``0`` for no limit."""
    if value is None:
        return None
    text = value.strip().lower().removesuffix("ib").removesuffix("b")
    unit = text[-1:] if text[-1:] in _SUFFIXES else ""
    number = text[: -1 if unit else None]
    try:
        size = int(float(number) * _SUFFIXES[unit])
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a size like 512M or 64G") from None
    return size or None


def max_size_option(f: Any) -> Any:
    return click.option(
        "--max-size",
        callback=parse_size,
        default="64G",
        show_default=True,
        metavar="SIZE",
        help="Refuse a layer that decompresses to more than this (a bomb); 0 for no limit.",
    )(f)


def full_option(f: Any) -> Any:
    return click.option("--no-trunc", "full", is_flag=True, help="Show full digests.")(f)


def _image(ctx: click.Context, reference: str, platform: Platform | None) -> Image:
    return get_client(ctx).image(get_location(ctx, reference), platform=platform)


def _entry_lines(entries: Iterable[Entry]) -> Iterator[str]:
    rows = list(entries)
    owner = max((len(f"{e.uid}/{e.gid}") for e in rows), default=3)
    size = max((len(str(e.size)) for e in rows), default=1)
    for e in rows:
        if e.is_deletion:
            ids, length, when = "-".ljust(owner), "-".rjust(size), "-".ljust(16)
        else:
            ids = f"{e.uid}/{e.gid}".ljust(owner)
            length = str(e.size).rjust(size)
            when = e.mtime_iso[:16].replace("T", " ")
        line = f"{e.filemode()}  {ids}  {length}  {when}  {e.display_path}"
        target = e.target_text()
        yield f"{line}  {target}" if target else line


def print_entries(entries: Iterable[Entry], fmt: str) -> None:
    """Entries as ``ls -l``-like lines, or a JSON list."""
    if fmt == "json":
        emit_json([e.to_dict() for e in entries])
        return
    lines = list(_entry_lines(entries))
    if lines:
        click.echo("\n".join(lines))


# --------------------------------------------------------------------------- tree


@click.command("tree")
@click.argument("references", nargs=-1, required=True)
@platform_option_with("Show only this platform's branch of an index (default: every platform).")
@click.option("--referrers", is_flag=True, help="Show referrers and sha256-<hex> digest tags.")
@full_option
@format_option("text", "json", "dot", "svg")
@click.pass_context
def image_tree(
    ctx: click.Context,
    references: tuple[str, ...],
    platform: Platform | None,
    referrers: bool,
    full: bool,
    fmt: str,
) -> None:
    """Show what REFERENCES are made of: index, platform manifests, configs, layers.

    With several references, layers and configs more than one image uses are marked
    shared: stored once, pulled once. --format dot/svg draws the graph (svg runs Graphviz).
    """
    from hoist import insight
    from hoist.errors import Unsupported
    from hoist.insight import render_svg, to_dot
    from hoist.insight.tree import render_text

    locations = [get_location(ctx, text) for text in references]
    trees = insight.image_tree(locations, platform=platform, referrers=referrers)
    if fmt == "json":
        emit_json([t.to_dict() for t in trees])
    elif fmt == "dot":
        click.echo(to_dot(trees, full=full), nl=False)
    elif fmt == "svg":
        try:
            svg = render_svg(to_dot(trees, full=full))
        except Unsupported as exc:  # no Graphviz: say which format needs none
            raise Unsupported(f"{exc} (or use --format dot)") from None
        emit_bytes(svg)
    else:
        click.echo(render_text(trees, full=full))


# --------------------------------------------------------------------------- check-base


@click.command("check-base")
@click.argument("reference")
@click.option(
    "--base",
    "base_ref",
    metavar="BASE",
    help="The base image (default: the one REFERENCE records, as image build does).",
)
@platform_option
@full_option
@format_option("text", "json")
@click.pass_context
def image_check_base(
    ctx: click.Context,
    reference: str,
    base_ref: str | None,
    platform: Platform | None,
    full: bool,
    fmt: str,
) -> None:
    """Is REFERENCE built on the current BASE? Exit 0 if so, 3 if it needs a rebuild.

    The base's layers must be the first layers of REFERENCE (compared by diff_id).
    """
    from hoist import insight
    from hoist.insight._format import short_digest

    image = _image(ctx, reference, platform)
    if base_ref is None:  # the base the image records (org.opencontainers.image.base.name)
        from hoist.cli.base_option import recorded_base_name

        base_ref = recorded_base_name(image, reference)
    # the base is resolved to the image's platform unless --platform names one
    result = insight.image_check_base(image, _image(ctx, base_ref, platform))
    if fmt == "json":
        emit_json(result.to_dict())
    else:
        click.echo(f"{result.image} ({result.platform}) on {result.base}: {result.status}")
        click.echo(f"shared layers: {len(result.shared)} of the base's {result.base_layers}")
        for x in result.shared:
            click.echo(f"  = {x.index}  {short_digest(x.digest, full)}")
        if result.base_new:
            click.echo("the base now has:")
            for x in result.base_new:
                click.echo(f"  + {x.index}  {short_digest(x.digest, full)}")
        if result.image_old:
            click.echo("the image has instead:")
            for x in result.image_old:
                click.echo(f"  - {x.index}  {short_digest(x.digest, full)}")
        if result.recorded_base:
            state = "current" if result.recorded_base_current else "not the current base"
            click.echo(f"recorded base digest: {result.recorded_base} ({state})")
    if not result.up_to_date:
        ctx.exit(3)


# --------------------------------------------------------------------------- diff


@click.command("diff")
@click.argument("a")
@click.argument("b")
@platform_option
@click.option("--files", is_flag=True, help="Also compare the files (reads every layer).")
@click.option("--exit-code", is_flag=True, help="Exit 3 when the images differ (as git diff).")
@full_option
@format_option("text", "json")
@click.pass_context
def image_diff(
    ctx: click.Context,
    a: str,
    b: str,
    platform: Platform | None,
    files: bool,
    exit_code: bool,
    full: bool,
    fmt: str,
) -> None:
    """Show what changed from image A to image B: manifest, config, layers, files.

    B is resolved to A's platform unless --platform says otherwise. With --exit-code the exit
    status says it too: 0 the same, 3 different.
    """
    from hoist import insight
    from hoist.insight.diff import render_text

    img_a = _image(ctx, a, platform)
    img_b = _image(ctx, b, platform or img_a.config.platform)
    result = insight.image_diff(img_a, img_b, files=files)
    if fmt == "json":
        emit_json(result.to_dict())
    else:
        click.echo(render_text(result, full=full))
    if exit_code and not result.identical:
        ctx.exit(3)


# --------------------------------------------------------------------------- files


@click.command("ls-files")
@click.argument("reference")
@platform_option
@click.option(
    "--layer",
    "layer",
    type=int,
    metavar="N",
    help="Only layer N (0 is the bottom, -1 the top), deletions included.",
)
@max_size_option
@format_option("text", "json")
@click.pass_context
def image_ls_files(
    ctx: click.Context,
    reference: str,
    platform: Platform | None,
    layer: int | None,
    max_size: int | None,
    fmt: str,
) -> None:
    """List the files of an image: the merged filesystem, or one layer with --layer.

    Columns: mode, uid/gid, size, mtime (UTC), path, link target. Deletions (whiteouts)
    show as D---------, opaque directories as O---------.
    """
    from hoist.files import list_layer_files, merged_tree

    img = _image(ctx, reference, platform)
    if layer is None:
        print_entries(merged_tree(img, max_bytes=max_size).walk(), fmt)
        return
    count = len(img.layers)
    if not -count <= layer < count:
        raise click.BadParameter(f"the image has {count} layers", param_hint="--layer")
    listing = list_layer_files(img, layer % count, max_bytes=max_size)
    print_entries(listing.entries, fmt)


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[BinaryIO]:
    """stdout, or a temporary file next to ``path`` renamed into place only on success."""
    if path is None or path == "-":
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    from hoist.fsutil import atomic_file

    with atomic_file(path) as out:
        yield out


@click.command("get-file")
@click.argument("reference")
@click.argument("path")
@platform_option
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
@max_size_option
@click.pass_context
def image_get_file(
    ctx: click.Context,
    reference: str,
    path: str,
    platform: Platform | None,
    output: str | None,
    max_size: int | None,
) -> None:
    """Print the file at PATH in the image (top-most layer wins, deletions respected).

    Symlinks are followed inside the image only. The layer holding the file is read to its
    end so its digest is verified; with -o the file appears only once verified.
    """
    from hoist.files import read_file

    img = _image(ctx, reference, platform)
    with _output(output) as out:
        read_file(img, path, out, max_bytes=max_size)


@click.command("unpack")
@click.argument("reference")
@click.argument("directory", type=click.Path(file_okay=False))
@platform_option
@click.option(
    "--devices/--no-devices",
    default=None,
    help="Make device nodes (default: only when running as root).",
)
@click.option(
    "--no-escaping-symlinks",
    "refuse_escaping",
    is_flag=True,
    help="Refuse symlinks whose target climbs above DIRECTORY (default: made, never followed).",
)
@click.option("--force", is_flag=True, help="Unpack into DIRECTORY even when it is not empty.")
@max_size_option
@format_option("text", "json")
@click.pass_context
def image_unpack(
    ctx: click.Context,
    reference: str,
    directory: str,
    platform: Platform | None,
    devices: bool | None,
    refuse_escaping: bool,
    force: bool,
    max_size: int | None,
    fmt: str,
) -> None:
    """Unpack the image's filesystem into DIRECTORY, safely.

    Nothing is written outside DIRECTORY: entries with '..' or absolute paths, and paths
    through symlinks climbing out, are refused; absolute symlinks resolve inside DIRECTORY,
    as in a container. A symlink climbing out is itself made (never followed) unless
    --no-escaping-symlinks refuses it. Every layer's digest and diff_id is checked while it
    streams. A DIRECTORY that is not empty is refused unless --force: the image's files then
    land among what is there.
    """
    from pathlib import Path

    from hoist.errors import InvalidInput
    from hoist.files import unpack

    target = Path(directory)
    if not force and target.is_dir() and any(target.iterdir()):
        raise InvalidInput(f"{directory} is not empty: unpack into a new directory, or --force")
    img = _image(ctx, reference, platform)
    result = unpack(
        img,
        directory,
        devices=devices,
        max_bytes=max_size,
        refuse_escaping_symlinks=refuse_escaping,
    )
    if fmt == "json":
        emit_json(result.to_dict())
        return
    click.echo(
        f"unpacked {len(result.layers)} layers into {result.root}: {result.files} files "
        f"({result.bytes} bytes), {result.dirs} directories, {result.symlinks} symlinks, "
        f"{result.hardlinks} hard links, {result.whiteouts} whiteouts applied"
    )
    for skipped in result.skipped:
        click.echo(f"skipped {skipped}", err=True)


# --------------------------------------------------------------------------- verify


@click.command("verify")
@click.argument("reference")
@platform_option_with("Verify only this platform of an index (default: every platform).")
@max_size_option
@full_option
@format_option("text", "json")
@click.pass_context
def image_verify(
    ctx: click.Context,
    reference: str,
    platform: Platform | None,
    max_size: int | None,
    full: bool,
    fmt: str,
) -> None:
    """Check every digest, size, diff_id, media type and platform; exit 3 on any mismatch.

    Without --platform every platform of an index is verified.
    """
    from hoist import insight
    from hoist.insight.verify import render_text

    location = get_location(ctx, reference)
    report = insight.image_verify(location, platform=platform, max_bytes=max_size)
    if fmt == "json":
        emit_json(report.to_dict())
    else:
        click.echo(render_text(report, full=full))
    if not report.ok:
        ctx.exit(3)
