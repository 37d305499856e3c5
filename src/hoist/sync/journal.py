"""The journal of an apply: what is done, so that a run killed halfway resumes without redoing.

An NDJSON file, appended to as images land (each line one ``write``, so a process killed at any
moment leaves every finished line behind; a torn last line is ignored)::

    {"journal": 1, "plan": "sha256:...", "config": "<sha256>", "started": 1.7e9, "planned": {...}}
    {"done": "mirror/app:v1", "digest": "sha256:...", "source": "sha256:...", "time": ...}
    {"failed": "mirror/app:v2", "error": "...", "time": ...}
    {"finished": 1700000060.0, "ok": true}

The first line holds the whole plan, so an apply of the same config that finds an unfinished
journal (younger than ``resume-within``) carries on with that plan: the images marked done are
skipped without a request, the rest are copied, each checked first against what the target
held when the plan was made.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from hoist.errors import InvalidInput

if TYPE_CHECKING:
    from hoist.sync.plan import Plan, PlanImage

__all__ = ["MAX_JOURNAL_BYTES", "Journal", "JournalState", "default_journal_path", "read_journal"]

MAX_JOURNAL_BYTES = 512 << 20
"""A journal is read only up to 512 MiB."""


def default_journal_path(config_path: Path) -> Path:
    """``$XDG_STATE_HOME/hoist/sync/<name>-<hash>.journal`` (``~/.local/state`` by default),
    one per config file."""
    import hashlib

    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    resolved = str(config_path.resolve())
    tag = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    return Path(base) / "hoist" / "sync" / f"{config_path.stem}-{tag}.journal"


@dataclass
class JournalState:
    """A journal as read back: its plan, what was done and whether the run finished."""

    plan_id: str
    config_digest: str
    started: float
    plan: dict[str, Any] | None
    done: dict[str, str] = field(default_factory=dict)
    """Target reference -> the digest it was set to."""
    failed: dict[str, str] = field(default_factory=dict)
    finished: bool = False
    ok: bool = False

    def is_done(self, image: PlanImage) -> bool:
        return self.done.get(image.target) == str(image.result)


def read_journal(path: Path) -> JournalState | None:
    """The journal at ``path`` (None when there is none or its first line is unreadable)."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_JOURNAL_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read the journal: {exc.strerror or exc}") from None
    if len(data) > MAX_JOURNAL_BYTES:
        raise InvalidInput(f"{path}: journal over {MAX_JOURNAL_BYTES >> 20} MiB; delete it")
    lines = data.split(b"\n")
    state: JournalState | None = None
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            if n >= len(lines) - 2:
                break  # a line torn by a kill: the last one
            raise InvalidInput(f"{path}:{n + 1}: not a journal line") from None
        if not isinstance(entry, dict):
            continue
        if state is None:
            if entry.get("journal") != 1:
                return None
            planned = entry.get("planned")
            state = JournalState(
                plan_id=str(entry.get("plan", "")),
                config_digest=str(entry.get("config", "")),
                started=float(entry.get("started", 0.0)),
                plan=planned if isinstance(planned, dict) else None,
            )
        elif "done" in entry:
            state.done[str(entry["done"])] = str(entry.get("digest", ""))
            state.failed.pop(str(entry["done"]), None)
        elif "failed" in entry:
            state.failed[str(entry["failed"])] = str(entry.get("error", ""))
        elif "finished" in entry:
            state.finished = True
            state.ok = bool(entry.get("ok"))
    return state


class Journal:
    """An open journal, appended to from worker threads."""

    def __init__(self, path: Path, stream: BinaryIO) -> None:
        self.path = path
        self._stream = stream
        self._lock = threading.Lock()

    @classmethod
    def start(cls, path: Path, plan: Plan, config_digest: str) -> Journal:
        """A new journal for ``plan`` (replacing any older one, atomically)."""
        from hoist.fsutil import write_atomic

        header = {
            "journal": 1,
            "plan": plan.id,
            "config": config_digest,
            "started": time.time(),
            "planned": plan.to_dict(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, (json.dumps(header, separators=(",", ":")) + "\n").encode(), mode=0o600)
        return cls.resume(path)

    @classmethod
    def resume(cls, path: Path) -> Journal:
        """The journal at ``path``, opened to append (unbuffered: one write per line)."""
        stream = path.open("ab", buffering=0)
        return cls(path, stream)

    def _write(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if not self._stream.closed:
                self._stream.write(line)

    def done(self, image: PlanImage) -> None:
        self._write(
            {
                "done": image.target,
                "digest": str(image.result),
                "source": str(image.digest),
                "time": round(time.time(), 3),
            }
        )

    def failed(self, image: PlanImage, error: str) -> None:
        self._write({"failed": image.target, "error": error, "time": round(time.time(), 3)})

    def finish(self, ok: bool) -> None:
        self._write({"finished": round(time.time(), 3), "ok": ok})
        with self._lock, contextlib.suppress(OSError):
            os.fsync(self._stream.fileno())

    def close(self) -> None:
        with self._lock:
            self._stream.close()
