"""The public API re-exported by ``hoist``: every name resolves, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hoist


@pytest.mark.parametrize("name", hoist.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(hoist, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = hoist.nope  # type: ignore[attr-defined]


def test_import_hoist_loads_nothing_heavy() -> None:
    probe = (
        "import sys, hoist\n"
        "print(sorted(m for m in sys.modules if m.startswith(('hoist.', 'urllib3', 'click'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
