"""``hoist demo``: what an image is, shown on a registry hoist runs itself.

The main job on the embedded default: start ``hoist serve`` on a free loopback port with a
temporary root, build two sample images with hoist's own library, push them, and walk through
the index, a manifest and its digest, the config, the layers and their two digests, the layer
the images share, then a copy and a retag that move no layers. No internet is needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console


@click.command("demo")
@click.option(
    "--keep", is_flag=True, help="Keep the registry and its web view running until Ctrl-C."
)
@click.option(
    "--layout",
    type=click.Path(file_okay=False),
    help="Also copy the sample images into this OCI layout, to explore after the demo.",
)
def demo(keep: bool, layout: str | None) -> None:
    """Run a registry, push sample images and walk through what an image is."""
    import sys

    from rich.console import Console

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 110)
    with tempfile.TemporaryDirectory(prefix="hoist-demo-") as tmp:
        _run(console, Path(tmp), keep, layout)


def _step(console: Console, n: int, title: str, command: str, note: str = "") -> None:
    from rich.rule import Rule

    console.print()
    console.print(Rule(f"[bold]{n}. {title}", align="left", style="cyan"))
    if note:
        console.print(note, style="dim")
    console.print(f"$ {command}", style="bold green", soft_wrap=True)  # one line to paste


def _run(console: Console, tmp: Path, keep: bool, layout: str | None) -> None:
    from rich.panel import Panel

    from hoist.server.run import ServerThread

    with ServerThread(tmp / "registry", ui=True) as server:
        console.print(
            Panel.fit(
                f"[bold]hoist demo[/]: a registry of our own at [cyan]{server.url}[/] "
                f"(hoist serve, root {tmp / 'registry'})\n"
                "Two sample images are built with hoist's library and pushed to it: a "
                "two-platform [bold]base[/] and an [bold]app[/] built on it.",
                border_style="cyan",
            )
        )
        _walk(console, server.host, layout)
        ui = f"{server.url}/ui/"
        if keep:
            console.print(f"\nBrowse the images in the web view: [bold cyan]{ui}[/] (Ctrl-C stops)")
            _wait_for_stop()
        else:
            console.print(f"\nThe web view was at {ui}: hoist demo --keep keeps it up to browse.")
    console.print("\nStopped the registry and removed its files.", style="dim")


def _wait_for_stop() -> None:
    """Sleep until Ctrl-C or SIGTERM, as ``hoist serve`` does: also when started with SIGINT
    ignored (a background job of a shell without job control), where Python would never raise
    KeyboardInterrupt; the caller then stops the registry and removes its files."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def _walk(console: Console, host: str, layout: str | None) -> None:
    from rich.syntax import Syntax
    from rich.table import Table

    from hoist.cli.common import human_size
    from hoist.config.settings import RegistrySettings
    from hoist.copy import image_copy
    from hoist.files import layer_digests
    from hoist.image import Image
    from hoist.location import Location
    from hoist.model.manifest import Index
    from hoist.model.platform import Platform
    from hoist.model.reference import Reference
    from hoist.store.registry import RegistryStore
    from hoist.testing.sample import write_samples

    store = RegistryStore(credentials=None, settings={host: RegistrySettings(tls="disabled")})
    base_ref = Reference(host, "demo/base", "v1")
    app_ref = Reference(host, "demo/app", "v1")
    base_at, app_at = Location(store, base_ref), Location(store, app_ref)
    try:
        write_samples(store, base_ref, app_ref)

        _step(
            console,
            1,
            "The base image is an index: one manifest per platform",
            f"hoist manifest get {base_ref} --format text",
        )
        index = base_at.manifest_get()
        assert isinstance(index, Index)
        table = Table("platform", "manifest digest", "size", box=None)
        for d in index.manifests:
            table.add_row(str(d.platform), str(d.digest), f"{d.size} B")
        console.print(table)

        amd64 = Image(base_at, platform=Platform("linux", "amd64"))
        m = amd64.manifest
        _step(
            console,
            2,
            "A platform's manifest: a config and layers, by descriptor",
            f"hoist manifest get {base_ref} --platform linux/amd64",
        )
        console.print(
            Syntax(json.dumps(m.json(), indent=2), "json", theme="ansi_dark", word_wrap=True)
        )
        _step(
            console,
            3,
            "Its digest is the sha256 of its exact bytes",
            f"hoist manifest get {base_ref.by_digest(m.digest)} --format raw | sha256sum",
        )
        console.print(f"{hashlib.sha256(m.raw).hexdigest()}  -")
        console.print(f"the index names it as {m.digest}", style="dim")

        _step(
            console,
            4,
            "The config: defaults for containers, the diff_ids and the history",
            f"hoist image config {base_ref} --platform linux/amd64",
        )
        config = json.loads(amd64.config_bytes)
        shown = {k: config[k] for k in ("architecture", "os", "config", "rootfs", "history")}
        console.print(
            Syntax(json.dumps(shown, indent=2), "json", theme="ansi_dark", word_wrap=True)
        )

        app = Image(app_at)
        _step(
            console,
            5,
            "The app image: COPY made layers; LABEL, ENV, EXPOSE, CMD only config",
            f"hoist image layers {app_ref}",
        )
        table = Table("#", "layer digest", "size", "history step", box=None)
        for row in app.layer_rows():
            by = row.created_by or ""
            if row.index is None:
                table.add_row("-", "[dim](config only)[/]", "", f"[dim]{by}[/]")
            else:
                digest = str(row.digest) if row.digest else "?"
                table.add_row(str(row.index), digest[:19], human_size(row.size or 0), by)
        console.print(table)

        _step(
            console,
            6,
            "Two digests per layer: the compressed blob's and the tar's",
            f"hoist blob get {app_ref} {app.layers[0].digest} | gunzip | sha256sum",
        )
        table = Table(
            "#", "blob digest (manifest)", "diff_id (config)", "gunzip | sha256", box=None
        )
        for i in range(len(app.layers)):
            digests = layer_digests(app, i)
            same = "[green]= diff_id[/]" if digests.ok else "[red]differs"
            expected = str(digests.expected_diff_id)[:19]
            table.add_row(str(i), str(digests.digest)[:19], expected, same)
        console.print(table)

        _step(
            console,
            7,
            "Shared layers: the app's first layer is the base's, stored once",
            f"hoist image layers {base_ref} --platform linux/amd64",
        )
        shared = [d for d in app.layers if d in set(amd64.layers)]
        for d in shared:
            console.print(f"[bold]{d.digest}[/] in demo/base (linux/amd64) and demo/app")

        _step(
            console,
            8,
            "Copy on the registry: blobs are mounted, not moved",
            f"hoist image copy {base_ref} {host}/mirror/base:v1",
        )
        result = image_copy(base_at, Location(store, Reference(host, "mirror/base", "v1")))
        console.print(
            f"{len(result.mounted)} blobs mounted, {len(result.copied)} uploaded "
            f"({result.bytes_copied} bytes); digest kept: {result.descriptor.digest}"
        )

        _step(
            console,
            9,
            "Retag: one manifest PUT, no layers copied",
            f"hoist tag add {app_ref} stable",
        )
        app_at.with_tag("stable").manifest_put(app.top)
        tags = app_at.tag_list()
        console.print(f"demo/app tags: {', '.join(tags)} -> both {app.top.digest}")
        if layout:
            from hoist.model.reference import LayoutReference
            from hoist.store.ocidir import OCIDirStore
            from hoist.testing.sample import DEMO_TAGS, write_demo_layout

            target = LayoutReference("ocidir", str(Path(layout).resolve()), None)
            layout_store = OCIDirStore()
            for src, name in ((base_at, "base"), (app_at, "app")):
                image_copy(src, Location(layout_store, target.with_tag(name)))
            more = [t for t in DEMO_TAGS if t not in ("base", "app")]
            write_demo_layout(layout_store, target, more)  # what the README's examples use
            console.print(f"\nThe images are in {target} too (tags {', '.join(DEMO_TAGS)}): try")
            console.print(
                f"$ hoist image inspect {target.with_tag('app')}",
                style="bold green",
                soft_wrap=True,
            )
    finally:
        store.close()
