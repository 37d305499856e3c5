"""The ``hoist`` command: a thin layer over the library.

Errors from the library become one line on stderr and exit code 1 (with a hint where one
helps: :mod:`hoist.cli.hints`); usage errors, a malformed reference among them, exit 2; 3 is
"checked, and the answer is no". Subcommand modules load only when their command runs, so
``hoist --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click
from click.exceptions import NoSuchCommand

from hoist import __version__

# name -> (module, attribute, short help); modules import on use.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "ref": ("hoist.cli.ref", "ref", "Parse a reference and show its parts."),
    "manifest": ("hoist.cli.manifest", "manifest", "Get, head, put and delete manifests."),
    "blob": ("hoist.cli.blob", "blob", "Get, head, put, copy and delete blobs."),
    "image": ("hoist.cli.image", "image", "Inspect, copy, export, build and change images."),
    "tag": ("hoist.cli.tag", "tag", "List, add and delete tags."),
    "demo": ("hoist.cli.demo", "demo", "Walk through what an image is, on a registry of its own."),
    "layer": ("hoist.cli.layer", "layer", "List the files of a layer."),
    "repo": ("hoist.cli.repo", "repo", "List and copy repositories."),
    "registry": ("hoist.cli.registry", "registry", "Log in, log out, per-registry settings."),
    "serve": ("hoist.cli.serve", "serve", "Run an OCI registry on this machine."),
    "index": ("hoist.cli.index", "index", "Create multi-platform indexes; add or remove images."),
    "artifact": ("hoist.cli.artifact", "artifact", "Push, pull and list OCI artifacts."),
    "sync": ("hoist.cli.sync", "sync", "Mirror many images from a config: plan, apply, serve."),
    "version": ("hoist.cli.shell", "version", "Print hoist's version."),
    "completion": ("hoist.cli.shell", "completion", "Print the shell completion script."),
}

ALIASES: dict[str, tuple[str, str]] = {
    "cp": ("image", "copy"),
    "inspect": ("image", "inspect"),
    "ls": ("tag", "ls"),
    "login": ("registry", "login"),
}
"""The words people type from other tools (crane, regctl, docker, skopeo) -> the command."""

EXIT_CODES = """Exit status: 0 done; 1 error; 2 usage error (a bad option, argument or reference);
3 checked, and the answer is no (image check-base: a rebuild is needed; image verify:
a mismatch; image diff --exit-code: the images differ)."""


LOCAL_COMMANDS = frozenset({"ref", "serve", "demo", "version", "completion"})
"""Commands that reach no registry: they take no network options."""
LOCAL_SUBCOMMANDS = {"registry": frozenset({"set", "unset", "config", "logout"})}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        alias = ALIASES.get(cmd_name)
        if alias is not None:
            group = self.get_command(ctx, alias[0])
            assert isinstance(group, click.Group)
            return group.get_command(ctx, alias[1])
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        from hoist.cli.common import install_global_options
        from hoist.cli.examples import install_examples

        install_global_options(command)
        install_examples(command, (cmd_name,))
        if cmd_name not in LOCAL_COMMANDS:
            from hoist.cli.common import install_network_options

            skip = LOCAL_SUBCOMMANDS.get(cmd_name, frozenset())
            install_network_options(command, (cmd_name,), skip=skip)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            if name.startswith("-"):
                self.parse_args(ctx, args)
            raise NoSuchCommand(name, possibilities=[*COMMANDS, *ALIASES], ctx=ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
        with formatter.section("Aliases"):
            formatter.write_dl([(a, "hoist " + " ".join(path)) for a, path in ALIASES.items()])


class RootGroup(LazyGroup):
    """The ``hoist`` group: the network options work before the command too
    (``hoist --tls insecure image inspect REF``); their help is in each command's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from hoist.cli.common import network_options

        for option in network_options(two_ended=False):
            option.hidden = True
            self.params.append(option)


@click.group(
    cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES
)
@click.version_option(__version__, prog_name="hoist")
@click.option("-v", "--verbose", count=True, help="Log more (-vv for HTTP detail).")
@click.option("--debug", is_flag=True, help="Log everything; a traceback with an error.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, debug: bool) -> None:
    """hoist: container images where they live, on registries and OCI layouts.

    Registry commands take --creds, --tls, --proxy, --retries, --timeout and more, before or
    after the command's name (see each command's --help); so do -v and --debug. Commands
    that print or change things take --format json.
    """
    import logging  # here, not at import: ``hoist --help`` never gets this far

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # a Python warning is a log line, never raw text on stderr
    state = ctx.ensure_object(dict)
    state["verbose"] = state.get("verbose", 0) + verbose
    state["debug"] = state.get("debug", False) or debug
    from hoist.cli.common import apply_verbosity

    apply_verbosity(state)


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI, turning library errors into one line and an exit code."""
    from hoist.errors import HoistError, InvalidReference

    state: dict[str, Any] = {}
    try:
        try:
            result = cli.main(args=argv, prog_name="hoist", standalone_mode=False, obj=state)
        except HoistError as exc:
            from hoist.cli.hints import hint

            state["hint"] = hint(exc, state)  # may ask the registry once more: before abort
            if "client" in state:
                state.pop("client").abort()
            raise
        except BaseException:
            if "client" in state:
                state.pop("client").abort()
            raise
        if "client" in state:
            state.pop("client").close()
        return result
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except HoistError as exc:
        if state.get("debug"):
            import traceback

            traceback.print_exception(exc)
        extra = state.get("hint")
        click.echo(f"error: {exc}" + (f" ({extra})" if extra else ""), err=True)
        sys.exit(2 if isinstance(exc, InvalidReference) else 1)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
    except OSError as exc:
        click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
