"""``hoist image mod``: change an image straight where it lives."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from hoist.cli.common import emit_json, format_option, get_location, platform_option_with
from hoist.errors import InvalidInput
from hoist.model.jsonvalue import parse_json

if TYPE_CHECKING:
    from hoist.model.platform import Platform


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not eq or not key:
            raise click.BadParameter(f"{value!r}: want KEY=VALUE", param_hint=flag)
        out[key] = val
    return out


def _layer_add(values: tuple[str, ...]) -> tuple[tuple[Path, str], ...]:
    out = []
    for value in values:
        path, _, dest = value.partition(":")
        if not Path(path).exists():
            raise InvalidInput(f"--layer-add {Path(path)}: no such file or directory")
        out.append((Path(path), dest))
    return tuple(out)


def _json_list(flag: str, value: str | None) -> tuple[list[str] | None, bool]:
    """``--entrypoint``/``--cmd`` JSON: (the list, or None to keep; whether to clear)."""
    if value is None:
        return None, False
    try:
        parsed = parse_json(value)
    except InvalidInput:
        raise InvalidInput(f'--{flag} wants JSON, e.g. \'["/bin/sh", "-c"]\'') from None
    if parsed is None:
        return None, True
    if not (isinstance(parsed, list) and all(isinstance(x, str) for x in parsed)):
        raise InvalidInput(f"--{flag} wants a JSON list of strings, or null")
    return parsed, False


@click.command("mod")
@click.argument("reference")
@click.option("--create", "create", metavar="NEWREF", help="Write the result to NEWREF.")
@click.option("--replace", is_flag=True, help="Write the result back to REFERENCE's tag.")
@platform_option_with(
    "Change only this platform's image of an index, keeping the others as they are "
    "(default: every platform)."
)
@click.option("--label", multiple=True, metavar="K=V", help="Set a label.")
@click.option("--label-rm", multiple=True, metavar="K", help="Remove a label.")
@click.option("--annotation", multiple=True, metavar="K=V", help="Set a manifest annotation.")
@click.option("--env", multiple=True, metavar="K=V", help="Set an environment variable.")
@click.option("--env-rm", multiple=True, metavar="K", help="Remove an environment variable.")
@click.option("--entrypoint", metavar="JSON", help="Entrypoint, e.g. '[\"/app\"]' (null clears).")
@click.option("--cmd", metavar="JSON", help='Cmd, e.g. \'["--port", "80"]\' (null clears).')
@click.option("--user", help="User (name or uid[:gid]).")
@click.option("--workdir", help="Working directory.")
@click.option("--expose", multiple=True, metavar="PORT[/PROTO]", help="Expose a port.")
@click.option("--expose-rm", multiple=True, metavar="PORT|all", help="Stop exposing a port.")
@click.option("--volume", multiple=True, metavar="PATH", help="Declare a volume.")
@click.option("--stop-signal", help="Stop signal, e.g. SIGTERM.")
@click.option("--created", metavar="TIME|now", help="Set the created time (RFC 3339).")
@click.option(
    "--layer-add",
    multiple=True,
    metavar="DIR|TAR[:DEST]",
    help="Add a layer from a directory or tar.",
)
@click.option("--layer-rm", multiple=True, type=int, metavar="N", help="Remove layer N (0-based).")
@click.option(
    "--layer-strip-file", multiple=True, metavar="PATH", help="Remove PATH from every layer."
)
@click.option(
    "--rebase",
    metavar="[[OLD_BASE,]NEW_BASE]",
    is_flag=False,
    flag_value="",
    help="Swap the base image's layers; without OLD_BASE the base the image records (image "
    "build records it), without NEW_BASE that base's current tag.",
)
@click.option("--to-oci", is_flag=True, help="Convert media types to OCI.")
@click.option("--to-docker", is_flag=True, help="Convert media types to Docker schema2.")
@click.option(
    "--reproducible", is_flag=True, help="Times from SOURCE_DATE_EPOCH (or 0), sorted tars."
)
@click.option(
    "--layer-compress",
    type=click.Choice(["gzip", "zstd", "none"]),
    help="Compression of new layers; existing layers are recompressed to it too.",
)
@format_option("text", "json")
@click.pass_context
def image_mod(
    ctx: click.Context,
    reference: str,
    create: str | None,
    replace: bool,
    platform: Platform | None,
    label: tuple[str, ...],
    label_rm: tuple[str, ...],
    annotation: tuple[str, ...],
    env: tuple[str, ...],
    env_rm: tuple[str, ...],
    entrypoint: str | None,
    cmd: str | None,
    user: str | None,
    workdir: str | None,
    expose: tuple[str, ...],
    expose_rm: tuple[str, ...],
    volume: tuple[str, ...],
    stop_signal: str | None,
    created: str | None,
    layer_add: tuple[str, ...],
    layer_rm: tuple[int, ...],
    layer_strip_file: tuple[str, ...],
    rebase: str | None,
    to_oci: bool,
    to_docker: bool,
    reproducible: bool,
    layer_compress: str | None,
    fmt: str,
) -> None:
    """Change REFERENCE (every platform unless --platform) and write it; prints the digest
    (with --format json: what was written where).

    Each change adds a history entry; diff_ids, sizes and digests stay right.
    """
    from hoist.authoring.mod import Changes, Rebase, image_mod
    from hoist.authoring.options import source_date_epoch

    if bool(create) == replace:
        raise click.UsageError("give exactly one of --create NEWREF and --replace")
    if to_oci and to_docker:
        raise InvalidInput("--to-oci and --to-docker are exclusive")
    src = get_location(ctx, reference)
    if replace and src.digest is not None and src.tag is None:
        raise click.UsageError("--replace needs a tag; use --create for a digest reference")
    dst = get_location(ctx, create) if create else src.with_tag(src.tag)
    rebase_spec = None
    if rebase is not None:
        old, sep, new = rebase.partition(",") if "," in rebase else ("", "", rebase)
        if sep and (not old or not new):
            raise click.BadParameter("want [[OLD_BASE,]NEW_BASE]", param_hint="--rebase")
        if not new:  # the recorded base's tag, now
            from hoist.cli.base_option import recorded_base_of

            new = recorded_base_of(src, reference)
        rebase_spec = Rebase(get_location(ctx, old) if old else None, get_location(ctx, new))
    entrypoint_list, entrypoint_rm = _json_list("entrypoint", entrypoint)
    cmd_list, cmd_rm = _json_list("cmd", cmd)
    changes = Changes(
        labels=_pairs(label, "--label"),
        labels_rm=label_rm,
        annotations=_pairs(annotation, "--annotation"),
        env=_pairs(env, "--env"),
        env_rm=env_rm,
        entrypoint=entrypoint_list,
        entrypoint_rm=entrypoint_rm,
        cmd=cmd_list,
        cmd_rm=cmd_rm,
        user=user,
        workdir=workdir,
        expose=expose,
        expose_rm=expose_rm,
        volumes=volume,
        stop_signal=stop_signal,
        created=created,
        layer_add=_layer_add(layer_add),
        layer_rm=layer_rm,
        layer_strip_file=layer_strip_file,
        rebase=rebase_spec,
        to_oci=to_oci,
        to_docker=to_docker,
        reproducible=reproducible,
        epoch=source_date_epoch() if reproducible else None,
        layer_compress=layer_compress,
    )
    desc = image_mod(src, dst, changes, platform=platform)
    if fmt == "json":
        emit_json({"source": str(src), "destination": str(dst), **desc.to_dict()})
        return
    click.echo(f"wrote {dst}", err=True)
    click.echo(str(desc.digest))
