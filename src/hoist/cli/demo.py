"""``hoist demo``: what an image is, shown on sample images hoist makes itself."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import click

from hoist.cli.common import human_size, table


def _section(title: str) -> None:
    click.echo()
    click.secho(f"== {title}", bold=True)


def _cmd(text: str) -> None:
    click.secho(f"$ {text}", fg="cyan")


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Keep the sample OCI layout here (default: a temporary directory, removed after).",
)
def demo(directory: str | None) -> None:
    """Build sample images into an OCI layout and walk through what an image is."""
    if directory:
        _run(Path(directory))
        return
    with tempfile.TemporaryDirectory(prefix="hoist-demo-") as tmp:
        _run(Path(tmp) / "layout")


def _run(root: Path) -> None:
    from hoist.client import Client
    from hoist.model.platform import Platform
    from hoist.model.reference import LayoutReference
    from hoist.sample import write_samples

    base_ref = LayoutReference("ocidir", str(root), "base", None)
    app_ref = LayoutReference("ocidir", str(root), "app", None)
    with Client() as client:
        store = client.store(base_ref)
        write_samples(store, base_ref, app_ref)
        _section(f"An OCI layout with two sample images: {root}")
        click.echo("tags: " + ", ".join(store.tag_list(base_ref)))

        _section("The base image is an index: one manifest per platform")
        _cmd(f"hoist manifest get {base_ref} --format text")
        index = store.manifest_get(base_ref)
        rows = [(str(d.platform), str(d.digest)) for d in getattr(index, "manifests", ())]
        click.echo(table(rows, ["PLATFORM", "MANIFEST DIGEST"]))

        amd64 = client.image(base_ref, platform=Platform("linux", "amd64"))
        m = amd64.manifest
        _section("A platform's manifest: its digest is the sha256 of its exact bytes")
        _cmd(f"hoist manifest get {base_ref.by_digest(m.digest)} --format raw | sha256sum")
        click.echo(f"{hashlib.sha256(m.raw).hexdigest()}  -")
        click.echo(f"digest in the index:  {m.digest}")

        _section("The config: defaults for containers, the diff_ids and the history")
        cfg = amd64.config
        click.echo(
            table(
                [
                    ("Id (config digest):", str(cfg.digest)),
                    ("Platform:", str(cfg.platform)),
                    ("Cmd:", json.dumps(list(cfg.config.cmd or ()))),
                    ("diff_ids:", ", ".join(str(d) for d in cfg.diff_ids)),
                ]
            )
        )

        app = client.image(app_ref)
        _section("The app image: each COPY made a layer; ENV, EXPOSE, ENTRYPOINT only the config")
        _cmd(f"hoist image layers {app_ref}")
        rows2: list[tuple[object, ...]] = []
        for step, idx in app.config.layer_history():
            by = step.created_by if step else ""
            if idx is None:
                rows2.append(("-", "(config only)", "", by))
            else:
                d = app.layers[idx]
                short = f"{d.digest.algorithm}:{d.digest.short}"
                rows2.append((idx, short, human_size(d.size), by))
        click.echo(table(rows2, ["#", "DIGEST", "SIZE", "CREATED BY"]))

        _section("Two digests per layer: compressed blob (manifest) vs uncompressed tar (config)")
        layer = app.layers[0]
        click.echo(f"blob digest (manifest):   {layer.digest}")
        click.echo(f"diff_id (config rootfs):  {app.config.diff_ids[0]}")

        _section("Shared layers: the app's first layer is the base's layer, stored once")
        shared = set(app.layers) & set(amd64.layers)
        for d in sorted(shared, key=str):
            click.echo(f"shared: {d.digest}  ({human_size(d.size)})")
        blobs = sum(1 for p in (root / "blobs" / "sha256").iterdir())
        click.echo(f"blobs stored in the layout: {blobs}")
