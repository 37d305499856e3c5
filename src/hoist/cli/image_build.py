"""``hoist image build``: a Dockerfile to an image, with no container runtime."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from hoist.cli.common import (
    emit_json,
    format_option,
    get_client,
    get_location,
    human_size,
    parse_platform,
)

if TYPE_CHECKING:
    from hoist.authoring.options import Step
    from hoist.model.platform import Platform


def _platforms(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[Any, ...]:
    if not value:
        return ()
    return tuple(parse_platform(ctx, param, p.strip()) for p in value.split(",") if p.strip())


def _build_args(values: tuple[str, ...]) -> dict[str, str]:
    """``K=V``; a bare ``K`` takes its value from the environment (skipped when unset)."""
    out = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not key:
            raise click.BadParameter(f"{value!r}: want KEY=VALUE", param_hint="--build-arg")
        if eq:
            out[key] = val
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def format_step(step: Step) -> str:
    """``[linux/arm64 build 2/5] COPY app /app -> layer sha256:0123456789ab (1.2 kB)``."""
    where = [str(step.platform)] if step.platform is not None else []
    where += [step.stage] if step.stage else []
    width = len(str(step.total))
    where.append(f"{step.index:>{width}}/{step.total}")
    line = f"[{' '.join(where)}] {step.text}"
    if step.layer is not None:
        digest = step.layer.digest
        line += f" -> layer {digest.algorithm}:{digest.short} ({human_size(step.layer.size)})"
    elif step.detail:
        line += f" ({step.detail})"
    return line


@click.command("build")
@click.argument("context", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-f",
    "--file",
    "dockerfile",
    metavar="PATH",
    help="The Dockerfile (default: CONTEXT/Dockerfile; - reads stdin).",
)
@click.option(
    "-t",
    "--tag",
    "tag",
    required=True,
    metavar="REF",
    help="Where to put the image: a registry reference or ocidir://PATH[:tag].",
)
@click.option(
    "--platform",
    "platforms",
    callback=_platforms,
    metavar="P1,P2,...",
    help="Platforms to build (several make an index). Default: every platform of the base "
    "image (an index's make an index), the local one FROM scratch.",
)
@click.option("--build-arg", "build_args", multiple=True, metavar="K=V", help="Set an ARG.")
@click.option("--target", metavar="STAGE", help="Build this stage (default: the last).")
@click.option(
    "--layer-compress",
    "compression",
    type=click.Choice(["gzip", "zstd", "none"]),
    default="gzip",
    show_default=True,
    help="Compression of the new layers.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only the digest; no step lines.")
@format_option("text", "json")
@click.pass_context
def build(
    ctx: click.Context,
    context: str,
    dockerfile: str | None,
    tag: str,
    platforms: tuple[Platform, ...],
    build_args: tuple[str, ...],
    target: str | None,
    compression: str,
    quiet: bool,
    fmt: str,
) -> None:
    """Build CONTEXT's Dockerfile into an image at REF, with no container runtime.

    COPY and ADD make one layer each; ENV, CMD, LABEL, EXPOSE and the other instructions
    change only the config. RUN needs a container and is refused. Base images are not
    downloaded: their layers are reused where they are (mounted on the same registry).
    The same context and Dockerfile give the same digest everywhere (times from
    SOURCE_DATE_EPOCH, else 0). Step lines go to stderr, the digest to stdout (with
    --format json: what was written, each platform's manifest and config).
    """
    from hoist.authoring.builder import image_build
    from hoist.authoring.options import BuildOptions

    options = BuildOptions(
        dockerfile=None if dockerfile == "-" else dockerfile,
        dockerfile_text=sys.stdin.read() if dockerfile == "-" else None,
        platforms=platforms,
        build_args=_build_args(build_args),
        target=target,
        compression=compression,
    )

    def progress(step: Step) -> None:
        if not quiet:
            click.echo(format_step(step), err=True)

    client = get_client(ctx)
    result = image_build(client, context, get_location(ctx, tag), options, progress=progress)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if fmt == "json":
        emit_json(
            {
                "destination": str(result.location),
                **result.descriptor.to_dict(),
                "images": [
                    {
                        "platform": str(built.platform),
                        **built.manifest.descriptor().to_dict(),
                        "config": built.manifest.config.to_dict(),
                        "layers": [d.to_dict() for d in built.manifest.layers],
                    }
                    for built in result.images
                ],
                "warnings": list(result.warnings),
            }
        )
        return
    if not quiet:
        kind = (
            f"an index of {len(result.images)} platforms"
            if len(result.images) > 1
            else f"{result.images[0].platform}"
        )
        click.echo(f"wrote {result.location} ({kind})", err=True)
    click.echo(str(result.descriptor.digest))
