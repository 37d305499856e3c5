"""The ``hoist`` click group: its subcommands load from :data:`hoist.cli.main.COMMANDS` as
they are used, and its help page is :func:`hoist.cli.help_page.root_help`."""

from __future__ import annotations

import importlib
from typing import Any

import click
from click.exceptions import NoSuchCommand

from hoist import __version__
from hoist.cli.help_page import ABOUT, EXIT_CODES, OPTIONS, root_help
from hoist.cli.main import (
    ALIASES,
    COMMANDS,
    LOCAL_COMMANDS,
    LOCAL_SUBCOMMANDS,
    alias_rows,
    command_rows,
)

_HELP = dict(OPTIONS)


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

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write(root_help(command_rows(), alias_rows(), formatter.width))


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
    cls=RootGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=ABOUT,
    epilog=EXIT_CODES,
)
@click.version_option(__version__, prog_name="hoist", help=_HELP["--version"])
@click.option("-v", "--verbose", count=True, help=_HELP["-v, --verbose"])
@click.option("--debug", is_flag=True, help=_HELP["--debug"])
@click.pass_context
def cli(ctx: click.Context, verbose: int, debug: bool) -> None:
    """The root command: sets up logging from -v and --debug, then runs the subcommand."""
    import logging  # here, not at import: ``hoist --help`` never gets this far

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # a Python warning is a log line, never raw text on stderr
    state = ctx.ensure_object(dict)
    state["verbose"] = state.get("verbose", 0) + verbose
    state["debug"] = state.get("debug", False) or debug
    from hoist.cli.common import apply_verbosity

    apply_verbosity(state)
