"""``hoist registry``: logins and per-registry settings."""

from __future__ import annotations

import sys
from typing import Any

import click

from hoist.cli.common import emit_json, format_option, get_client, read_secret, table


def _said(fmt: str, text: str, **data: Any) -> None:
    """What a registry command did: a line on stderr, or JSON on stdout."""
    if fmt == "json":
        emit_json(data)
    else:
        click.echo(text, err=True)


@click.group("registry")
def registry() -> None:
    """Log in and out of registries; set how to reach them."""


def _api_host(host: str) -> str:
    from hoist.model.reference import Reference

    return Reference(host.rstrip("/"), "x").api_host


@registry.command("login")
@click.argument("host")
@click.option("-u", "--username", help="User name (asked for when missing).")
@click.option("-p", "--password", help="Password (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@format_option("text", "json")
@click.pass_context
def registry_login(
    ctx: click.Context,
    host: str,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    fmt: str,
) -> None:
    """Verify a login to HOST and store it: in Docker's config.json (or its credential helper),
    or in --authfile / $REGISTRY_AUTH_FILE when given. A registry that needs no login is said to,
    and nothing is stored."""
    from hoist.cli.common import hide_from_process_list
    from hoist.client import Client
    from hoist.config.credentials import Credentials, login_store
    from hoist.model.reference import Reference
    from hoist.store.registry import RegistryStore

    if password:
        hide_from_process_list(password)
    if password_stdin and password:
        raise click.UsageError("--password and --password-stdin are exclusive")
    api_host = _api_host(host)
    client = get_client(ctx)
    probe = client.store(Reference(host.rstrip("/"), "x"))
    if isinstance(probe, RegistryStore) and not probe.transport.needs_login(api_host):
        _said(fmt, f"{host} needs no login: nothing stored", host=host, stored=False)
        return
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if not username:
        if not sys.stdin.isatty() or password_stdin:
            raise click.UsageError("no user name: give -u USER")
        username = click.prompt("Username", err=True)
    if not password:
        password = read_secret("Password")
        if password is None:
            raise click.UsageError("no password and no terminal to ask on: use --password-stdin")
    creds = Credentials(username or "", password or "")
    net = ctx.find_root().ensure_object(dict).get("net", {})
    options: dict[str, Any] = {"tls": net.get("tls"), "proxy": net.get("proxy")}
    if net.get("retries") is not None:
        options["retries"] = net["retries"]
    if net.get("timeout") is not None:
        options["connect_timeout"] = options["read_timeout"] = net["timeout"]
    with Client(login={api_host: creds}, **options) as checker:
        store = checker.store(Reference(host.rstrip("/"), "x"))
        assert isinstance(store, RegistryStore)
        store.transport.request("GET", api_host, "/v2/", expect=(200,))
    saved = login_store(net.get("authfile"))
    saved.store(host, creds)
    message = f"Login succeeded: {host} (saved in {saved.path})"
    _said(fmt, message, host=host, stored=True, saved_in=str(saved.path))


@registry.command("logout")
@click.argument("host")
@click.option("--authfile", metavar="FILE", envvar="REGISTRY_AUTH_FILE", help="auth.json to edit.")
@format_option("text", "json")
def registry_logout(host: str, authfile: str | None, fmt: str) -> None:
    """Remove the stored login for HOST."""
    from hoist.config.credentials import login_store

    login_store(authfile).erase(host)
    _said(fmt, f"Removed login for {host}", host=host, removed=True)


def _file(value: str | None) -> str | None:
    from pathlib import Path

    return None if value is None else str(Path(value).resolve())


_EXISTING = click.Path(exists=True, dir_okay=False)


@registry.command("set")
@click.argument("host")
@click.option(
    "--tls",
    type=click.Choice(["enabled", "insecure", "disabled"]),
    help="enabled: verified TLS; insecure: TLS without verification; disabled: plain HTTP.",
)
@click.option("--ca", "ca_file", type=_EXISTING, help="CA file, trusted instead of the system's.")
@click.option("--client-cert", type=_EXISTING, help="Client certificate (PEM) for mTLS.")
@click.option("--client-key", type=_EXISTING, help="Its private key (PEM, unencrypted).")
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="HOST[/PREFIX]",
    help="A mirror that reads try first (repeat for several).",
)
@click.option(
    "--priority", type=int, default=0, show_default=True, help="Of the --mirror given here."
)
@click.option(
    "--req-per-sec", type=click.FloatRange(min=0, min_open=True), help="Requests a second."
)
@click.option("--req-concurrent", type=click.IntRange(min=1), help="Requests in flight at once.")
@click.option("--proxy", metavar="URL", help="The proxy for HOST ('direct': none).")
@format_option("text", "json")
def registry_set(
    host: str,
    tls: str | None,
    ca_file: str | None,
    client_cert: str | None,
    client_key: str | None,
    mirrors: tuple[str, ...],
    priority: int,
    req_per_sec: float | None,
    req_concurrent: int | None,
    proxy: str | None,
    fmt: str,
) -> None:
    """Set how hoist reaches HOST (saved in hoist's config file; 'registry unset' undoes)."""
    from dataclasses import replace

    from hoist.config.settings import Mirror, config_path, load_config, set_registry

    current = load_config().registry(host)
    changes: dict[str, Any] = {}
    if tls is not None:
        changes["tls"] = tls
    if ca_file is not None:
        changes["ca_file"] = _file(ca_file)
    if client_cert is not None:
        changes["client_cert"] = _file(client_cert)
        changes["client_key"] = _file(client_key)
    elif client_key is not None:
        if current.client_cert is None:
            raise click.UsageError("--client-key needs --client-cert")
        changes["client_key"] = _file(client_key)
    if req_per_sec is not None:
        changes["req_per_sec"] = req_per_sec
    if req_concurrent is not None:
        changes["req_concurrent"] = req_concurrent
    if proxy is not None:
        changes["proxy"] = proxy
    updated = replace(current, **changes)
    for location in mirrors:
        updated = updated.with_mirror(Mirror(location, priority))
    set_registry(host, updated)
    saved = str(config_path())
    _said(fmt, f"saved {host} in {saved}", host=host, saved_in=saved, settings=updated.to_json())


@registry.command("unset")
@click.argument("host")
@click.option("--tls", is_flag=True, help="Back to verified TLS.")
@click.option("--ca", "ca_file", is_flag=True, help="Forget the CA file.")
@click.option("--client-cert", is_flag=True, help="Forget the client certificate and key.")
@click.option("--client-key", is_flag=True, help="Forget the client key (kept with the cert).")
@click.option("--mirror", "mirrors", multiple=True, metavar="HOST[/PREFIX]", help="Drop it.")
@click.option("--mirrors", "all_mirrors", is_flag=True, help="Drop every mirror.")
@click.option("--req-per-sec", is_flag=True, help="No request rate limit.")
@click.option("--req-concurrent", is_flag=True, help="No limit on requests in flight.")
@click.option("--proxy", is_flag=True, help="Back to HTTPS_PROXY/HTTP_PROXY.")
@format_option("text", "json")
def registry_unset(
    host: str,
    tls: bool,
    ca_file: bool,
    client_cert: bool,
    client_key: bool,
    mirrors: tuple[str, ...],
    all_mirrors: bool,
    req_per_sec: bool,
    req_concurrent: bool,
    proxy: bool,
    fmt: str,
) -> None:
    """Undo settings of HOST: the ones named, or every one when none is named."""
    from dataclasses import replace

    from hoist.config.settings import config_path, load_config, set_registry, unset_registry

    chosen = [tls, ca_file, client_cert, client_key, all_mirrors, req_per_sec, req_concurrent]
    if not (any(chosen) or proxy or mirrors):
        unset_registry(host)
        saved = str(config_path())
        _said(fmt, f"removed every setting of {host} from {saved}", host=host, saved_in=saved)
        return
    updated = load_config().registry(host)
    changes: dict[str, Any] = {}
    if tls:
        changes["tls"] = "enabled"
    if ca_file:
        changes["ca_file"] = None
    if client_cert:
        changes["client_cert"] = changes["client_key"] = None
    elif client_key:
        changes["client_key"] = None
    for name, flag in (("req_per_sec", req_per_sec), ("req_concurrent", req_concurrent)):
        if flag:
            changes[name] = None
    if proxy:
        changes["proxy"] = None
    updated = replace(updated, **changes)
    if all_mirrors:
        updated = updated.without_mirror()
    for location in mirrors:
        updated = updated.without_mirror(location)
    set_registry(host, updated)
    saved = str(config_path())
    _said(fmt, f"saved {host} in {saved}", host=host, saved_in=saved, settings=updated.to_json())


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
    rows = []
    for name, s in data.items():
        mirrors = ",".join(f"{m['location']}({m['priority']})" for m in s.get("mirrors", []))
        limits = "/".join(str(s[k]) if k in s else "-" for k in ("req_per_sec", "req_concurrent"))
        rows.append(
            (
                name,
                s.get("tls", "enabled"),
                s.get("ca_file") or "-",
                s.get("client_cert") or "-",
                mirrors or "-",
                limits,
                s.get("proxy") or "-",
            )
        )
    if rows:
        click.echo(
            table(rows, ["REGISTRY", "TLS", "CA", "CLIENT CERT", "MIRRORS", "RPS/CONC", "PROXY"])
        )
