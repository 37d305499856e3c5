"""The README's library script: it type-checks with mypy --strict and runs on the demo layout."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_samples

README = Path(__file__).resolve().parents[1] / "README.md"


def library_script() -> str:
    text = README.read_text()
    section = text[text.index("## Library\n") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the Library section has no python block"
    return match.group(1)


def test_library_script_uses_only_top_level_names() -> None:
    imports = re.findall(r"^(?:from|import) (\S+)", library_script(), re.M)
    assert imports == ["hoist"]


def test_library_script_passes_mypy_strict(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(library_script())
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_library_script_runs_on_the_demo_layout(tmp_path: Path) -> None:
    ref = LayoutReference("ocidir", str(tmp_path / "demo"))
    write_samples(OCIDirStore(fsync=False), ref.with_tag("base"), ref.with_tag("app"))
    script = tmp_path / "script.py"
    script.write_text(library_script())
    env = {"HOIST_CONFIG": str(tmp_path / "hoist.json"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("copied sha256:") and lines[0].endswith(" blobs")
    assert lines[1] == "linux arm64 v8 1 layer(s)"
    assert lines[2] == "['base']"
    assert lines[3].startswith("labelled sha256:")
    mirror = OCIDirStore()
    labelled = LayoutReference("ocidir", str(tmp_path / "mirror"), "labelled")
    assert mirror.tag_list(labelled) == ["base", "labelled"]
