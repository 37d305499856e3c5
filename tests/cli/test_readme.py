"""Every example in the README runs: its ``console`` blocks (``$ `` lines, with the output shown
below them) and its ``sh`` blocks, in README order, in one directory holding the demo layout
(``demo``, as ``bash scripts/demo.sh --layout demo`` leaves it), with ``localhost:5000`` a
``hoist serve`` and ``localhost:5001`` a CNCF distribution 2.8 the suite starts.

A command must exit 0, unless what the README shows after it is an error line (``error: ...``)
or a following ``$ echo $?`` says which status. Where the README shows output, the output
(stdout and stderr as a terminal interleaves them) must be that: a line ``...`` stands for any
lines, and ``...`` within a line for any text. Blocks that need what the suite does not run
(Docker Hub, a proxy, an example company's registries) are listed in SKIP with the reason.

``python tests/cli/test_readme.py`` prints what each command prints here, to update the README.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.registry_fixtures import RegistryServer

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = str(Path(sys.executable).parent)

SKIP: dict[str, str] = {
    "bash scripts/demo.sh": "installs hoist with pip and runs this suite (test.sh); the demo's "
    "layout is written here by hoist.testing.sample, and tests/cli/test_demo.py runs the demo",
    "hoist serve --addr": "the suite runs hoist serve itself, on a free port (localhost:5000 here)",
    "python script.py": "tests/test_readme_library.py runs this script on the demo layout",
    "hoist tag ls reg.example/app --creds": "needs reg.example's registry and its logins",
    "HTTPS_PROXY=http://proxy.corp": "needs proxy.corp and the internet behind it",
    "hoist registry set reg.corp:5000 --ca": "needs reg.corp's CA and client certificate files",
    "hoist image inspect docker://alpine": "needs Docker Hub (the internet)",
    "hoist image digest reg.hoist.invalid": "shows a lookup failure: needs a resolver to fail",
    "hoist sync plan -c sync.yaml": "the session shown ran on two registries with alpine and "
    "team images; tests/cli/test_sync.py and tests/sync run plan and apply on the suite's",
    "hoist sync apply -c sync.yaml": "as for sync plan: tests/sync/test_apply.py runs apply",
}
"""A block's first command (its start) -> why the suite does not run the block."""


@dataclass
class Command:
    text: str
    line: int
    shown: list[str] | None = None
    """The output the README shows (console blocks), None for an sh block."""


@dataclass
class Block:
    lang: str
    line: int
    commands: list[Command] = field(default_factory=list)


def read_blocks(text: str) -> Iterator[Block]:
    """The console and sh blocks of ``text`` with their commands."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        lang, start = fence.group(1), i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        if lang in ("console", "sh"):
            yield _parse(lang, start, body)


HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")


def _parse(lang: str, start: int, body: list[str]) -> Block:
    block = Block(lang, start)
    current: Command | None = None
    pending = ""
    until = ""  # the word that ends a here-document the command is reading
    for n, line in enumerate(body, start + 1):
        if pending:  # a continuation line: after a backslash, or of a here-document
            pending += "\n" + line
            done = line == until if until else not line.endswith("\\")
            if done:
                assert current is not None
                current.text, pending, until = pending, "", ""
            continue
        if lang == "console" and not line.startswith("$ "):
            if current is not None and current.shown is not None:
                current.shown.append(line)
            continue
        if lang == "console" or (line.strip() and not line.lstrip().startswith("#")):
            text = line[2:] if lang == "console" else line
            current = Command(text, n, [] if lang == "console" else None)
            block.commands.append(current)
            heredoc = HEREDOC.search(text)
            if heredoc or text.endswith("\\"):
                pending, until = text, heredoc.group(1) if heredoc else ""
    for c in block.commands:
        while c.shown and not c.shown[-1].strip():
            c.shown.pop()
    return block


def skip_reason(block: Block) -> str | None:
    first = block.commands[0].text if block.commands else ""
    return next((why for start, why in SKIP.items() if first.startswith(start)), None)


def matches(shown: list[str], actual: list[str]) -> bool:
    """``actual`` lines against ``shown``: ``...`` alone is any lines, within a line any text."""
    pattern = "".join(
        r"(?:.*\n)*?" if line.strip() == "..." else _line(line) + r"\n" for line in shown
    )
    return re.fullmatch(pattern, "".join(a + "\n" for a in actual)) is not None


def _line(line: str) -> str:
    return ".*".join(re.escape(part) for part in line.rstrip().split("...")) + r"[ \t]*"


class Runner:
    """Runs the README's commands in ``workdir`` with ``hosts`` standing for its registries."""

    def __init__(self, workdir: Path, hosts: dict[str, str]) -> None:
        self.workdir = workdir
        self.hosts = hosts
        self.env = {
            **os.environ,
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOIST_CONFIG": str(workdir.parent / "hoist-config.json"),
            "DOCKER_CONFIG": str(workdir.parent / "docker-config"),
            "REGISTRY_AUTH_FILE": str(workdir.parent / "auth.json"),
            "XDG_CONFIG_HOME": str(workdir.parent / "xdg"),
            "HOIST_CERTS_DIRS": str(workdir.parent / "certs.d"),
            "SOURCE_DATE_EPOCH": "0",
            "COLUMNS": "200",
        }
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY"):
            self.env.pop(name, None)

    def fill(self, text: str) -> str:
        for name, real in self.hosts.items():
            text = text.replace(name, real)
        return text

    def run(self, command: str) -> Output:
        """Run ``command``; its lines in the order they came (as a terminal shows them)."""
        proc = subprocess.Popen(
            ["bash", "-c", self.fill(command)],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert proc.stdout is not None and proc.stderr is not None
        streams = {proc.stdout: "out", proc.stderr: "err"}
        partial = {"out": b"", "err": b""}
        lines: list[tuple[str, str]] = []
        with selectors.DefaultSelector() as sel:
            for stream in streams:
                sel.register(stream, selectors.EVENT_READ)
            deadline = time.monotonic() + 180
            while sel.get_map() and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    name = streams[key.fileobj]  # type: ignore[index]
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        if partial[name]:
                            lines.append((name, partial[name].decode("utf-8", "replace")))
                        continue
                    *whole, partial[name] = (partial[name] + chunk).split(b"\n")
                    lines += [(name, w.decode("utf-8", "replace")) for w in whole]
        status = proc.wait(timeout=30)
        here = str(self.workdir)
        return Output(status, [(n, t.replace(here, "/home/me")) for n, t in lines])


@dataclass
class Output:
    status: int
    lines: list[tuple[str, str]]
    """(``out`` or ``err``, text) in the order they came."""

    @property
    def all(self) -> list[str]:
        return [text for _, text in self.lines]

    @property
    def stdout(self) -> list[str]:
        return [text for name, text in self.lines if name == "out"]

    def shows(self, shown: list[str]) -> bool:
        """What the terminal shows, or (where the README leaves stderr out) stdout alone."""
        return matches(shown, self.all) or matches(shown, self.stdout)


def expected_status(block: Block, i: int) -> int | None:
    """The exit status command ``i`` must have (None: any but 0)."""
    commands = block.commands
    after = commands[i + 1] if i + 1 < len(commands) else None
    if after is not None and after.text.strip() == "echo $?" and after.shown:
        return int(after.shown[0])
    shown = commands[i].shown or []
    if shown and shown[-1].startswith("error:"):
        return None
    return 0


def make_workdir(root: Path) -> Path:
    from hoist.model.reference import LayoutReference
    from hoist.store.ocidir import OCIDirStore
    from hoist.testing.sample import write_demo_layout

    workdir = root / "me"
    workdir.mkdir()
    write_demo_layout(OCIDirStore(), LayoutReference("ocidir", str(workdir / "demo")))
    return workdir


def run_readme(runner: Runner, *, check: bool = True) -> list[str]:
    """Every block in order; the problems found (or, ``check=False``, what ran and printed)."""
    problems: list[str] = []
    for block in read_blocks(README.read_text()):
        if not block.commands or skip_reason(block):
            continue
        status = 0
        for i, command in enumerate(block.commands):
            where = f"README.md:{command.line}: $ {command.text}"
            if command.text.strip() == "echo $?":
                continue
            got = runner.run(command.text)
            status, actual = got.status, got.all
            if not check:
                problems += [f"{where}  [exit {status}]", *actual, ""]
                continue
            want = expected_status(block, i)
            if (want is None and status == 0) or (want is not None and status != want):
                problems.append(f"{where}: exit {status}, want {want or 'non-zero'}: {actual}")
            shown = [runner.fill(s) for s in command.shown or []]
            if shown and not got.shows(shown):
                problems.append(
                    f"{where}: output differs\n--- README\n"
                    + "\n".join(shown)
                    + "\n--- here\n"
                    + "\n".join(actual)
                )
    return problems


@pytest.fixture
def readme_runner(tmp_path: Path, make_registry: Callable[[], RegistryServer]) -> Iterator[Runner]:
    """Fresh registries: the README's repository names are its own."""
    from hoist.server.run import ServerThread

    workdir = make_workdir(tmp_path)
    distribution = make_registry()
    with ServerThread(workdir / "registry") as server:
        yield Runner(workdir, hosts(server.host, distribution.host))


def hosts(serve: str, distribution: str) -> dict[str, str]:
    """The README's registries -> the ones running here (``hoist serve --addr 127.0.0.1:5000``
    is the one the README starts)."""
    return {"localhost:5000": serve, "127.0.0.1:5000": serve, "localhost:5001": distribution}


def test_readme_blocks_parse() -> None:
    blocks = list(read_blocks(README.read_text()))
    assert len(blocks) > 20
    firsts = [b.commands[0].text for b in blocks if b.commands]
    unused = [s for s in SKIP if not any(f.startswith(s) for f in firsts)]
    assert unused == []  # every reason names a block there is
    for block in blocks:
        for command in block.commands:
            assert "\\\n" not in command.text or block.lang == "console", command.line


def test_every_readme_example_runs(readme_runner: Runner) -> None:
    for tool in ("skopeo", "curl", "sha256sum"):
        assert shutil.which(tool), f"{tool} is needed by the README's examples"
    problems = run_readme(readme_runner)
    assert problems == [], "\n\n".join(problems)


def test_matching() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "d"], ["a", "d"])
    assert matches(["into .../rootfs: 6 files"], ["into /home/me/rootfs: 6 files"])
    assert not matches(["a", "b"], ["a", "c"])
    assert not matches(["a"], ["a", "b"])


if __name__ == "__main__":  # print what each command prints here, to update the README
    import tempfile

    from hoist.server.run import ServerThread

    with tempfile.TemporaryDirectory() as tmp:
        work = make_workdir(Path(tmp))
        (Path(tmp) / "distribution").mkdir()
        distribution = RegistryServer(Path(tmp) / "distribution").start()
        try:
            with ServerThread(work / "registry") as serve:
                runner = Runner(work, hosts(serve.host, distribution.host))
                for line in run_readme(runner, check=False):
                    line = line.replace(serve.host, "localhost:5000")
                    print(line.replace(distribution.host, "localhost:5001"))
        finally:
            distribution.stop()
