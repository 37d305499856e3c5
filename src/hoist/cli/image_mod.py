"""``hoist image mod``: change an image straight where it lives."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from hoist.cli.common import get_client, platform_option

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
        out.append((Path(path), dest))
    return tuple(out)


@click.command("mod")
@click.argument("reference")
@click.option("--create", "create", metavar="NEWREF", help="Write the result to NEWREF.")
@click.option("--replace", is_flag=True, help="Write the result back to REFERENCE's tag.")
@platform_option
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
@click.option("--rebase", metavar="OLD_BASE,NEW_BASE", help="Swap the base image's layers.")
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
) -> None:
    """Change REFERENCE (every platform unless --platform) and write it; prints the digest.

    Each change adds a history entry; diff_ids, sizes and digests stay right.
    """
    from hoist.authoring.mod import Changes, Rebase, mod_image
    from hoist.authoring.options import source_date_epoch

    if bool(create) == replace:
        raise click.UsageError("give exactly one of --create NEWREF and --replace")
    client = get_client(ctx)
    ref = client.ref(reference)
    if replace and ref.digest is not None and ref.tag is None:
        raise click.UsageError("--replace needs a tag; use --create for a digest reference")
    target = client.ref(create) if create else ref.with_tag(ref.tag)
    rebase_spec = None
    if rebase:
        old, sep, new = rebase.partition(",")
        if not sep or not old or not new:
            raise click.BadParameter("want OLD_BASE,NEW_BASE", param_hint="--rebase")
        old_ref, new_ref = client.ref(old), client.ref(new)
        rebase_spec = Rebase(client.store(old_ref), old_ref, client.store(new_ref), new_ref)
    changes = Changes(
        labels=_pairs(label, "--label"),
        labels_rm=label_rm,
        annotations=_pairs(annotation, "--annotation"),
        env=_pairs(env, "--env"),
        env_rm=env_rm,
        entrypoint=entrypoint,
        cmd=cmd,
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
    desc = mod_image(
        client.store(ref), ref, client.store(target), target, changes, platform=platform
    )
    click.echo(f"wrote {target}", err=True)
    click.echo(str(desc.digest))


COMMANDS = [image_mod]
