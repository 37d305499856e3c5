"""The config edits a draft can take, shared by Dockerfile steps and ``image mod``.

Each edit changes one field of the run-time config (:attr:`Draft.config`) and nothing else:
the callers word the history entry (``ENV A=b`` for a Dockerfile, ``hoist image mod --env
A=b`` for mod) and check their own input rules (a Dockerfile's port ranges and signal names).
An edit that touches a field always writes it, so ``remove_labels`` on an image without
labels leaves ``"Labels": {}``, as Docker does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hoist.authoring.draft import Draft

__all__ = [
    "add_onbuild",
    "add_volumes",
    "expose",
    "remove_labels",
    "set_author",
    "set_cmd",
    "set_entrypoint",
    "set_env",
    "set_healthcheck",
    "set_labels",
    "set_shell",
    "set_stop_signal",
    "set_user",
    "set_workdir",
    "unexpose",
    "unexpose_all",
    "unset_env",
]


def _key(item: str) -> str:
    return item.partition("=")[0]


def set_env(draft: Draft, key: str, value: str) -> None:
    """``key=value`` in Env: in place of the first entry for ``key``, else at the end."""
    env = list(draft.config.get("Env") or [])
    item = f"{key}={value}"
    for i, existing in enumerate(env):
        if _key(existing) == key:
            env[i] = item
            break
    else:
        env.append(item)
    draft.config["Env"] = env


def unset_env(draft: Draft, key: str) -> None:
    """Remove every Env entry for ``key``."""
    draft.config["Env"] = [e for e in draft.config.get("Env") or [] if _key(e) != key]


def set_labels(draft: Draft, labels: Mapping[str, str]) -> None:
    """Add or replace labels (a replaced one keeps its place)."""
    draft.config["Labels"] = {**(draft.config.get("Labels") or {}), **labels}


def remove_labels(draft: Draft, keys: Iterable[str]) -> None:
    labels = dict(draft.config.get("Labels") or {})
    for key in keys:
        labels.pop(key, None)
    draft.config["Labels"] = labels


def set_entrypoint(draft: Draft, args: Sequence[str] | None) -> None:
    """The entrypoint; None clears it."""
    draft.config["Entrypoint"] = None if args is None else list(args)


def set_cmd(draft: Draft, args: Sequence[str] | None) -> None:
    """The default command (arguments to the entrypoint); None clears it."""
    draft.config["Cmd"] = None if args is None else list(args)


def set_user(draft: Draft, user: str) -> None:
    draft.config["User"] = user


def set_workdir(draft: Draft, path: str) -> None:
    draft.config["WorkingDir"] = path


def set_stop_signal(draft: Draft, signal: str) -> None:
    draft.config["StopSignal"] = signal


def expose(draft: Draft, ports: Iterable[str]) -> None:
    """Expose ``ports``, each ``PORT/PROTO`` (``80/tcp``)."""
    draft.config["ExposedPorts"] = {
        **(draft.config.get("ExposedPorts") or {}),
        **{p: {} for p in ports},
    }


def unexpose(draft: Draft, ports: Iterable[str]) -> None:
    """Stop exposing ``ports``, each ``PORT/PROTO``."""
    exposed = dict(draft.config.get("ExposedPorts") or {})
    for port in ports:
        exposed.pop(port, None)
    draft.config["ExposedPorts"] = exposed


def unexpose_all(draft: Draft) -> None:
    draft.config["ExposedPorts"] = {}


def add_volumes(draft: Draft, paths: Iterable[str]) -> None:
    draft.config["Volumes"] = {**(draft.config.get("Volumes") or {}), **{v: {} for v in paths}}


def set_healthcheck(draft: Draft, healthcheck: Mapping[str, Any]) -> None:
    """The health check (``Test``, ``Interval``, ... as Docker writes them)."""
    draft.config["Healthcheck"] = dict(healthcheck)


def set_shell(draft: Draft, shell: Sequence[str]) -> None:
    """The shell that shell-form commands run in."""
    draft.config["Shell"] = list(shell)


def add_onbuild(draft: Draft, instruction: str) -> None:
    """An instruction for builds on this image to run first."""
    draft.config["OnBuild"] = [*(draft.config.get("OnBuild") or []), instruction]


def set_author(draft: Draft, author: str) -> None:
    draft.document["author"] = author
