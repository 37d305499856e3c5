"""``hoist version`` and ``hoist completion``: about hoist itself, and the shell around it."""

from __future__ import annotations

import sys

import click

from hoist.cli.common import emit_json, format_option

SHELLS = ("bash", "zsh", "fish")


@click.command("version")
@format_option("text", "json")
def version(fmt: str) -> None:
    """Print hoist's version (and, with --format json, Python's)."""
    from hoist import __version__

    if fmt == "json":
        emit_json({"version": __version__, "python": sys.version.split()[0]})
    else:
        click.echo(f"hoist, version {__version__}")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL: commands, options and choices complete on TAB.

    \b
    bash:  eval "$(hoist completion bash)"          (in ~/.bashrc)
    zsh:   eval "$(hoist completion zsh)"           (in ~/.zshrc)
    fish:  hoist completion fish > ~/.config/fish/completions/hoist.fish
    """
    from click.shell_completion import get_completion_class

    from hoist.cli.root import cli

    cls = get_completion_class(shell)
    assert cls is not None  # every shell in SHELLS is one click knows
    click.echo(cls(cli, {}, "hoist", "_HOIST_COMPLETE").source())
