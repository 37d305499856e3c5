"""``hoist image``: an image's digest, config, layers and inspect view."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from hoist.cli.common import (
    LazyGroup,
    emit_bytes,
    emit_json,
    format_option,
    get_client,
    get_location,
    human_size,
    platform_option,
    platform_option_with,
    table,
)

if TYPE_CHECKING:
    from hoist.files import LayerDigests
    from hoist.image import Image
    from hoist.model.platform import Platform


_LAZY = {
    "copy": ("hoist.cli.image_copy", "image_copy"),
    "export": ("hoist.cli.image_copy", "image_export"),
    "import": ("hoist.cli.image_copy", "image_import"),
    "mod": ("hoist.cli.image_mod", "image_mod"),
    "tree": ("hoist.cli.image_insight", "image_tree"),
    "check-base": ("hoist.cli.image_insight", "image_check_base"),
    "diff": ("hoist.cli.image_insight", "image_diff"),
    "ls-files": ("hoist.cli.image_insight", "image_ls_files"),
    "get-file": ("hoist.cli.image_insight", "image_get_file"),
    "unpack": ("hoist.cli.image_insight", "image_unpack"),
    "verify": ("hoist.cli.image_insight", "image_verify"),
    "build": ("hoist.cli.image_build", "build"),
    "flatten": ("hoist.cli.image_flatten", "image_flatten"),
    "waste": ("hoist.cli.image_waste", "image_waste"),
}
"""The image commands kept in modules of their own, imported when used: ``hoist image copy``
does not load ``image mod``'s options."""


@click.group("image", cls=LazyGroup, lazy=_LAZY)
def image() -> None:
    """Inspect, copy, export, build and change images."""


def _image(ctx: click.Context, reference: str, platform: Platform | None) -> Image:
    return get_client(ctx).image(get_location(ctx, reference), platform=platform)


@image.command("digest")
@click.argument("reference")
@platform_option_with("That platform's manifest in an index (default: the digest REFERENCE names).")
@format_option("text", "json")
@click.pass_context
def image_digest(ctx: click.Context, reference: str, platform: Platform | None, fmt: str) -> None:
    """Print the digest REFERENCE names (with --platform: that platform's manifest)."""
    img = _image(ctx, reference, platform)
    desc = img.location.manifest_head() if platform is None else img.manifest.descriptor()
    if fmt == "json":
        emit_json(desc.to_dict())
    else:
        click.echo(str(desc.digest))


@image.command("config")
@click.argument("reference")
@platform_option
@click.pass_context
def image_config(ctx: click.Context, reference: str, platform: Platform | None) -> None:
    """Print the config blob exactly as stored."""
    emit_bytes(_image(ctx, reference, platform).config_bytes)


@image.command("ratelimit")
@click.argument("reference")
@format_option("text", "json")
@click.pass_context
def image_ratelimit(ctx: click.Context, reference: str, fmt: str) -> None:
    """Show Docker Hub's pull rate limit for REFERENCE (a HEAD request, not counted as a pull)."""
    from hoist.errors import Unsupported
    from hoist.model.reference import Reference
    from hoist.store.base import RateLimited

    location = get_location(ctx, reference)
    store, ref = location.store, location.ref
    if not isinstance(store, RateLimited) or not isinstance(ref, Reference):
        raise Unsupported(f"{ref} is not on a registry")
    info = store.ratelimit(ref)
    if fmt == "json":
        emit_json(info)
    elif info["limit"] is None:
        click.echo(f"{ref.name}: no rate limit reported")
    else:
        click.echo(table([(f"{k.capitalize()}:", v or "-") for k, v in info.items()]))


@image.command("inspect")
@click.argument("reference")
@platform_option
@click.option("--all-platforms", is_flag=True, help="Instead: every platform's sizes, and totals.")
@click.option("--unpacked", is_flag=True, help="With --all-platforms: unpacked sizes too.")
@format_option("text", "json")
@click.pass_context
def image_inspect(
    ctx: click.Context,
    reference: str,
    platform: Platform | None,
    all_platforms: bool,
    unpacked: bool,
    fmt: str,
) -> None:
    """Show an image like `docker image inspect`, straight from where it lives.

    --format json keeps Docker's keys (Id, RepoTags, RootFS, ...), as docker image inspect
    prints them; hoist's other JSON spells what OCI defines as OCI does (mediaType, digest).

    --all-platforms shows each platform's layers and compressed size instead, and the totals
    (a layer shared between platforms counted once); --unpacked adds unpacked sizes, reading
    each distinct layer once.
    """
    if all_platforms or unpacked:
        from hoist.cli.image_sizes import inspect_sizes

        return inspect_sizes(ctx, reference, platform, all_platforms, unpacked, fmt)
    img = _image(ctx, reference, platform)
    info = img.inspect()
    if fmt == "json":
        emit_json(info.to_dict())
        return
    conf = info.config
    platform_text = str(img.config.platform)
    rows: list[tuple[str, Any]] = [
        ("Name:", str(img.location)),
        ("Digest:", str(info.digest)),
        ("MediaType:", info.media_type),
        ("Id (config):", str(info.id)),
        ("Created:", info.created or "-"),
        ("Platform:", platform_text),
        ("Size:", human_size(info.size) + f" in {len(info.layers)} layers (compressed)"),
    ]
    if info.index is not None:
        rows.insert(1, ("Index:", f"{info.index.digest} ({info.index.media_type})"))
        others = [str(p) for p in info.index.platforms if str(p) != platform_text]
        rows.append(("Other platforms:", ", ".join(others) or "-"))
    for key in ("User", "WorkingDir", "Entrypoint", "Cmd", "StopSignal"):
        if conf.get(key):
            value = conf[key]
            rows.append((f"{key}:", value if isinstance(value, str) else json.dumps(value)))
    click.echo(table(rows))
    for key, title in (("Env", "Env"), ("Labels", "Labels"), ("ExposedPorts", "Exposed ports")):
        values = conf.get(key)
        if values:
            click.echo(f"{title}:")
            items = values.items() if isinstance(values, dict) and key == "Labels" else None
            if items is not None:
                for k, v in items:
                    click.echo(f"  {k}={v}")
            else:
                for v in values:
                    click.echo(f"  {v}")
    click.echo("RootFS (diff_ids):")
    for d in info.diff_ids:
        click.echo(f"  {d}")


def _short(value: str, full: bool) -> str:
    if full or ":" not in value:
        return value
    alg, _, hexpart = value.partition(":")
    return f"{alg}:{hexpart[:12]}"


@image.command("layers")
@click.argument("reference")
@platform_option
@click.option("--no-trunc", is_flag=True, help="Show full digests and commands.")
@click.option("--diff-ids", is_flag=True, help="Decompress each layer to compute its diff_id.")
@format_option("text", "json")
@click.pass_context
def image_layers(
    ctx: click.Context,
    reference: str,
    platform: Platform | None,
    no_trunc: bool,
    diff_ids: bool,
    fmt: str,
) -> None:
    """List the layers with their history step; config-only steps appear between them.

    Each layer has two digests: DIGEST is the sha256 of the compressed blob (what the manifest
    and registry use), DIFF_ID that of the uncompressed tar (what the config's rootfs lists).
    """
    img = _image(ctx, reference, platform)
    rows = img.layer_rows()
    computed: dict[int, LayerDigests] = {}
    if diff_ids:  # stream each layer once: its digest verified, its diff_id computed
        from hoist.files import layer_digests

        for r in rows:
            if r.index is not None and r.layer is not None:
                computed[r.index] = layer_digests(img, r.index)
    if fmt == "json":
        out_rows = []
        for r in rows:
            row = r.to_dict()
            got = computed.get(r.index) if r.index is not None else None
            if got is not None:
                row.update(computed_diff_id=str(got.diff_id), diff_id_match=got.ok)
            out_rows.append(row)
        emit_json(out_rows)
        return
    out: list[tuple[Any, ...]] = []
    for r in rows:
        created_by = r.created_by or ""
        if not no_trunc and len(created_by) > 60:
            created_by = created_by[:57] + "..."
        if r.index is None:
            out.append(("-", "(config only)", "", "", "", created_by))
        else:
            media_type = r.media_type or ""
            out.append(
                (
                    r.index,
                    _short(str(r.digest) if r.digest else "?", no_trunc),
                    media_type if no_trunc else media_type.rsplit(".", 1)[-1],
                    human_size(r.size or 0),
                    _short(str(r.diff_id) if r.diff_id else "?", no_trunc),
                    created_by,
                )
            )
        if diff_ids and r.index is not None:
            got = computed.get(r.index)
            mark = "ok" if got is not None and got.ok else "MISMATCH"
            shown = _short(str(got.diff_id), no_trunc) if got is not None else "?"
            out[-1] = (*out[-1][:5], f"{shown} {mark}", *out[-1][5:])
        elif diff_ids:
            out[-1] = (*out[-1][:5], "", *out[-1][5:])
    headers = ["#", "DIGEST", "TYPE", "SIZE", "DIFF_ID", "CREATED BY"]
    if diff_ids:
        headers.insert(5, "COMPUTED")
    click.echo(table(out, headers))
