"""The clients a benchmark times: hoist, skopeo, and peers given as ``--peer NAME=PATH``.

Each :class:`Tool` knows how to spell a location (``registry`` or ``ocidir``) and the command
lines of the cases: a copy, a copy of every tag of a repository, an inspect, a manifest head and
``--help``. A method returns None for what the tool cannot do (crane has no OCI layouts); the
report shows ``-`` there. Every tool talks plain HTTP to the loopback registries and uses no
credentials; :meth:`Tool.setup` writes what a tool needs for that (hoist's config file comes from
:func:`common.client_env`).

The peers' command lines follow their documentation (regctl 0.11, crane 0.21, oras 1.2); only
hoist and skopeo are installed on the machine the README's numbers come from.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PEERS", "Hoist", "Place", "Tool", "make_tool"]


@dataclass(frozen=True)
class Place:
    """Where an image is: on a registry (``host``, ``repository``) or in a layout (``path``)."""

    kind: str  # "registry" | "ocidir"
    tag: str
    host: str = ""
    repository: str = ""
    path: Path | None = None

    @property
    def name(self) -> str:
        """``host/repository:tag`` or ``path:tag``."""
        if self.kind == "registry":
            return f"{self.host}/{self.repository}:{self.tag}"
        return f"{self.path}:{self.tag}"


@dataclass
class Tool:
    """A client: its name, the command that runs it, and extra arguments for copies."""

    name: str
    command: list[str]
    copy_args: list[str] = field(default_factory=list)

    def setup(self, workdir: Path, hosts: Sequence[str], env: dict[str, str]) -> dict[str, str]:
        """The environment to run with (``env`` plus what this tool needs for plain HTTP)."""
        return env

    def version(self) -> str:
        try:
            out = subprocess.run(
                [*self.command, "--version"], capture_output=True, text=True, timeout=30
            )
        except OSError:
            return "?"
        return (out.stdout or out.stderr).strip().splitlines()[0] if out.stdout else "?"

    def ref(self, place: Place) -> str:
        return place.name

    def copy(self, src: Place, dst: Place, digest_file: Path) -> list[str] | None:
        """Copy every platform, byte for byte; the manifest digest goes to ``digest_file``
        when the tool can write it (else it is checked at the destination)."""
        raise NotImplementedError

    def repo_copy(self, src: Place, dst: Place) -> list[str] | None:
        """Copy every tag of ``src``'s repository to ``dst``'s."""
        return None

    def inspect(self, ref: Place) -> list[str] | None:
        return None

    def head(self, ref: Place) -> list[str] | None:
        return None

    def help(self) -> list[str]:
        return [*self.command, "--help"]


class Hoist(Tool):
    def ref(self, place: Place) -> str:
        return place.name if place.kind == "registry" else f"ocidir://{place.name}"

    def copy(self, src: Place, dst: Place, digest_file: Path) -> list[str]:
        return [*self.command, "image", "copy", "-q", *self.copy_args, self.ref(src), self.ref(dst)]

    def repo_copy(self, src: Place, dst: Place) -> list[str]:
        return [*self.command, "repo", "copy", "-q", *self.copy_args, self.ref(src), self.ref(dst)]

    def inspect(self, ref: Place) -> list[str]:
        return [*self.command, "image", "inspect", self.ref(ref)]

    def head(self, ref: Place) -> list[str]:
        return [*self.command, "manifest", "head", self.ref(ref)]


class Skopeo(Tool):
    """``skopeo copy --all --preserve-digests`` (every platform, no conversion), plain HTTP,
    an accept-anything policy (written by :func:`common.client_env`)."""

    policy: Path | None = None

    def setup(self, workdir: Path, hosts: Sequence[str], env: dict[str, str]) -> dict[str, str]:
        self.policy = workdir / "policy.json"
        return env

    def ref(self, place: Place) -> str:
        return f"docker://{place.name}" if place.kind == "registry" else f"oci:{place.name}"

    def _base(self) -> list[str]:
        return [*self.command, "--policy", str(self.policy)]

    def copy(self, src: Place, dst: Place, digest_file: Path) -> list[str]:
        return [
            *self._base(),
            "copy",
            "--quiet",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--digestfile",
            str(digest_file),
            *self.copy_args,
            self.ref(src),
            self.ref(dst),
        ]

    def repo_copy(self, src: Place, dst: Place) -> list[str]:
        # skopeo sync puts the source repository's last path component under the destination.
        prefix = dst.repository.rsplit("/", 1)[0] if "/" in dst.repository else ""
        return [
            *self._base(),
            "sync",
            "--all",
            "--preserve-digests",
            "--src",
            "docker",
            "--dest",
            "docker",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"{src.host}/{src.repository}",
            f"{dst.host}/{prefix}".rstrip("/"),
        ]

    def inspect(self, ref: Place) -> list[str]:
        return [*self._base(), "inspect", "--tls-verify=false", self.ref(ref)]

    def version(self) -> str:
        return super().version().removeprefix("skopeo version ")


class Regctl(Tool):
    """regctl with ``tls: disabled`` for the loopback hosts in a config of its own."""

    def setup(self, workdir: Path, hosts: Sequence[str], env: dict[str, str]) -> dict[str, str]:
        home = workdir / "regctl-home"
        (home / ".regctl").mkdir(parents=True, exist_ok=True)
        config = {"hosts": {h: {"hostname": h, "tls": "disabled"} for h in hosts}}
        (home / ".regctl" / "config.json").write_text(json.dumps(config))
        return {**env, "HOME": str(home), "REGCTL_CONFIG": str(home / ".regctl/config.json")}

    def ref(self, place: Place) -> str:
        return place.name if place.kind == "registry" else f"ocidir://{place.name}"

    def copy(self, src: Place, dst: Place, digest_file: Path) -> list[str]:
        return [*self.command, "image", "copy", *self.copy_args, self.ref(src), self.ref(dst)]

    def inspect(self, ref: Place) -> list[str]:
        return [*self.command, "image", "inspect", self.ref(ref)]

    def head(self, ref: Place) -> list[str]:
        return [*self.command, "manifest", "head", self.ref(ref)]

    def version(self) -> str:
        out = subprocess.run(
            [*self.command, "version", "--format", "{{.VCSTag}}"], capture_output=True, text=True
        )
        return out.stdout.strip() or "?"


class Crane(Tool):
    """crane over plain HTTP (``--insecure``); registries only."""

    def copy(self, src: Place, dst: Place, digest_file: Path) -> list[str] | None:
        if src.kind != "registry" or dst.kind != "registry":
            return None
        return [*self.command, "copy", "--insecure", *self.copy_args, src.name, dst.name]

    def repo_copy(self, src: Place, dst: Place) -> list[str]:
        return [
            *self.command,
            "copy",
            "--insecure",
            "--all-tags",
            f"{src.host}/{src.repository}",
            f"{dst.host}/{dst.repository}",
        ]

    def inspect(self, ref: Place) -> list[str]:
        return [*self.command, "config", "--insecure", ref.name]

    def head(self, ref: Place) -> list[str]:
        return [*self.command, "digest", "--insecure", ref.name]

    def version(self) -> str:
        out = subprocess.run([*self.command, "version"], capture_output=True, text=True)
        return out.stdout.strip() or "?"


class Oras(Tool):
    """``oras cp`` (the whole graph) over plain HTTP; layouts with ``--*-oci-layout``."""

    def copy(self, src: Place, dst: Place, digest_file: Path) -> list[str]:
        argv = [*self.command, "cp"]
        argv.append("--from-plain-http" if src.kind == "registry" else "--from-oci-layout")
        argv.append("--to-plain-http" if dst.kind == "registry" else "--to-oci-layout")
        return [*argv, *self.copy_args, src.name, dst.name]

    def inspect(self, ref: Place) -> list[str]:
        return [*self.command, "manifest", "fetch", "--plain-http", ref.name]

    def head(self, ref: Place) -> list[str]:
        return [*self.command, "resolve", "--plain-http", ref.name]

    def version(self) -> str:
        out = subprocess.run([*self.command, "version"], capture_output=True, text=True)
        first = out.stdout.strip().splitlines()
        return first[0].split(":", 1)[-1].strip() if first else "?"


PEERS: dict[str, type[Tool]] = {"regctl": Regctl, "crane": Crane, "oras": Oras}
"""The peers ``--peer NAME=PATH`` knows."""


def make_tool(name: str, command: list[str], copy_args: Sequence[str] = ()) -> Tool:
    """The tool called ``name`` (hoist, skopeo or a peer) run as ``command``."""
    kinds: dict[str, type[Tool]] = {"hoist": Hoist, "hoist-base": Hoist, "skopeo": Skopeo, **PEERS}
    if name not in kinds:
        raise ValueError(f"unknown tool {name!r}; known: {', '.join(kinds)}")
    return kinds[name](name, list(command), list(copy_args))
