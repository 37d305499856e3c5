"""``hoist registry``: logins and per-registry settings."""

from __future__ import annotations

import sys

import click

from hoist.cli.common import emit_json, format_option, table


@click.group("registry")
def registry() -> None:
    """Log in and out of registries; set how to reach them."""


@registry.command("login")
@click.argument("host")
@click.option("-u", "--username", help="User name (asked for when missing).")
@click.option("-p", "--password", help="Password (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def registry_login(
    host: str, username: str | None, password: str | None, password_stdin: bool
) -> None:
    """Verify a login to HOST and store it in Docker's config (or its credential helper)."""
    from hoist.config.credentials import Credentials, CredentialStore
    from hoist.store.registry import registry_login_check

    if password_stdin:
        if password:
            raise click.UsageError("--password and --password-stdin are exclusive")
        password = sys.stdin.readline().rstrip("\r\n")
    if not username:
        username = click.prompt("Username")
    if not password:
        password = click.prompt("Password", hide_input=True)
    creds = Credentials(username or "", password or "")
    registry_login_check(host, creds)
    CredentialStore().store(host, creds)
    click.echo(f"Login succeeded: {host}", err=True)


@registry.command("logout")
@click.argument("host")
def registry_logout(host: str) -> None:
    """Remove the stored login for HOST."""
    from hoist.config.credentials import CredentialStore

    CredentialStore().erase(host)
    click.echo(f"Removed login for {host}", err=True)


@registry.command("set")
@click.argument("host")
@click.option(
    "--tls",
    type=click.Choice(["enabled", "insecure", "disabled"]),
    help="enabled: verified TLS; insecure: TLS without verification; disabled: plain HTTP.",
)
@click.option("--ca", "ca_file", type=click.Path(exists=True, dir_okay=False), help="CA file.")
def registry_set(host: str, tls: str | None, ca_file: str | None) -> None:
    """Set how hoist reaches HOST (saved in hoist's config file)."""
    from dataclasses import replace
    from pathlib import Path

    from hoist.config.settings import config_path, load_config, set_registry

    current = load_config().registry(host)
    changes: dict[str, object] = {}
    if tls is not None:
        changes["tls"] = tls
    if ca_file is not None:
        changes["ca_file"] = str(Path(ca_file).resolve())
    set_registry(host, replace(current, **changes))  # type: ignore[arg-type]
    click.echo(f"saved {host} in {config_path()}", err=True)


@registry.command("config")
@click.argument("host", required=False)
@format_option("text", "json")
def registry_config(host: str | None, fmt: str) -> None:
    """Show hoist's per-registry settings (all, or HOST's)."""
    from hoist.config.settings import config_path, load_config

    config = load_config()
    data = config.to_json().get("registries", {})
    if host is not None:
        data = {host: config.registry(host).to_json()}
    if fmt == "json":
        emit_json(data)
        return
    click.echo(f"config file: {config_path()}")
    rows = [(h, s.get("tls", "enabled"), s.get("ca_file") or "-") for h, s in data.items()]
    if rows:
        click.echo(table(rows, ["REGISTRY", "TLS", "CA"]))
