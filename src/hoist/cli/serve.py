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
@click.option(
    "--max-uploads",
    type=click.IntRange(min=0),
    default=64,
    show_default=True,
    help="Blob bodies received at once; beyond it one stalled for 5 s is dropped to make room, "
    "else 429 TOOMANYREQUESTS (Retry-After).",
)
@click.option(
    "--max-sessions",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Upload sessions open at once; beyond it idle ones (24 h) are purged, else 429.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Close a connection that has no request in progress for this long.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Drop a client whose request body sends nothing for this long.",
)
@click.option(
    "--max-header-size",
    type=click.IntRange(min=1024, max=1 << 20),
    default=8190,
    show_default=True,
    metavar="BYTES",
    help="Longest request line and header field.",
)
@click.option(
    "--max-manifest-size",
    type=click.IntRange(min=1, max=4 << 20),
    default=4 << 20,
    show_default=True,
    metavar="BYTES",
    help="Largest manifest accepted (413 beyond).",
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
    max_uploads: int,
    max_sessions: int,
    idle_timeout: float,
    body_timeout: float,
    max_header_size: int,
    max_manifest_size: int,
    quiet: bool,
) -> None:
    """Run an OCI registry serving the storage under --root until interrupted.

    \b
    Push and pull with any client (plain HTTP, so tell it the registry is insecure):
      hoist serve --addr 127.0.0.1:5000 --root ./registry
      skopeo copy --dest-tls-verify=false oci:./layout:v1 docker://127.0.0.1:5000/app:v1
    Remove what no tag reaches (what was pushed in the last hour stays):
      hoist serve gc --root ./registry --dry-run
    Find stored files that do not match their digest (exit status 3 if any):
      hoist serve verify --root ./registry
    """
    if ctx.invoked_subcommand is not None:
        return
    if anonymous_read and htpasswd is None:
        raise click.UsageError("--anonymous-read only makes sense with --htpasswd")
    from hoist.server.run import serve as run_server
    from hoist.server.settings import ServerSettings

    try:
        settings = ServerSettings(
            htpasswd=htpasswd,
            anonymous_read=anonymous_read,
            read_only=read_only,
            ui=ui,
            max_uploads=max_uploads,
            max_sessions=max_sessions,
            idle_timeout=idle_timeout,
            body_timeout=body_timeout,
            max_header_size=max_header_size,
            max_manifest_size=max_manifest_size,
        )
    except (TypeError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
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
        settings=settings,
    )


@serve.command("gc")
@root_option
@click.option("-n", "--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    metavar="SECONDS",
    help="Keep whatever was pushed this recently (pushes in progress); 0: remove it too.",
)
def serve_gc(root: Path | None, dry_run: bool, grace: float) -> None:
    """Remove manifests and blobs that no tag reaches.

    Untagged manifests survive while they are referrers (signatures, SBOMs...) of a kept
    manifest, and so does what was pushed in the last --grace seconds, so gc may run beside
    a serving registry; with --grace 0, run it with the server stopped or --read-only.
    """
    from hoist.server.gc import gc

    result = gc(root if root is not None else default_root(), dry_run=dry_run, grace=grace)
    for line in result.lines():
        click.echo(line)
    click.echo(result.summary(), err=True)


@serve.command("verify")
@root_option
def serve_verify(root: Path | None) -> None:
    """Hash every stored blob and name those that do not match their digest.

    Exit status 0 when all match, 3 when some do not. A running server never serves such a
    file (it hashes a file it did not store itself before serving it) and replaces it when
    the blob is pushed again.
    """
    from hoist.server.verify import verify

    result = verify(root if root is not None else default_root())
    for line in result.lines():
        click.echo(line)
    click.echo(result.summary(), err=True)
    if result.corrupt:
        raise click.exceptions.Exit(3)
