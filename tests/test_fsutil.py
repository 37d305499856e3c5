"""Atomic writes: the whole file or the old one, never a temporary left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hoist.fsutil import TMP_PREFIX, atomic_file, fsync_dir, write_atomic


def _synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what every os.fsync flushes, by path (Linux /proc)."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd")
    seen: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    return seen


def test_write_atomic_replaces_and_flushes_file_and_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.json"
    target.write_bytes(b"old")
    synced = _synced(monkeypatch)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["f.json"]
    assert len(synced) == 2 and Path(synced[1]) == tmp_path.resolve()
    assert Path(synced[0]).name.startswith(TMP_PREFIX)  # the data, before the rename


def test_fsync_false_flushes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = _synced(monkeypatch)
    write_atomic(tmp_path / "a", b"a", fsync=False)
    with atomic_file(tmp_path / "b", fsync=False) as f:
        f.write(b"b")
    assert synced == []
    assert (tmp_path / "a").read_bytes() == b"a" and (tmp_path / "b").read_bytes() == b"b"


def test_mode_is_set_and_the_default_follows_the_umask(tmp_path: Path) -> None:
    write_atomic(tmp_path / "secret", b"x", mode=0o600)
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    write_atomic(tmp_path / "shared", b"x", mode=0o644)
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o644
    umask = os.umask(0o022)
    try:
        write_atomic(tmp_path / "plain", b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o644


def test_atomic_file_streams_and_an_error_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_file(target) as f:
        for chunk in (b"ab", b"cd"):
            f.write(chunk)
        assert not target.exists()  # nothing under the name until the block ends
    assert target.read_bytes() == b"abcd"
    with pytest.raises(RuntimeError), atomic_file(target) as f:
        f.write(b"partial")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"abcd"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_missing_directory_and_fsync_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "no" / "such", b"x")
    fsync_dir(tmp_path)
    fsync_dir(str(tmp_path))
