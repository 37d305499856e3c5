"""The README's first command: the demo runs offline on hoist serve and shows what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from hoist.image import Image
from hoist.location import Location
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import DEMO_TAGS

AMD64 = Platform("linux", "amd64")


def test_demo_walks_through_an_image(tmp_path: Path) -> None:
    layout = tmp_path / "explore"
    done = subprocess.run(
        [sys.executable, "-m", "hoist", "demo", "--layout", str(layout)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # step 3: the sha256 of the raw manifest equals the digest the index gives
    computed = re.search(r"^([0-9a-f]{64})  -$", out, re.M)
    named = re.search(r"the index names it as\s+sha256:([0-9a-f]{64})", out)
    assert computed and named and computed.group(1) == named.group(1)
    assert out.count("= diff_id") == 3  # step 6: every layer's tar hashes to its diff_id
    assert "4 blobs mounted, 0 uploaded (0 bytes)" in out  # step 8
    assert re.search(r"demo/app tags: stable, v1", out)  # step 9
    assert "Stopped the registry and removed its files." in out
    assert "Traceback" not in done.stderr
    # every command is one line to paste (step 3's used to wrap), with no placeholder
    commands = [line for line in out.splitlines() if line.startswith("$ ")]
    assert len(commands) == 10
    assert any(c.endswith("--format raw | sha256sum") and "@sha256:" in c for c in commands)
    assert not [c for c in commands if "<" in c]
    # the layout holds the tags the README's examples use
    assert OCIDirStore().tag_list(LayoutReference("ocidir", str(layout))) == sorted(DEMO_TAGS)
    store = OCIDirStore()
    app = Image(Location(store, LayoutReference("ocidir", str(layout), "app")))
    base = Image(Location(store, LayoutReference("ocidir", str(layout), "base")), platform=AMD64)
    assert app.layers[0] in base.layers  # the shared layer the demo points at
