"""Running hoist's CLI in-process, as the tests do."""

from __future__ import annotations

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
