"""``hoist --help`` made without click: the same page click renders, and nothing heavy loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from support.cli import modules_after

from hoist.cli.help_page import root_help, terminal_width
from hoist.cli.main import alias_rows, command_rows
from hoist.cli.root import cli

HOIST = str(Path(sys.executable).parent / "hoist")


def _click_page(width: int) -> str:
    """The root page as click's own formatter lays it out from the group's parameters."""
    ctx = click.Context(cli, info_name="hoist", **cli.context_settings)
    formatter = click.HelpFormatter(width=width)
    cli.format_usage(ctx, formatter)
    cli.format_help_text(ctx, formatter)
    click.Command.format_options(cli, ctx, formatter)  # the options alone, not the commands
    with formatter.section("Commands"):
        formatter.write_dl(command_rows())
    with formatter.section("Aliases"):
        formatter.write_dl(alias_rows())
    cli.format_epilog(ctx, formatter)
    return formatter.getvalue()


@pytest.mark.parametrize("width", range(50, 79))
def test_the_page_is_what_click_renders(width: int) -> None:
    assert root_help(command_rows(), alias_rows(), width) == _click_page(width)


@pytest.mark.parametrize(
    ("columns", "width"),
    [
        ("40", 50),
        ("52", 50),
        ("70", 68),
        (" 70", 68),
        ("+70", 68),
        ("80", 78),
        ("200", 78),
        ("0", 78),
        ("-5", 78),
        ("abc", 78),
        ("\u00b2", 78),  # a digit to str.isdigit, not to int
    ],
)
def test_terminal_width_is_clicks(
    columns: str, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    assert terminal_width() == width == click.HelpFormatter().width


def _hoist(*args: str, columns: str = "64") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": columns}
    return subprocess.run([HOIST, *args], capture_output=True, text=True, env=env, check=False)


@pytest.mark.parametrize("option", ["--help", "-h"])
def test_help_alone_prints_the_page_click_prints_after_another_option(option: str) -> None:
    alone, through_click = _hoist(option), _hoist("--debug", option)
    assert alone.returncode == through_click.returncode == 0
    assert alone.stdout == through_click.stdout == _click_page(62)
    assert alone.stderr == ""


def test_version_alone_prints_what_click_prints() -> None:
    alone, through_click = _hoist("--version"), _hoist("-v", "--version")
    assert alone.returncode == through_click.returncode == 0
    assert alone.stdout == through_click.stdout
    assert alone.stdout.startswith("hoist, version ")


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_load_neither_click_nor_typing(option: str) -> None:
    out, loaded = modules_after([option], "m.split('.')[0] in ('click', 'typing', 'urllib3')")
    assert out and loaded == []


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_a_reader_gone_before_the_page_is_a_quiet_exit(option: str) -> None:
    read, write = os.pipe()
    os.close(read)  # ``hoist --help | true``: nobody reads
    try:
        result = subprocess.run([HOIST, option], stdout=write, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)
    assert result.returncode == 1
    assert result.stderr == ""


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_stdout_closed_is_what_click_does(option: str) -> None:
    def closed(*args: str) -> subprocess.CompletedProcess[str]:
        line = " ".join([HOIST, *args]) + " >&-"
        return subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=False)

    alone, through_click = closed(option), closed("--debug", option)
    assert (alone.returncode, alone.stderr) == (through_click.returncode, through_click.stderr)
    assert alone.returncode == 0 and alone.stderr == ""
