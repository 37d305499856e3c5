"""Thin wrapper around the ``skopeo`` CLI for tests against the loopback registries.

``skopeo("inspect", "--raw", f"docker://{reg.host}/{repo}:v1", creds=reg.creds)``
runs ``skopeo --insecure-policy inspect --tls-verify=false --creds U:P --raw docker://...``.

TLS verification is turned off with the flags each subcommand understands
(``--tls-verify=false``, or ``--src-tls-verify=false --dest-tls-verify=false`` for
``copy``/``sync``). ``creds`` goes to every ``docker://`` side (``--creds``, or
``--src-creds``/``--dest-creds``); ``src_creds``/``dest_creds`` set one side.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess

from support.registry_fixtures import require_tool

#: Subcommands taking ``--tls-verify`` and ``--creds``.
_SINGLE = frozenset({"inspect", "delete", "list-tags", "layers"})
#: Subcommands taking ``--src-*`` and ``--dest-*`` flags.
_DOUBLE = frozenset({"copy", "sync"})


class SkopeoError(subprocess.CalledProcessError):
    """A failed skopeo run; ``str()`` includes the command and its stderr."""

    def __str__(self) -> str:
        return (
            f"skopeo failed with exit code {self.returncode}: {shlex.join(self.cmd)}\n"
            f"stderr:\n{self.stderr}"
        )


def skopeo_command(
    *args: str,
    creds: str | None = None,
    src_creds: str | None = None,
    dest_creds: str | None = None,
) -> list[str]:
    """The argv :func:`skopeo` runs (TLS and credential flags inserted after the subcommand)."""
    if not args:
        raise ValueError("skopeo: a subcommand is required")
    sub, rest = args[0], list(args[1:])
    flags: list[str] = []
    if sub in _SINGLE:
        flags.append("--tls-verify=false")
        if creds is not None:
            flags += ["--creds", creds]
    elif sub in _DOUBLE:
        flags += ["--src-tls-verify=false", "--dest-tls-verify=false"]
        # copy SRC DEST: the last two positional arguments (sync: transports via flags).
        images = [a for a in rest if not a.startswith("-")][-2:]
        src_docker = sub == "sync" or (len(images) == 2 and images[0].startswith("docker://"))
        dest_docker = sub == "sync" or (len(images) == 2 and images[1].startswith("docker://"))
        src_creds = src_creds if src_creds is not None else (creds if src_docker else None)
        dest_creds = dest_creds if dest_creds is not None else (creds if dest_docker else None)
        if src_creds is not None:
            flags += ["--src-creds", src_creds]
        if dest_creds is not None:
            flags += ["--dest-creds", dest_creds]
    elif creds is not None or src_creds is not None or dest_creds is not None:
        raise ValueError(f"skopeo {sub}: credentials are not supported by this helper")
    return ["skopeo", "--insecure-policy", sub, *flags, *rest]


def skopeo(
    *args: str,
    check: bool = True,
    creds: str | None = None,
    src_creds: str | None = None,
    dest_creds: str | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run skopeo; with ``check`` a non-zero exit raises :class:`SkopeoError` (shows stderr)."""
    if shutil.which("skopeo") is None:
        require_tool("skopeo")
    cmd = skopeo_command(*args, creds=creds, src_creds=src_creds, dest_creds=dest_creds)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if check and proc.returncode != 0:
        raise SkopeoError(proc.returncode, cmd, proc.stdout, proc.stderr)
    return proc


def skopeo_raw(ref: str, creds: str | None = None) -> bytes:
    """``skopeo inspect --raw`` as exact bytes (no text decoding)."""
    if shutil.which("skopeo") is None:
        require_tool("skopeo")
    cmd = skopeo_command("inspect", "--raw", ref, creds=creds)
    proc = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SkopeoError(proc.returncode, cmd, proc.stdout, proc.stderr.decode(errors="replace"))
    return proc.stdout
