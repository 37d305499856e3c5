"""Places to write to in tests: a repository on a registry, or an OCI layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.cli import run


def make_where(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path, cap: Any, repo: str
) -> Where:
    """The place for ``kind``; registries are set to plain HTTP in the private hoist config."""
    if kind == "ocidir":
        return Where(kind, f"ocidir://{tmp_path}/layout", f"oci:{tmp_path}/layout")
    fixture = "registry_anon" if kind == "distribution" else "hoist_server"
    host = request.getfixturevalue(fixture).host
    assert run(cap, "registry", "set", host, "--tls", "disabled")[0] == 0
    return Where(kind, f"{host}/{repo}", f"docker://{host}/{repo}", f"http://{host}", repo)


TARGETS = ["distribution", "hoist-serve", "ocidir"]


@dataclass(frozen=True)
class Where:
    """A place to write indexes: a repository on a registry, or an OCI layout."""

    kind: str
    base: str  # hoist's form: HOST/REPO or ocidir:///PATH
    skopeo_base: str  # docker://HOST/REPO or oci:/PATH
    url: str = ""
    repository: str = ""

    def at(self, tag: str) -> str:
        return f"{self.base}:{tag}"

    def by_digest(self, digest: str) -> str:
        return f"{self.base}@{digest}"

    def skopeo(self, tag: str) -> str:
        return f"{self.skopeo_base}:{tag}"

    @property
    def is_registry(self) -> bool:
        return self.kind != "ocidir"
