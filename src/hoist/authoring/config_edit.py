"""The image config side of ``image mod``: the image being changed and its config edits.

:class:`_Work` holds one platform image while it is changed: its config JSON, with the layers,
``rootfs.diff_ids`` and history kept in step. :func:`_edit_config` applies the config changes
of a :class:`~hoist.authoring.mod.Changes` (labels, env, entrypoint, ports, ...), one history
entry each. The layer operations and the writing of the result live in :mod:`hoist.authoring.mod`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hoist.errors import InvalidInput

if TYPE_CHECKING:
    from hoist.authoring.mod import Changes
    from hoist.layers.tarball import NewLayer
    from hoist.model.descriptor import Descriptor
    from hoist.model.manifest import ImageManifest


@dataclass
class _Work:
    """One platform image being changed."""

    manifest: ImageManifest
    config: dict[str, Any]
    layers: list[Descriptor]
    diff_ids: list[str]
    history: list[dict[str, Any]]
    new_layers: list[NewLayer] = field(default_factory=list)

    def add_history(self, created: str, created_by: str, *, empty: bool = True) -> None:
        entry: dict[str, Any] = {"created": created, "created_by": created_by}
        if empty:
            entry["empty_layer"] = True
        self.history.append(entry)

    def layer_steps(self) -> list[int]:
        """For each layer, the index of the history step that made it (-1 if none)."""
        steps, n = [], 0
        for i, h in enumerate(self.history):
            if not h.get("empty_layer") and n < len(self.layers):
                steps.append(i)
                n += 1
        return steps + [-1] * (len(self.layers) - len(steps))


def _edit_config(work: _Work, changes: Changes, created: str) -> None:
    """Apply the config changes, one history entry each."""
    cfg = work.config
    c = cfg.get("config") or {}
    cfg["config"] = c

    def step(*flags: str) -> None:
        work.add_history(created, "hoist image mod " + " ".join(flags))

    if changes.labels or changes.labels_rm:
        labels = dict(c.get("Labels") or {})
        labels.update(changes.labels)
        for key in changes.labels_rm:
            labels.pop(key, None)
        c["Labels"] = labels
        step(
            *(f"--label {k}={v}" for k, v in changes.labels.items()),
            *(f"--label-rm {k}" for k in changes.labels_rm),
        )
    if changes.env or changes.env_rm:
        env = dict(e.partition("=")[::2] for e in c.get("Env") or [])
        env.update(changes.env)
        for key in changes.env_rm:
            env.pop(key, None)
        c["Env"] = [f"{k}={v}" for k, v in env.items()]
        step(
            *(f"--env {k}={v}" for k, v in changes.env.items()),
            *(f"--env-rm {k}" for k in changes.env_rm),
        )
    for key, flag, value in (
        ("Entrypoint", "entrypoint", changes.entrypoint),
        ("Cmd", "cmd", changes.cmd),
    ):
        if value is not None:
            c[key] = _json_list(flag, value)
            step(f"--{flag} {value}")
    for key, flag, value in (
        ("User", "user", changes.user),
        ("WorkingDir", "workdir", changes.workdir),
        ("StopSignal", "stop-signal", changes.stop_signal),
    ):
        if value is not None:
            c[key] = value
            step(f"--{flag} {value}")
    if changes.expose or changes.expose_rm:
        ports = {} if "all" in changes.expose_rm else dict(c.get("ExposedPorts") or {})
        for p in changes.expose_rm:
            ports.pop(_port(p), None)
        for p in changes.expose:
            ports[_port(p)] = {}
        c["ExposedPorts"] = ports
        step(
            *(f"--expose {p}" for p in changes.expose),
            *(f"--expose-rm {p}" for p in changes.expose_rm),
        )
    if changes.volumes:
        volumes = dict(c.get("Volumes") or {})
        volumes.update({v: {} for v in changes.volumes})
        c["Volumes"] = volumes
        step(*(f"--volume {v}" for v in changes.volumes))
    if changes.created is not None or changes.reproducible:
        cfg["created"] = created
        if changes.reproducible:
            for h in work.history:
                h["created"] = created
    cfg["rootfs"] = {"type": "layers", "diff_ids": work.diff_ids}
    if work.history:
        cfg["history"] = work.history


def _port(text: str) -> str:
    return text if "/" in text else f"{text}/tcp"


def _json_list(flag: str, value: str) -> list[str] | None:
    try:
        parsed = json.loads(value)
    except ValueError:
        raise InvalidInput(f'--{flag} wants JSON, e.g. \'["/bin/sh", "-c"]\'') from None
    if parsed is not None and not (
        isinstance(parsed, list) and all(isinstance(x, str) for x in parsed)
    ):
        raise InvalidInput(f"--{flag} wants a JSON list of strings, or null")
    return parsed
