"""Running hoist's CLI in-process, as the tests do."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from hoist.cli.main import main


def run(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, bytes, str]:
    """Run hoist in-process; returns exit code, stdout bytes and stderr text."""
    try:
        code = main(list(args)) or 0  # click returns ctx.exit() codes in this mode
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


def modules_after(args: list[str], which: str) -> tuple[str, list[str]]:
    """Run ``hoist ARGS`` in a fresh interpreter: its output, and the modules then loaded for
    which ``which`` (an expression over the module name ``m``) is true."""
    probe = (
        "import sys\n"
        "from hoist.cli.main import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if {which}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    *out, modules = result.stdout.strip().splitlines()
    return "\n".join(out), ast.literal_eval(modules)
