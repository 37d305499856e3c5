"""Shared pieces of the CLI: the client, options, and plain output."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from hoist.client import Client
    from hoist.config.credentials import Credentials
    from hoist.location import Location
    from hoist.model.platform import Platform

F = TypeVar("F", bound=Callable[..., Any])


def get_client(ctx: click.Context) -> Client:
    """The command's client, made from the network options (:func:`network_options`):
    :func:`hoist.cli.main.main` closes it when the command succeeds and aborts it (dropping
    half-written archives) when it fails."""
    root = ctx.find_root()
    state = root.ensure_object(dict)
    client: Client | None = state.get("client")
    if client is None:
        client = _make_client(ctx, state.get("net", {}))
        state["client"] = client
    return client


# -- network options: on the root command and on every command that reaches registries --------

TWO_ENDED = frozenset({("image", "copy"), ("repo", "copy"), ("blob", "copy")})
"""Commands with a SRC and a DST: they take --src-creds and --dest-creds."""

ENV_PASSWORD = "HOIST_PASSWORD"


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Callback of every network option: keep what was given in the root's state."""
    if value is None or value is False:
        return value
    state = ctx.find_root().ensure_object(dict)
    state.setdefault("net", {})[param.name] = value
    return value


def _creds_value(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and ":" in value:
        hide_from_process_list(value.partition(":")[2])
    _store(ctx, param, value)
    return value


def network_options(two_ended: bool = False) -> list[click.Option]:
    """The options of one command's registry access (fresh objects, for one command)."""

    def opt(*decls: str, **kw: Any) -> click.Option:
        kw.setdefault("callback", _store)
        return click.Option(list(decls), expose_value=False, is_eager=False, **kw)

    creds_help = (
        "Credentials for {} (USER alone: the password comes from --password-stdin, "
        f"${ENV_PASSWORD} or a prompt). Env: {{}}."
    )
    options = [
        opt(
            "--creds",
            metavar="USER[:PASSWORD]",
            envvar="HOIST_CREDS",
            callback=_creds_value,
            help=creds_help.format("every registry of this command", "HOIST_CREDS"),
        ),
    ]
    if two_ended:
        options += [
            opt(
                "--src-creds",
                metavar="USER[:PASSWORD]",
                envvar="HOIST_SRC_CREDS",
                callback=_creds_value,
                help=creds_help.format("the source registry", "HOIST_SRC_CREDS"),
            ),
            opt(
                "--dest-creds",
                metavar="USER[:PASSWORD]",
                envvar="HOIST_DEST_CREDS",
                callback=_creds_value,
                help=creds_help.format("the destination registry", "HOIST_DEST_CREDS"),
            ),
        ]
    options += [
        opt(
            "--password-stdin",
            is_flag=True,
            default=False,
            help="Read the password of --creds USER from stdin (one line).",
        ),
        opt(
            "--registry-token",
            metavar="TOKEN",
            envvar="HOIST_REGISTRY_TOKEN",
            help="A bearer token sent to the registry as it is. Env: HOIST_REGISTRY_TOKEN.",
        ),
        opt(
            "--identity-token",
            metavar="TOKEN",
            envvar="HOIST_IDENTITY_TOKEN",
            help="An identity (refresh) token for the registry's token server. "
            "Env: HOIST_IDENTITY_TOKEN.",
        ),
        opt(
            "--authfile",
            metavar="FILE",
            envvar="REGISTRY_AUTH_FILE",
            help="Saved logins from this auth.json (podman/skopeo format) alone. "
            "Env: REGISTRY_AUTH_FILE.",
        ),
        opt("--no-creds", is_flag=True, default=False, help="Send no saved credentials."),
        opt(
            "--tls",
            type=click.Choice(["enabled", "insecure", "disabled"]),
            help="This command only: verified TLS, TLS without verification, or plain HTTP.",
        ),
        opt(
            "--proxy",
            metavar="URL",
            help="This command only: the proxy for every registry ('direct': none), "
            "instead of HTTPS_PROXY/HTTP_PROXY.",
        ),
        opt(
            "--retries",
            type=click.IntRange(min=0),
            metavar="N",
            help="Tries again after a timeout, a dropped connection, 429 or 5xx [default: 4].",
        ),
        opt(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            metavar="S",
            help="Seconds to connect and to wait for an answer [default: 10 and 60].",
        ),
        opt(
            "--stall-timeout",
            type=click.FloatRange(min=0, min_open=True),
            metavar="S",
            help="Seconds a transfer may send no byte before it is retried [default: 60].",
        ),
    ]
    return options


Installer = Callable[[click.Command, tuple[str, ...]], None]
"""Something done to each command under a group (options, examples), given its path."""


class LazyGroup(click.Group):
    """A group whose commands, beyond those defined with it, are imported when first used:
    ``lazy`` maps a name to (module, attribute). What :func:`each_command` does to every
    command under the group reaches the others as they load."""

    def __init__(
        self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self._installers: list[tuple[Installer, tuple[str, ...]]] = []

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in self.lazy:
            import importlib

            module, attribute = self.lazy[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
            for install, path in self._installers:
                install(command, (*path, cmd_name))
        return command


def each_command(install: Installer, group: click.Group, path: tuple[str, ...]) -> None:
    """``install(command, path)`` for every command of ``group``: now for those it holds, as
    they load for a :class:`LazyGroup`'s others."""
    if isinstance(group, LazyGroup):
        group._installers.append((install, path))
    for name, sub in list(group.commands.items()):
        install(sub, (*path, name))


def install_network_options(
    command: click.Command, path: tuple[str, ...] = (), *, skip: frozenset[str] = frozenset()
) -> None:
    """Add :func:`network_options` to ``command`` and every command under it (but those of its
    own commands named in ``skip``), once; an option whose name a command has already
    (``registry login --password-stdin``) is left out there."""
    if getattr(command, "_hoist_network", False):
        return
    command._hoist_network = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):

        def install(sub: click.Command, sub_path: tuple[str, ...]) -> None:
            if sub_path[-1] not in skip:
                install_network_options(sub, sub_path)

        each_command(install, command, path)
        return
    taken = {o for p in command.params for o in getattr(p, "opts", [])}
    for option in network_options(two_ended=path[-2:] in TWO_ENDED):
        if not taken.intersection(option.opts):
            command.params.append(option)


# -- -v/--verbose and --debug: on the root command and after every command's name too -------


def apply_verbosity(state: dict[str, Any]) -> None:
    """Set the log level from the root's state: WARNING, INFO with -v, DEBUG with -vv/--debug."""
    import logging

    level = logging.DEBUG if state.get("debug") else logging.WARNING - 10 * state.get("verbose", 0)
    logging.getLogger().setLevel(max(level, logging.DEBUG))


def _verbose(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value:
        state = ctx.find_root().ensure_object(dict)
        key = "verbose" if param.name == "verbose" else "debug"
        state[key] = state.get(key, 0) + value if key == "verbose" else True
        apply_verbosity(state)
    return value


def install_global_options(command: click.Command) -> None:
    """Add -v/--verbose and --debug to ``command`` and every command under it, once."""
    if getattr(command, "_hoist_global", False):
        return
    command._hoist_global = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        each_command(lambda sub, _: install_global_options(sub), command, ())
        return
    taken = {o for p in command.params for o in getattr(p, "opts", [])}
    for decls, kw in (
        (["-v", "--verbose"], {"count": True, "help": "Log more (-vv for HTTP detail)."}),
        (["--debug"], {"is_flag": True, "help": "Log everything; a traceback with an error."}),
    ):
        if not taken.intersection(decls):
            command.params.append(
                click.Option(decls, expose_value=False, callback=_verbose, **kw)  # type: ignore[arg-type]
            )


class AliasGroup(click.Group):
    """A group with other names for some commands (``tag rm`` for ``tag delete``), kept out of
    the command list but named in the help."""

    def __init__(self, *args: Any, aliases: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = dict(aliases or {})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_commands(ctx, formatter)
        if self.aliases:
            with formatter.section("Aliases"):
                formatter.write_dl([(a, c) for a, c in self.aliases.items()])


def hide_from_process_list(secret: str) -> None:
    """Overwrite ``secret`` with ``*`` in this process's command line, as curl does with
    ``-u USER:PASSWORD``, so ``ps`` and ``/proc/PID/cmdline`` no longer show it (Linux; a
    no-op elsewhere or when the memory cannot be found safely)."""
    if not secret or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
        with open("/proc/self/cmdline", "rb") as f:
            cmdline = f.read()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (proc(5))
        if not 0 < end - start <= len(cmdline) + 1:
            return
        current = ctypes.string_at(start, end - start)
        if current.rstrip(b"\0") != cmdline.rstrip(b"\0"):
            return
        needle = secret.encode()
        at = current.find(needle)
        while at >= 0:
            ctypes.memset(start + at, ord("*"), len(needle))
            at = current.find(needle, at + len(needle))
    except (OSError, ValueError, IndexError):
        return


def _split_creds(value: str, what: str, password: str | None) -> Credentials:
    from hoist.config.credentials import Credentials

    user, colon, secret = value.partition(":")
    if not user:
        raise click.UsageError(f"{what}: want USER[:PASSWORD], the user is empty")
    if colon:
        return Credentials(user, secret)
    if password is None:
        raise click.UsageError(
            f"{what} {user}: no password; give --password-stdin or set {ENV_PASSWORD}"
            + ("" if sys.stdin.isatty() else " (there is no terminal to ask on)")
        )
    return Credentials(user, password)


def read_secret(prompt: str) -> str | None:
    """A line typed at the terminal without echo; None when there is no terminal (so no
    getpass warning ever reaches stderr)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None
    value: str = click.prompt(prompt, hide_input=True, err=True)
    return value


def _make_client(ctx: click.Context, net: dict[str, Any]) -> Client:
    from hoist.client import Client
    from hoist.config.credentials import Credentials
    from hoist.errors import InvalidReference
    from hoist.model.reference import parse_reference

    given = [k for k in ("creds", "src_creds", "dest_creds") if net.get(k)]
    tokens = [k for k in ("registry_token", "identity_token") if net.get(k)]
    if net.get("no_creds") and (given or tokens):
        flags = ", ".join("--" + k.replace("_", "-") for k in given + tokens)
        raise click.UsageError(f"--no-creds excludes {flags}")
    if len(tokens) > 1 or (tokens and "creds" in given):
        raise click.UsageError("give one of --creds, --registry-token and --identity-token")
    password: str | None = None
    needs_password = [k for k in given if ":" not in net[k]]
    if net.get("password_stdin"):
        if len(needs_password) != 1:
            raise click.UsageError(
                "--password-stdin reads the password of one --creds USER (without ':PASSWORD')"
            )
        password = sys.stdin.readline().rstrip("\r\n")
    elif needs_password:
        password = os.environ.get(ENV_PASSWORD)
        if password is None and len(needs_password) == 1:
            user = net[needs_password[0]]
            password = read_secret(f"Password for {user}")
    everywhere: Credentials | None = None
    if net.get("creds"):
        everywhere = _split_creds(net["creds"], "--creds", password)
    elif net.get("registry_token"):
        everywhere = Credentials(registry_token=net["registry_token"])
    elif net.get("identity_token"):
        everywhere = Credentials(identity_token=net["identity_token"])
    hosts: dict[str, Credentials] = {}
    for key, end in (("src_creds", "src"), ("dest_creds", "dst")):
        if not net.get(key):
            continue
        flag = "--" + key.replace("_", "-")
        text = ctx.params.get(end)
        try:
            ref = parse_reference(text) if isinstance(text, str) else None
        except InvalidReference:
            ref = None
        if ref is None or ref.host is None:
            raise click.UsageError(f"{flag}: {end.upper()} {text} is not on a registry")
        creds = _split_creds(net[key], flag, password)
        if ref.host in hosts and hosts[ref.host] != creds:
            raise click.UsageError(
                f"--src-creds and --dest-creds differ, but both ends are on {ref.host}"
            )
        hosts[ref.host] = creds
    login: Credentials | dict[str, Credentials] | None = hosts or everywhere
    if hosts and everywhere is not None:
        raise click.UsageError("give --creds, or --src-creds/--dest-creds, not both")
    options: dict[str, Any] = {}
    if net.get("retries") is not None:
        options["retries"] = net["retries"]
    if net.get("timeout") is not None:
        options["connect_timeout"] = options["read_timeout"] = net["timeout"]
    if net.get("stall_timeout") is not None:
        options["stall_timeout"] = net["stall_timeout"]
    return Client(
        login=login,
        anonymous=bool(net.get("no_creds")),
        authfile=net.get("authfile"),
        tls=net.get("tls"),
        proxy=net.get("proxy"),
        **options,
    )


def get_location(ctx: click.Context, text: str) -> Location:
    """The location ``text`` names, from the command's client (remembered for the hints of
    :mod:`hoist.cli.hints`); a malformed reference is a usage error, with the scheme a path
    needs suggested."""
    from hoist.errors import InvalidReference

    try:
        location = get_client(ctx).at(text)
    except InvalidReference as exc:
        from hoist.cli.hints import path_hint

        hint = path_hint(text)
        raise InvalidReference(f"{exc} ({hint})" if hint else str(exc)) from None
    ctx.find_root().ensure_object(dict).setdefault("locations", []).append((text, location))
    return location


def parse_platform(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> Platform | None:
    """Click callback: a Platform from ``os/arch[/variant]`` or ``local``."""
    if value is None:
        return None
    from hoist.model.platform import Platform

    try:
        return Platform.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def platform_option(f: F) -> F:
    """``-p/--platform`` where an index resolves to one image: the local platform by default."""
    return platform_option_with(
        "Platform to pick from an index (default: the local one); 'local' works too."
    )(f)


def platform_option_with(help_text: str) -> Callable[[F], F]:
    """``-p/--platform`` with the help of a command whose default is not the local platform
    (a copy or a change of every platform, a manifest as it is)."""
    return click.option(
        "-p", "--platform", callback=parse_platform, metavar="OS/ARCH[/VARIANT]", help=help_text
    )


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    def deco(f: F) -> F:
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(list(choices)),
            default=default,
            show_default=True,
            help="Output format.",
        )(f)

    return deco


def emit_json(obj: Any) -> None:
    """Pretty JSON on stdout."""
    import json

    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def emit_bytes(data: bytes) -> None:
    """Exact bytes on stdout."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def table(rows: Sequence[Sequence[object]], headers: Sequence[str] | None = None) -> str:
    """Left-aligned columns separated by two spaces."""
    all_rows = [list(map(str, headers))] if headers else []
    all_rows += [[("" if c is None else str(c)) for c in r] for r in rows]
    if not all_rows:
        return ""
    widths = [max(len(r[i]) for r in all_rows if i < len(r)) for i in range(len(all_rows[0]))]
    lines = []
    for r in all_rows:
        cells = [c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def human_size(n: int) -> str:
    """Bytes for people: 1.5 MB (powers of 1000, like registries show)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
