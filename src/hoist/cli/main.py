"""The ``hoist`` command: a thin layer over the library.

Errors from the library become one line on stderr and exit code 1 (with a hint where one
helps: :mod:`hoist.cli.hints`); usage errors, a malformed reference among them, exit 2; 3 is
"checked, and the answer is no". This module holds the command table and :func:`main`, and
imports neither click nor typing: ``hoist --help`` and ``hoist --version`` are answered
here, and the click group (:mod:`hoist.cli.root`) and each subcommand's module load only
for a command that runs.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: see hoist.cli.help_page
if TYPE_CHECKING:
    from typing import Any

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

LOCAL_COMMANDS = frozenset({"ref", "serve", "demo", "version", "completion"})
"""Commands that reach no registry: they take no network options."""
LOCAL_SUBCOMMANDS = {"registry": frozenset({"set", "unset", "config", "logout"})}


def command_rows() -> list[tuple[str, str]]:
    """The Commands section of ``hoist --help``: each command and its short help, by name."""
    return [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]


def alias_rows() -> list[tuple[str, str]]:
    """The Aliases section of ``hoist --help``."""
    return [(alias, "hoist " + " ".join(path)) for alias, path in ALIASES.items()]


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI, turning library errors into one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args in (["--help"], ["-h"], ["--version"]):
        _answer_alone(args[0])
    import click

    from hoist.cli.root import cli
    from hoist.errors import HoistError, InvalidReference

    state: dict[str, Any] = {}
    try:
        try:
            result = cli.main(args=args, prog_name="hoist", standalone_mode=False, obj=state)
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


def _answer_alone(option: str) -> None:
    """``hoist --help`` or ``hoist --version``, printed without loading click; exits."""
    if option == "--version":
        from hoist import __version__

        text = f"hoist, version {__version__}\n"
    else:
        from hoist.cli.help_page import root_help, terminal_width

        text = root_help(command_rows(), alias_rows(), terminal_width())
    if sys.stdout is None:  # started with its stdout closed: click prints nothing either
        sys.exit(0)
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
    sys.exit(0)
