"""``hoist image``: an image's digest, config, layers and inspect view."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from hoist.cli.common import (
    emit_bytes,
    emit_json,
    format_option,
    get_client,
    human_size,
    platform_option,
    table,
)

if TYPE_CHECKING:
    from hoist.image import Image
    from hoist.model.platform import Platform


@click.group("image")
def image() -> None:
    """Inspect, copy, export, build and change images."""


def _image(ctx: click.Context, reference: str, platform: Platform | None) -> Image:
    return get_client(ctx).image(reference, platform=platform)


@image.command("digest")
@click.argument("reference")
@platform_option
@format_option("text", "json")
@click.pass_context
def image_digest(ctx: click.Context, reference: str, platform: Platform | None, fmt: str) -> None:
    """Print the digest REFERENCE names (with --platform: that platform's manifest)."""
    img = _image(ctx, reference, platform)
    desc = img.store.manifest_head(img.ref) if platform is None else img.manifest.descriptor()
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

    client = get_client(ctx)
    ref = client.ref(reference)
    store = client.store(ref)
    check = getattr(store, "ratelimit", None)
    if check is None:
        raise Unsupported(f"{ref} is not on a registry")
    info = check(ref)
    if fmt == "json":
        emit_json(info)
    elif info["limit"] is None:
        click.echo(f"{ref.name}: no rate limit reported")
    else:
        click.echo(table([(f"{k.capitalize()}:", v or "-") for k, v in info.items()]))


@image.command("inspect")
@click.argument("reference")
@platform_option
@format_option("text", "json")
@click.pass_context
def image_inspect(ctx: click.Context, reference: str, platform: Platform | None, fmt: str) -> None:
    """Show an image like `docker image inspect`, straight from where it lives."""
    img = _image(ctx, reference, platform)
    data = img.inspect()
    if fmt == "json":
        emit_json(data)
        return
    conf = data["Config"]
    rows: list[tuple[str, Any]] = [
        ("Name:", str(img.ref)),
        ("Digest:", data["Digest"]),
        ("MediaType:", data["MediaType"]),
        ("Id (config):", data["Id"]),
        ("Created:", data["Created"] or "-"),
        ("Platform:", str(img.config.platform)),
        ("Size:", human_size(data["Size"]) + f" in {len(data['Layers'])} layers (compressed)"),
    ]
    if img.index is not None:
        rows.insert(1, ("Index:", f"{img.index.digest} ({img.index.media_type})"))
        others = [p for p in data["Index"]["Platforms"] if p != str(img.config.platform)]
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
    for d in data["RootFS"]["Layers"]:
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
    if diff_ids:  # stream each layer once: its digest verified, its diff_id computed
        from hoist.files import layer_digests

        for r in (r for r in rows if r["index"] is not None and r["index"] < len(img.layers)):
            computed = layer_digests(img, r["index"])
            r.update(computed_diff_id=str(computed.diff_id), diff_id_match=computed.ok)
    if fmt == "json":
        emit_json(rows)
        return
    out: list[tuple[Any, ...]] = []
    for r in rows:
        created_by = r.get("created_by") or ""
        if not no_trunc and len(created_by) > 60:
            created_by = created_by[:57] + "..."
        if r["index"] is None:
            out.append(("-", "(config only)", "", "", "", created_by))
        else:
            out.append(
                (
                    r["index"],
                    _short(r.get("digest", "?"), no_trunc),
                    r.get("media_type", "").rsplit(".", 1)[-1]
                    if not no_trunc
                    else r.get("media_type"),
                    human_size(r.get("size", 0)),
                    _short(r.get("diff_id") or "?", no_trunc),
                    created_by,
                )
            )
        if diff_ids and r["index"] is not None:
            mark = "ok" if r.get("diff_id_match") else "MISMATCH"
            shown = _short(r["computed_diff_id"], no_trunc) if "computed_diff_id" in r else "?"
            out[-1] = (*out[-1][:5], f"{shown} {mark}", *out[-1][5:])
        elif diff_ids:
            out[-1] = (*out[-1][:5], "", *out[-1][5:])
    headers = ["#", "DIGEST", "TYPE", "SIZE", "DIFF_ID", "CREATED BY"]
    if diff_ids:
        headers.insert(5, "COMPUTED")
    click.echo(table(out, headers))


from hoist.cli.image_copy import COMMANDS as _MOVES  # noqa: E402

for _command in _MOVES:
    image.add_command(_command)

from hoist.cli.image_mod import COMMANDS as _MOD  # noqa: E402

for _command in _MOD:
    image.add_command(_command)


from hoist.cli.image_insight import COMMANDS as _INSIGHT  # noqa: E402

for _command in _INSIGHT:
    image.add_command(_command)

from hoist.cli.image_build import COMMANDS as _BUILD  # noqa: E402

for _command in _BUILD:
    image.add_command(_command)
