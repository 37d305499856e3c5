"""Docker's and containers' per-registry certificate directories (``certs.d``).

For registry ``HOST[:PORT]``, each of ``/etc/containers/certs.d/HOST[:PORT]/``,
``/etc/docker/certs.d/HOST[:PORT]/`` and ``~/.config/containers/certs.d/HOST[:PORT]/`` may hold:

- ``*.crt``: CA certificates trusted for that registry, on top of the system's;
- ``NAME.cert`` with ``NAME.key``: a client certificate and its key (mTLS).

``$HOIST_CERTS_DIRS`` (paths separated by ``:``) replaces the list of roots. Reading files only;
nothing here imports urllib3 or ssl.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hoist.errors import InvalidInput

__all__ = ["DEFAULT_CERTS_DIRS", "HostCerts", "certs_dirs", "host_certs"]

DEFAULT_CERTS_DIRS: tuple[str, ...] = (
    "/etc/containers/certs.d",
    "/etc/docker/certs.d",
    "~/.config/containers/certs.d",
)
"""Where containers' tools (podman, skopeo) and Docker look, in this order."""


@dataclass(frozen=True, slots=True)
class HostCerts:
    """What the certs.d directories hold for one registry."""

    ca_files: tuple[str, ...] = ()
    client_cert: str | None = None
    client_key: str | None = None
    directory: str | None = None
    """The directory the client certificate came from (for messages)."""

    def __bool__(self) -> bool:
        return bool(self.ca_files or self.client_cert)


def certs_dirs() -> tuple[Path, ...]:
    """``$HOIST_CERTS_DIRS`` split at ``:``, else :data:`DEFAULT_CERTS_DIRS`; ``~`` expanded."""
    explicit = os.environ.get("HOIST_CERTS_DIRS")
    roots = explicit.split(":") if explicit is not None else list(DEFAULT_CERTS_DIRS)
    return tuple(Path(r).expanduser() for r in roots if r)


def host_certs(host: str, roots: Sequence[Path | str] | None = None) -> HostCerts:
    """The CA files and the client certificate for ``host`` (``reg:5000``) under ``roots``
    (default :func:`certs_dirs`). A ``.cert`` without its ``.key`` (or the reverse) is an error,
    as in Docker; the first directory with a client certificate wins."""
    cas: list[str] = []
    cert = key = found_in = None
    for root in certs_dirs() if roots is None else tuple(Path(r) for r in roots):
        directory = Path(root) / host
        try:
            names = sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise InvalidInput(f"{directory}: cannot read: {exc.strerror or exc}") from None
        cas.extend(str(directory / n) for n in names if n.endswith(".crt"))
        certs = {n[: -len(".cert")] for n in names if n.endswith(".cert")}
        keys = {n[: -len(".key")] for n in names if n.endswith(".key")}
        for stem in sorted(certs ^ keys):
            have, want = (".cert", ".key") if stem in certs else (".key", ".cert")
            raise InvalidInput(f"{directory / (stem + have)}: no matching {stem + want}")
        if cert is None and certs:
            stem = sorted(certs)[0]
            cert, key = str(directory / f"{stem}.cert"), str(directory / f"{stem}.key")
            found_in = str(directory)
    return HostCerts(tuple(cas), cert, key, found_in)
