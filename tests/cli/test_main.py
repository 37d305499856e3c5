"""The ``hoist`` command itself: exit codes in --help, aliases, version, completion, did-you-mean,
-v/--debug after the command, Examples in every --help (each one parsing), usage errors."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from support.cli import run

from hoist import __version__
from hoist.cli.common import AliasGroup
from hoist.cli.examples import EXAMPLES
from hoist.cli.main import ALIASES, COMMANDS
from hoist.cli.root import cli
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_samples

Capture = pytest.CaptureFixture[bytes]
HOIST = str(Path(sys.executable).parent / "hoist")


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("main") / "layout"
    ref = LayoutReference("ocidir", str(root))
    write_samples(OCIDirStore(), ref.with_tag("base"), ref.with_tag("app"))
    return root


def _commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command, by path (a group invoked alone, as ``serve``, counts too)."""
    ctx = click.Context(cli)
    found: list[tuple[tuple[str, ...], click.Command]] = []

    def walk(path: tuple[str, ...], command: click.Command) -> None:
        if isinstance(command, click.Group):
            if command.invoke_without_command:
                found.append((path, command))
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk((*path, name), sub)
        else:
            found.append((path, command))

    for name in sorted(COMMANDS):
        command = cli.get_command(ctx, name)
        assert command is not None
        walk((name,), command)
    return found


def test_help_documents_exit_codes_and_aliases(capsysbinary: Capture) -> None:
    code, out, _ = run(capsysbinary, "--help")
    text = " ".join(out.decode().split())
    assert code == 0
    assert "Exit status: 0 done; 1 error; 2 usage error" in text
    assert "3 checked, and the answer is no" in text
    for alias, path in ALIASES.items():
        assert f"{alias} hoist {' '.join(path)}" in text


@pytest.mark.parametrize(
    ("typed", "meant"),
    [(["imge"], "image"), (["image", "inspct"], "inspect"), (["tga", "ls"], "tag")],
)
def test_did_you_mean(capsysbinary: Capture, typed: list[str], meant: str) -> None:
    code, _, err = run(capsysbinary, *typed)
    assert code == 2 and f"Did you mean '{meant}'?" in err


def test_aliases_run_their_commands(capsysbinary: Capture, layout: Path, tmp_path: Path) -> None:
    at = f"ocidir://{layout}"
    assert run(capsysbinary, "ls", at)[1].decode().split() == ["app", "base"]
    code, out, _ = run(capsysbinary, "inspect", f"{at}:app", "--format", "json")
    assert code == 0 and json.loads(out)["Architecture"] == "amd64"
    code, out, _ = run(capsysbinary, "cp", f"{at}:app", f"ocidir://{tmp_path}/copy:app", "-q")
    assert (
        code == 0
        and out.decode().strip()
        == json.loads(run(capsysbinary, "image", "digest", f"{at}:app", "--format", "json")[1])[
            "digest"
        ]
    )
    assert run(capsysbinary, "tag", "add", f"ocidir://{tmp_path}/copy:app", "x", "y")[0] == 0
    assert run(capsysbinary, "tag", "rm", f"ocidir://{tmp_path}/copy:x")[0] == 0
    code, _, err = run(capsysbinary, "manifest", "rm", f"ocidir://{tmp_path}/copy:y")
    assert code == 0 and "removes every tag on it" in err
    assert run(capsysbinary, "tag", "ls", f"ocidir://{tmp_path}/copy")[1] == b""
    code, out, _ = run(capsysbinary, "login", "--help")
    assert code == 0 and b"Usage: hoist login [OPTIONS] HOST" in out


def test_version(capsysbinary: Capture) -> None:
    assert run(capsysbinary, "version")[1].decode().strip() == f"hoist, version {__version__}"
    code, out, _ = run(capsysbinary, "version", "--format", "json")
    assert code == 0 and json.loads(out)["version"] == __version__
    assert run(capsysbinary, "--version")[1].decode().strip() == f"hoist, version {__version__}"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_complete(shell: str) -> None:
    script = subprocess.run(
        [HOIST, "completion", shell], capture_output=True, text=True, check=True
    ).stdout
    assert "_HOIST_COMPLETE" in script
    # what the script asks hoist for on TAB: subcommands, aliases among them
    env = {**os.environ, "_HOIST_COMPLETE": f"{shell}_complete"}
    if shell == "fish":
        env.update(COMP_WORDS="hoist ima", COMP_CWORD="ima")
    else:
        env.update(COMP_WORDS="hoist ima", COMP_CWORD="1")
    done = subprocess.run([HOIST], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0 and "image" in done.stdout


def test_completion_in_bash_itself() -> None:
    """bash with the script loaded completes ``hoist tag `` to the tag commands."""
    probe = (
        f'eval "$({HOIST} completion bash)"\n'
        f"COMP_WORDS=(hoist tag ''); COMP_CWORD=2; _hoist_completion {HOIST}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert {"add", "delete", "ls"} <= set(done.stdout.split())


def test_verbose_and_debug_after_the_command(capsysbinary: Capture, layout: Path) -> None:
    code, _, err = run(capsysbinary, "image", "digest", f"ocidir://{layout}:nope", "--debug")
    assert code == 1 and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error:")
    code, _, err = run(capsysbinary, "image", "digest", f"ocidir://{layout}:nope", "-v")
    assert code == 1 and "Traceback" not in err
    code, _, err = run(capsysbinary, "--debug", "ref", "nginx", "-vv")
    assert code == 0


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("./layout:v1", "a local OCI layout needs a scheme: ocidir://./layout:v1"),
        ("{layout}:app", "a local OCI layout needs a scheme: ocidir://{layout}:app"),
    ],
)
def test_a_path_without_a_scheme_is_a_usage_error_with_the_fix(
    capsysbinary: Capture, layout: Path, text: str, hint: str
) -> None:
    text, hint = (s.replace("{layout}", str(layout)) for s in (text, hint))
    code, _, err = run(capsysbinary, "image", "inspect", text)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: invalid reference") and hint in err


def test_every_command_has_examples_and_each_parses() -> None:
    """Each example line is a real command line: its options exist and its values parse."""
    commands = _commands()
    missing = [
        " ".join(p) for p, c in commands if "Examples:" not in (c.epilog or "") + (c.help or "")
    ]
    assert missing == []
    by_path = dict(commands)
    aliases = {a: p for a, p in ALIASES.items()}
    for path, lines in EXAMPLES.items():
        for line in lines:
            words = _hoist_words(line)
            assert words[0] == "hoist", line
            words = words[1:]
            if words[0] in aliases:
                words = [*aliases[words[0]], *words[1:]]
            group = cli.get_command(click.Context(cli), words[0])
            if isinstance(group, AliasGroup) and len(words) > 1:
                words[1] = group.aliases.get(words[1], words[1])
            assert tuple(words[: len(path)]) == path, line
            command = by_path[path]
            try:
                command.make_context(" ".join(path), words[len(path) :], obj={})
            except click.BadParameter as exc:  # an example's file need not exist here
                assert "No such file" in str(exc) or "does not exist" in str(exc), line


def _hoist_words(line: str) -> list[str]:
    """The words of the hoist command in ``line`` (after a pipe or ``$(``, before the next
    pipe, redirection or comment)."""
    start = line.index("hoist ")
    tail = line[start:].partition(" #")[0]
    for stop in (" |", " >", " <", ")"):
        tail = tail.partition(stop)[0]
    return shlex.split(tail)


def test_help_of_each_command_shows_its_examples(capsysbinary: Capture) -> None:
    code, out, _ = run(capsysbinary, "image", "copy", "--help")
    text = out.decode()
    assert code == 0 and "Examples:\n    hoist image copy ocidir://demo:base" in text
