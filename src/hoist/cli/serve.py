"""``hoist serve``: run an OCI registry (distribution-spec v1.1) on this machine.

``--root`` defaults to ``$XDG_DATA_HOME/hoist/registry`` (``~/.local/share/hoist/registry``),
so ``hoist serve`` and ``hoist serve gc`` find the same storage without arguments. The server
modules (and aiohttp) load only when a subcommand runs, so ``hoist --help`` stays light.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

DEFAULT_ADDR = "127.0.0.1:5000"


def default_root() -> Path:
    """``$XDG_DATA_HOME/hoist/registry``, else ``~/.local/share/hoist/registry``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "hoist" / "registry"


def parse_addr(
    ctx: click.Context | None, param: click.Parameter | None, value: str
) -> tuple[str, int]:
    """Click callback: ``HOST:PORT``, ``:PORT`` (all interfaces) or ``[IPv6]:PORT``."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"{value!r}: want HOST:PORT, e.g. {DEFAULT_ADDR}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port)


root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Storage directory [default: $XDG_DATA_HOME/hoist/registry].",
)


@click.group("serve", invoke_without_command=True)
@click.option(
    "--addr",
    default=DEFAULT_ADDR,
    show_default=True,
    callback=parse_addr,
    help="Address to listen on (HOST:PORT; port 0 picks a free one).",
)
@root_option
@click.option(
    "--htpasswd",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Require basic auth against this htpasswd file (bcrypt entries, htpasswd -B).",
)
@click.option(
    "--anonymous-read", is_flag=True, help="With --htpasswd: let anyone pull without logging in."
)
@click.option("--read-only", is_flag=True, help="Refuse every push and delete (405 UNSUPPORTED).")
@click.option(
    "--ui/--no-ui", default=True, show_default=True, help="Serve the read-only web view at /ui/."
)
@click.option("-q", "--quiet", is_flag=True, help="No request log.")
@click.pass_context
def serve(
    ctx: click.Context,
    addr: tuple[str, int],
    root: Path | None,
    htpasswd: Path | None,
    anonymous_read: bool,
    read_only: bool,
    ui: bool,
    quiet: bool,
) -> None:
    """Run an OCI registry serving the storage under --root until interrupted.

    \b
    Push and pull with any client (plain HTTP, so tell it the registry is insecure):
      hoist serve --addr 127.0.0.1:5000 --root ./registry
      skopeo copy --dest-tls-verify=false oci:./layout:v1 docker://127.0.0.1:5000/app:v1
    Remove what no tag reaches (with the server stopped or --read-only):
      hoist serve gc --root ./registry --dry-run
    """
    if ctx.invoked_subcommand is not None:
        return
    if anonymous_read and htpasswd is None:
        raise click.UsageError("--anonymous-read only makes sense with --htpasswd")
    from hoist.server.run import serve as run_server

    host, port = addr
    storage = root if root is not None else default_root()
    if not quiet:
        access = logging.getLogger("hoist.server.access")
        if not access.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False

    def ready(url: str) -> None:
        notes = [f"root {storage}"]
        if htpasswd is not None:
            notes.append("basic auth" + (", anonymous read" if anonymous_read else ""))
        if read_only:
            notes.append("read-only")
        if ui:
            notes.append(f"web view at {url}/ui/")
        click.echo(f"hoist serve: listening on {url} ({'; '.join(notes)})", err=True)

    run_server(
        storage,
        host,
        port,
        on_ready=ready,
        htpasswd=htpasswd,
        anonymous_read=anonymous_read,
        read_only=read_only,
        ui=ui,
    )


@serve.command("gc")
@root_option
@click.option("-n", "--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
def serve_gc(root: Path | None, dry_run: bool) -> None:
    """Remove manifests and blobs that no tag reaches.

    Untagged manifests survive while they are referrers (signatures, SBOMs...) of a kept
    manifest. Run it with the server stopped or --read-only.
    """
    from hoist.server.gc import gc

    result = gc(root if root is not None else default_root(), dry_run=dry_run)
    for line in result.lines():
        click.echo(line)
    click.echo(result.summary(), err=True)
