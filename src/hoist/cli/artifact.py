"""``hoist artifact``: push, pull and discover OCI 1.1 artifacts (SBOMs, signatures, files)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hoist.cli.common import (
    emit_json,
    format_option,
    get_location,
    human_size,
    platform_option_with,
    table,
)
from hoist.cli.image_insight import parse_size
from hoist.cli.index import annotation_option

if TYPE_CHECKING:
    from hoist.artifact import ArtifactFile, ReferrerFilter, ReferrerNode
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest
    from hoist.model.platform import Platform

F = TypeVar("F", bound=Callable[..., Any])

CREATED = "org.opencontainers.image.created"


def parse_file(value: str, *, stdin_title: str = "stdin", what: str = "-f/--file") -> ArtifactFile:
    """``PATH[:MEDIA_TYPE]``: a file, a directory, or ``-`` for stdin; the media type follows
    the last ':' when it looks like one (else the library's default for the kind)."""
    from hoist.artifact import ArtifactFile

    path, sep, media_type = value.rpartition(":")
    media: str | None = media_type
    if not sep or not path or not _is_media_type(media_type) or Path(value).exists():
        path, media = value, None
    if path == "-":
        return ArtifactFile(sys.stdin.buffer, media, title=stdin_title)
    if not (Path(path).is_file() or Path(path).is_dir()):
        raise click.BadParameter(f"{path!r} is not a file or directory", param_hint=what)
    return ArtifactFile(Path(path), media)


def _is_media_type(text: str) -> bool:
    from hoist.artifact import check_media_type
    from hoist.errors import InvalidInput

    try:
        check_media_type(text)
    except InvalidInput:
        return False
    return True


def _subject(ctx: click.Context, text: str) -> Location | Digest:
    """``--subject``: a reference, or a bare digest (``sha256:...``) naming a manifest in the
    artifact's repository."""
    import re

    if re.fullmatch(r"sha(256|512):[0-9a-f]+", text):
        from hoist.model.digest import Digest

        return Digest.parse(text)
    return get_location(ctx, text)


def split_tags(reference: str) -> tuple[str, list[str]]:
    """``reg/app:t1,t2,t3`` as oras writes several tags: ``("reg/app:t1", ["t2", "t3"])``.

    Only the part after the last ``/`` is split, so a layout path may hold commas.
    """
    head, sep, last = reference.rpartition("/")
    first, *more = last.split(",")
    return head + sep + first, more


def _parse_filters(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    """``--filter-annotation K=V`` (``K`` alone or ``K=``: the key must be set)."""
    out: dict[str, str] = {}
    for value in values:
        key, _, wanted = value.partition("=")
        if not key:
            raise click.BadParameter(f"{value!r}: want KEY=VALUE or KEY", param_hint=param.name)
        out[key] = wanted
    return out


def referrer_options(*, latest: bool) -> Callable[[F], F]:
    """The options that pick referrers: type, annotations, order."""

    def deco(f: F) -> F:
        f = click.option(
            "--reverse", is_flag=True, help="Sort descending (with --sort-annotation)."
        )(f)
        f = click.option(
            "--sort-annotation",
            metavar="KEY",
            help="Order by this annotation (as text); referrers without it come last.",
        )(f)
        if latest:
            f = click.option(
                "--latest",
                is_flag=True,
                help=f"Take the newest by {CREATED}.",
            )(f)
        f = click.option(
            "--filter-annotation",
            "filter_annotations",
            multiple=True,
            metavar="KEY[=VALUE]",
            callback=_parse_filters,
            help="Only referrers with this annotation (value, or just set); repeatable.",
        )(f)
        f = click.option(
            "-t", "--artifact-type", metavar="TYPE", help="Only referrers of this type."
        )(f)
        return f

    return deco


def _referrer_filter(
    artifact_type: str | None,
    annotations: dict[str, str],
    latest: bool,
    sort_annotation: str | None,
    reverse: bool,
) -> ReferrerFilter:
    from hoist.artifact import ReferrerFilter

    if latest and sort_annotation:
        raise click.UsageError("--latest orders by the created time: not with --sort-annotation")
    if reverse and not sort_annotation:
        raise click.UsageError("--reverse needs --sort-annotation")
    return ReferrerFilter(artifact_type, annotations, latest, sort_annotation, reverse)


@click.group("artifact")
def artifact() -> None:
    """Push, pull and list OCI artifacts and the referrers of an image."""


@artifact.command("put")
@click.argument("reference")
@click.option(
    "--subject",
    metavar="REF",
    help="The manifest this artifact is about (same repository; a bare digest works).",
)
@click.option("-t", "--artifact-type", required=True, metavar="TYPE", help="What the artifact is.")
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    metavar="PATH[:MEDIA_TYPE]",
    help="A file, a directory (one tar+gzip layer, as oras packs it) or - for stdin; "
    "repeatable (default type application/octet-stream).",
)
@click.option(
    "--stdin-title",
    default="stdin",
    show_default=True,
    metavar="NAME",
    help="The title (file name) of the file read from stdin.",
)
@click.option(
    "--config",
    metavar="FILE[:MEDIA_TYPE]",
    help="A config blob (default: the empty {}; type application/vnd.unknown.config.v1+json).",
)
@annotation_option("Annotation on the manifest (repeatable).")
@click.option(
    "--annotation-file",
    type=click.Path(dir_okay=False, exists=True),
    metavar="FILE",
    help='oras\'s JSON: {"$manifest": {...}, "$config": {...}, "FILE": {...}}.',
)
@click.option(
    "--tag", "tags", multiple=True, metavar="TAG", help="Another tag to put (repeatable)."
)
@format_option("text", "json")
@click.pass_context
def artifact_put(
    ctx: click.Context,
    reference: str,
    subject: str | None,
    artifact_type: str,
    files: tuple[str, ...],
    stdin_title: str,
    config: str | None,
    annotations: dict[str, str],
    annotation_file: str | None,
    tags: tuple[str, ...],
    fmt: str,
) -> None:
    """Push files and directories as an artifact; prints its digest (--format json: the
    manifest's descriptor, its files' and the tags written).

    REFERENCE is a repository with a tag (several as oras writes them: app:v1,v2), or with
    --subject just the repository: the artifact is then pushed by digest and found through
    its subject's referrers. --annotation wins over the same key in --annotation-file.
    """
    from hoist.artifact import AnnotationFile, has_explicit_tag
    from hoist.artifact import artifact_put as put

    first, more = split_tags(reference)
    dst = get_location(ctx, first)
    items = [parse_file(f, stdin_title=stdin_title) for f in files]
    config_file = parse_file(config, what="--config") if config else None
    config_annotations: dict[str, str] = {}
    if annotation_file is not None:
        loaded = AnnotationFile.load(annotation_file)
        items = loaded.apply(items)
        annotations = {**loaded.manifest, **annotations}
        config_annotations = dict(loaded.config)
    manifest = put(
        dst,
        items,
        artifact_type=artifact_type,
        subject=_subject(ctx, subject) if subject is not None else None,
        annotations=annotations,
        config=config_file,
        config_annotations=config_annotations,
        tag=has_explicit_tag(first),
        tags=[*more, *tags],
    )
    where = dst.by_digest(manifest.digest)
    if fmt == "json":
        emit_json(
            {
                "destination": str(where),
                **manifest.descriptor().to_dict(),
                "artifactType": artifact_type,
                "subject": manifest.subject.to_dict() if manifest.subject else None,
                "layers": [d.to_dict() for d in manifest.layers],
                "tags": [*([dst.tag] if has_explicit_tag(first) and dst.tag else []), *more, *tags],
            }
        )
        return
    dirs = sum(f.is_directory for f in items)
    n = len(items) - dirs
    what = [f"{n} file{'' if n == 1 else 's'}"] if n or not dirs else []
    if dirs:
        what.append(f"{dirs} director{'y' if dirs == 1 else 'ies'}")
    click.echo(f"pushed {where} ({', '.join(what)})", err=True)
    click.echo(str(manifest.digest))


def _describe(d: Descriptor) -> str:
    created = d.annotations.get(CREATED)
    return f"{d.artifact_type or d.media_type}" + (f", created {created}" if created else "")


@artifact.command("get")
@click.argument("reference")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Directory to write the files to.",
)
@referrer_options(latest=True)
@platform_option_with("Take the referrers of this platform's manifest of an index (default: none).")
@click.option("--no-unpack", is_flag=True, help="Write packed directories as their tarballs.")
@click.option(
    "--max-size",
    callback=parse_size,
    default="64G",
    show_default=True,
    metavar="SIZE",
    help="Refuse a directory that unpacks to more than this (a bomb); 0 for no limit.",
)
@format_option("text", "json")
@click.pass_context
def artifact_get(
    ctx: click.Context,
    reference: str,
    output: str,
    artifact_type: str | None,
    filter_annotations: dict[str, str],
    latest: bool,
    sort_annotation: str | None,
    reverse: bool,
    platform: Platform | None,
    no_unpack: bool,
    max_size: int | None,
    fmt: str,
) -> None:
    """Download an artifact's files (and directories) into a directory.

    With --artifact-type, --filter-annotation, --latest, --sort-annotation or --platform,
    REFERENCE is the subject and the artifact is its one referrer that matches (with
    --latest the newest by its created annotation; --platform picks a manifest of an index
    first). Every file is verified before it appears under its name; a name that would land
    outside the directory is refused. Directories packed as oras packs them are unpacked
    with the rules of image unpack and their tar digest checked. Prints the paths written.
    """
    from hoist.artifact import artifact_get as get
    from hoist.artifact import artifact_select

    src = get_location(ctx, reference)
    picking = bool(artifact_type or filter_annotations or latest or sort_annotation or platform)
    if reverse and not picking:
        raise click.UsageError("--reverse needs --sort-annotation")
    if picking:
        match = _referrer_filter(
            artifact_type, filter_annotations, latest, sort_annotation, reverse
        )
        chosen = artifact_select(src, match, platform=platform)
        src = src.by_digest(chosen.digest)
        if fmt != "json":
            click.echo(f"artifact {src} ({_describe(chosen)})", err=True)
    written = get(src, Path(output), unpack=not no_unpack, max_bytes=max_size)
    if fmt == "json":
        emit_json({"source": str(src), "written": [str(path) for path in written]})
        return
    for path in written:
        click.echo(str(path))


def _rows(found: list[Descriptor]) -> list[tuple[str, str, str, str]]:
    return [
        (
            d.artifact_type or "-",
            str(d.digest),
            human_size(d.size),
            d.annotations.get(CREATED, ""),
        )
        for d in found
    ]


@artifact.command("list")
@click.argument("subject")
@referrer_options(latest=False)
@platform_option_with("List the referrers of this platform's manifest of an index.")
@format_option("text", "json")
@click.pass_context
def artifact_list(
    ctx: click.Context,
    subject: str,
    artifact_type: str | None,
    filter_annotations: dict[str, str],
    sort_annotation: str | None,
    reverse: bool,
    platform: Platform | None,
    fmt: str,
) -> None:
    """List the referrers of SUBJECT.

    Referrers are the artifacts whose subject is SUBJECT, sorted by type then digest (or by
    --sort-annotation). With --platform, SUBJECT is an index and the referrers are those of
    its manifest for that platform.
    """
    from hoist.artifact import artifact_list as listing

    match = _referrer_filter(artifact_type, filter_annotations, False, sort_annotation, reverse)
    found = listing(get_location(ctx, subject), match=match, platform=platform)
    if fmt == "json":
        emit_json([d.to_dict() for d in found])
    elif found:
        click.echo(table(_rows(found), ["ARTIFACT TYPE", "DIGEST", "SIZE", "CREATED"]))
    else:
        click.echo("no referrers", err=True)


def _label(d: Descriptor) -> str:
    kind = d.artifact_type or d.media_type
    shown = f"{d.digest}  {kind}  {human_size(d.size)}"
    return f"[{d.platform}] {shown}" if d.platform is not None else shown


def render_tree(root: ReferrerNode, name: str) -> list[str]:
    """Lines of a box-drawing tree: the subject, its platforms' manifests (an index), then its
    referrers, nested."""
    lines = [f"{name}  {_label(root.descriptor)}"]

    def walk(node: ReferrerNode, prefix: str) -> None:
        children = node.children
        for i, child in enumerate(children):
            last = i == len(children) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{_label(child.descriptor)}")
            walk(child, prefix + ("    " if last else "│   "))

    walk(root, "")
    return lines


@artifact.command("tree")
@click.argument("subject")
@click.option("-t", "--artifact-type", metavar="TYPE", help="Only referrers of this type.")
@click.option(
    "--no-platforms", is_flag=True, help="Leave out an index's manifests and their referrers."
)
@format_option("text", "json")
@click.pass_context
def artifact_tree(
    ctx: click.Context, subject: str, artifact_type: str | None, no_platforms: bool, fmt: str
) -> None:
    """Show the referrers of SUBJECT, recursively.

    When SUBJECT (or a referrer) is an index, its manifests come first, each marked with its
    platform and followed by its own referrers.
    """
    from hoist.artifact import artifact_tree as tree

    where = get_location(ctx, subject)
    root = tree(where, artifact_type=artifact_type, platforms=not no_platforms)
    if fmt == "json":
        emit_json(root.to_dict())
    else:
        click.echo("\n".join(render_tree(root, str(where))))
