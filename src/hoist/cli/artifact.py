"""``hoist artifact``: push, pull and discover OCI 1.1 artifacts (SBOMs, signatures, files)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from hoist.cli.common import emit_json, format_option, get_location, human_size, table
from hoist.cli.index import annotation_option

if TYPE_CHECKING:
    from hoist.artifact import ArtifactFile, ReferrerNode
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest


def parse_file(value: str) -> ArtifactFile:
    """``FILE[:MEDIA_TYPE]``: the media type follows the last ':' when it looks like one."""
    from hoist.artifact import DEFAULT_FILE_TYPE, ArtifactFile

    path, sep, media_type = value.rpartition(":")
    if not sep or not path or not _is_media_type(media_type) or Path(value).exists():
        path, media_type = value, DEFAULT_FILE_TYPE
    if not Path(path).is_file():
        raise click.BadParameter(f"{path!r} is not a file", param_hint="-f/--file")
    return ArtifactFile(Path(path), media_type)


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
    metavar="FILE[:MEDIA_TYPE]",
    help="A file to include (repeatable; default type application/octet-stream).",
)
@click.option(
    "--config", metavar="FILE[:MEDIA_TYPE]", help="A config blob (default: the empty {})."
)
@annotation_option("Annotation on the manifest (repeatable).")
@click.pass_context
def artifact_put(
    ctx: click.Context,
    reference: str,
    subject: str | None,
    artifact_type: str,
    files: tuple[str, ...],
    config: str | None,
    annotations: dict[str, str],
) -> None:
    """Push files as an artifact; prints its digest.

    REFERENCE is a repository with a tag, or with --subject just the repository: the
    artifact is then pushed by digest and found through its subject's referrers.
    """
    from hoist.artifact import artifact_put as put
    from hoist.artifact import has_explicit_tag

    dst = get_location(ctx, reference)
    manifest = put(
        dst,
        [parse_file(f) for f in files],
        artifact_type=artifact_type,
        subject=_subject(ctx, subject) if subject is not None else None,
        annotations=annotations,
        config=parse_file(config) if config else None,
        tag=has_explicit_tag(reference),
    )
    where = dst.by_digest(manifest.digest)
    n = len(files)
    click.echo(f"pushed {where} ({n} file{'' if n == 1 else 's'})", err=True)
    click.echo(str(manifest.digest))


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
@click.pass_context
def artifact_get(ctx: click.Context, reference: str, output: str) -> None:
    """Download an artifact's files into a directory.

    Every file is verified against its digest before it appears under its name; a name that
    would land outside the directory is refused. Prints the paths written.
    """
    from hoist.artifact import artifact_get as get

    for path in get(get_location(ctx, reference), Path(output)):
        click.echo(str(path))


def _rows(found: list[Descriptor]) -> list[tuple[str, str, str, str]]:
    return [
        (
            d.artifact_type or "-",
            str(d.digest),
            human_size(d.size),
            d.annotations.get("org.opencontainers.image.created", ""),
        )
        for d in found
    ]


@artifact.command("list")
@click.argument("subject")
@click.option("-t", "--artifact-type", metavar="TYPE", help="Only referrers of this type.")
@format_option("text", "json")
@click.pass_context
def artifact_list(ctx: click.Context, subject: str, artifact_type: str | None, fmt: str) -> None:
    """List the referrers of SUBJECT.

    Referrers are the artifacts whose subject is SUBJECT, sorted by type then digest.
    """
    from hoist.artifact import artifact_list as listing

    found = listing(get_location(ctx, subject), artifact_type=artifact_type)
    if fmt == "json":
        emit_json([d.to_dict() for d in found])
    elif found:
        click.echo(table(_rows(found), ["ARTIFACT TYPE", "DIGEST", "SIZE", "CREATED"]))
    else:
        click.echo("no referrers", err=True)


def _label(d: Descriptor) -> str:
    kind = d.artifact_type or d.media_type
    return f"{d.digest}  {kind}  {human_size(d.size)}"


def render_tree(root: ReferrerNode, name: str) -> list[str]:
    """Lines of a box-drawing tree: the subject, then its referrers, nested."""
    lines = [f"{name}  {_label(root.descriptor)}"]

    def walk(node: ReferrerNode, prefix: str) -> None:
        for i, child in enumerate(node.referrers):
            last = i == len(node.referrers) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{_label(child.descriptor)}")
            walk(child, prefix + ("    " if last else "│   "))

    walk(root, "")
    return lines


@artifact.command("tree")
@click.argument("subject")
@click.option("-t", "--artifact-type", metavar="TYPE", help="Only referrers of this type.")
@format_option("text", "json")
@click.pass_context
def artifact_tree(ctx: click.Context, subject: str, artifact_type: str | None, fmt: str) -> None:
    """Show referrers of SUBJECT, recursively."""
    from hoist.artifact import artifact_tree as tree

    where = get_location(ctx, subject)
    root = tree(where, artifact_type=artifact_type)
    if fmt == "json":
        emit_json(root.to_dict())
    else:
        click.echo("\n".join(render_tree(root, str(where))))
