"""The entry point of the library: one client, typed options, a store per kind of reference.

::

    from hoist import Client

    with Client(retries=2) as client:
        src = client.at("localhost:5000/app:v1")
        client.copy(src, "ocidir://./oci:v1", platforms=["linux/amd64", "linux/arm64"])
        print(client.image("ocidir://./oci:v1").config.env)
        print(client.tags("localhost:5000/app"))

Options are checked when the client is made; stores open on first use and are closed by
:meth:`Client.close` (or the ``with`` block).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from hoist.errors import InvalidInput, Unsupported
from hoist.location import Location
from hoist.model.platform import PlatformLike, as_platform, as_platforms
from hoist.model.reference import ImageRef, parse_reference

if TYPE_CHECKING:
    from hoist.authoring.mod import Changes
    from hoist.config.credentials import CredentialProvider, Credentials
    from hoist.config.settings import RegistrySettings, TLSMode
    from hoist.copy import CopyResult, Progress
    from hoist.image import Image
    from hoist.model.descriptor import Descriptor
    from hoist.store.base import Store

__all__ = ["Client", "PlatformLike", "Target", "as_platform", "as_platforms"]


log = logging.getLogger(__name__)

Target = Location | ImageRef | str
"""What a verb accepts as a place: a Location, a parsed reference, or reference text."""


def _positive(name: str, value: float, *, zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidInput(f"{name} must be a number, not {value!r}")
    if value < 0 or (value == 0 and not zero):
        raise InvalidInput(f"{name} must be {'at least 0' if zero else 'above 0'}, not {value}")


class Client:
    """Opens stores on demand and offers the everyday verbs.

    Registry options (all keyword-only, checked here):

    - ``credentials``: where saved logins come from (default: ``authfile`` alone when given, or
      ``$REGISTRY_AUTH_FILE``; else containers' ``auth.json`` and Docker's ``config.json``, with
      their helpers);
    - ``login``: credentials for this client only, in front of the saved ones: one
      :class:`~hoist.config.credentials.Credentials` for every registry, or a mapping of registry
      host to credentials; ``anonymous=True`` sends no saved credentials at all;
    - ``settings``: per-registry settings, a mapping or a lookup (default: hoist's config file);
      ``tls`` (``enabled``, ``insecure``, ``disabled``) overrides every registry's TLS mode;
    - ``proxy`` (a URL, or ``direct``) and ``no_proxy`` instead of HTTP(S)_PROXY and NO_PROXY
      (a registry's own ``proxy`` setting still wins);
    - ``retries``, ``connect_timeout``, ``read_timeout`` (seconds to wait for an answer),
      ``stall_timeout`` (seconds a streamed body may send nothing; default ``read_timeout``),
      ``retry_time`` (seconds all retries of one request may take), ``backoff`` and
      ``backoff_max`` (seconds);
    - ``certs_dirs``: the certs.d roots (default ``/etc/containers/certs.d``,
      ``/etc/docker/certs.d``, ``~/.config/containers/certs.d``, or ``$HOIST_CERTS_DIRS``);
    - ``user_agent``; ``chunk_size`` (force chunked uploads of that many bytes).

    ``fsync`` (default True) makes OCI layout writes durable before they are published.
    Use as a context manager, or call :meth:`close`, to release connections.
    """

    def __init__(
        self,
        *,
        credentials: CredentialProvider | None = None,
        settings: Mapping[str, RegistrySettings] | Callable[[str], RegistrySettings] | None = None,
        retries: int = 4,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retry_time: float = 60.0,
        backoff: float = 0.5,
        backoff_max: float = 10.0,
        user_agent: str | None = None,
        chunk_size: int | None = None,
        fsync: bool = True,
        login: Credentials | Mapping[str, Credentials] | None = None,
        anonymous: bool = False,
        authfile: str | os.PathLike[str] | None = None,
        tls: TLSMode | None = None,
        proxy: str | None = None,
        no_proxy: str | None = None,
        stall_timeout: float | None = None,
        certs_dirs: Iterable[str | os.PathLike[str]] | None = None,
    ) -> None:
        from hoist.config.credentials import Credentials
        from hoist.config.settings import parse_proxy_url

        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput(f"retries must be a whole number of at least 0, not {retries!r}")
        for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
            _positive(name, value)
        for name, value in (("retry_time", retry_time), ("backoff", backoff)):
            _positive(name, value, zero=True)
        _positive("backoff_max", backoff_max, zero=True)
        if chunk_size is not None and (
            isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
        ):
            raise InvalidInput(f"chunk_size must be a whole number above 0, not {chunk_size!r}")
        if user_agent is not None and not isinstance(user_agent, str):
            raise InvalidInput(f"user_agent must be a string, not {user_agent!r}")
        if stall_timeout is not None:
            _positive("stall_timeout", stall_timeout)
        if tls is not None and tls not in ("enabled", "insecure", "disabled"):
            raise InvalidInput(f"tls must be enabled, insecure or disabled, not {tls!r}")
        if proxy is not None:
            proxy = parse_proxy_url(proxy)
        if no_proxy is not None and not isinstance(no_proxy, str):
            raise InvalidInput(f"no_proxy must be a string, not {no_proxy!r}")
        if isinstance(login, Mapping):
            bad = [h for h, c in login.items() if not isinstance(c, Credentials)]
            if bad:
                raise InvalidInput(f"login for {bad[0]} must be Credentials")
        elif login is not None and not isinstance(login, Credentials):
            raise InvalidInput(f"login must be Credentials or a mapping of them, not {login!r}")
        if anonymous and isinstance(login, Credentials):
            raise InvalidInput("anonymous and one login for every registry exclude each other")
        self._login = login
        self._anonymous = bool(anonymous)
        self._authfile = None if authfile is None else os.fspath(authfile)
        self._saved_credentials = credentials
        self._registry_options: dict[str, Any] = {
            "retries": retries,
            "connect_timeout": float(connect_timeout),
            "read_timeout": float(read_timeout),
            "retry_time": float(retry_time),
            "backoff": float(backoff),
            "backoff_max": float(backoff_max),
            "user_agent": user_agent,
            "chunk_size": chunk_size,
            "stall_timeout": None if stall_timeout is None else float(stall_timeout),
            "tls": tls,
            "proxy": proxy,
            "no_proxy": no_proxy,
        }
        if certs_dirs is not None:
            self._registry_options["certs_dirs"] = [os.fspath(d) for d in certs_dirs]
        if settings is not None:
            self._registry_options["settings"] = settings
        self._fsync = bool(fsync)
        self._stores: dict[str, Store] = {}

    def credentials(self) -> CredentialProvider:
        """Where this client's registry logins come from: its ``login`` in front of the saved
        ones (none with ``anonymous``)."""
        from hoist.config.credentials import CommandCredentials, Credentials, default_credentials

        saved = self._saved_credentials
        if saved is None and not self._anonymous:
            saved = default_credentials(self._authfile)
        login = self._login
        if login is None and not self._anonymous:
            assert saved is not None
            return saved
        return CommandCredentials(
            saved,
            hosts=dict(login) if isinstance(login, Mapping) else None,
            everywhere=login if isinstance(login, Credentials) else None,
            anonymous=self._anonymous,
        )

    # -- places ---------------------------------------------------------------------------

    def ref(self, text: str | ImageRef) -> ImageRef:
        """Parse a reference string (references pass through)."""
        return parse_reference(text) if isinstance(text, str) else text

    def at(self, where: Target) -> Location:
        """The location ``where`` names: ``"ocidir://x:tag"``, ``"host/repo:tag"`` or a
        reference (a Location passes through)."""
        if isinstance(where, Location):
            return where
        ref = self._parse_local_hint(where) if isinstance(where, str) else where
        return Location(self.store(ref), ref)

    @staticmethod
    def _parse_local_hint(text: str) -> ImageRef:
        """Parse ``text``; a bare path that exists here gets ``did you mean ocidir://PATH?``."""
        from hoist.errors import InvalidReference

        bare = "://" not in text and not text.startswith(
            ("oci:", "oci-archive:", "docker-archive:")
        )
        try:
            ref = parse_reference(text)
        except InvalidReference as exc:
            if bare and text and os.path.exists(text):
                raise InvalidReference(f"{exc}; did you mean ocidir://{text}?") from None
            raise
        if bare and ref.kind == "registry" and os.path.exists(text):
            scheme = "oci-archive" if os.path.isfile(text) else "ocidir"
            log.warning(
                "%s is read as %s on a registry; for the local path write %s://%s",
                text,
                ref,
                scheme,
                text,
            )
        return ref

    def store(self, ref: ImageRef) -> Store:
        """The store that serves ``ref``, created once per kind."""
        kind = ref.kind
        store = self._stores.get(kind)
        if store is None:
            store = self._open(kind)
            self._stores[kind] = store
        return store

    def _open(self, kind: str) -> Store:
        if kind == "ocidir":
            from hoist.store.ocidir import OCIDirStore

            return OCIDirStore(fsync=self._fsync)
        if kind == "registry":
            from hoist.store.registry import RegistryStore

            return RegistryStore(credentials=self.credentials(), **self._registry_options)
        if kind in ("oci-archive", "docker-archive"):
            from hoist.store.archive import ArchiveStore

            return ArchiveStore(kind)
        raise Unsupported(f"no store for {kind}:// references yet")

    # -- the everyday verbs ---------------------------------------------------------------

    def image(self, where: Target, *, platform: PlatformLike | None = None) -> Image:
        """A lazy view of the image ``where`` names (an index resolves to ``platform``,
        default the local one)."""
        from hoist.image import Image  # not on the start path of commands that need no image

        return Image(self.at(where), platform=None if platform is None else as_platform(platform))

    def tags(self, repository: Target) -> list[str]:
        """Every tag of a repository or layout, sorted."""
        return self.at(repository).tag_list()

    def copy(
        self,
        src: Target,
        dst: Target,
        *,
        platforms: Iterable[PlatformLike] | PlatformLike | None = None,
        platform: PlatformLike | None = None,
        referrers: bool = False,
        digest_tags: bool = False,
        force: bool = False,
        concurrency: int = 4,
        include_nondistributable: bool = False,
        progress: Progress | None = None,
    ) -> CopyResult:
        """Copy an image (an index with every platform, by default byte for byte).

        ``platforms`` keeps only those platforms in a new valid index; ``platform`` copies
        one platform's manifest alone.
        """
        from hoist.copy import CopyOptions, image_copy

        options = CopyOptions(
            platform=platform,
            platforms=as_platforms(platforms),
            referrers=referrers,
            digest_tags=digest_tags,
            force=force,
            concurrency=concurrency,
            include_nondistributable=include_nondistributable,
        )
        return image_copy(self.at(src), self.at(dst), options, progress=progress)

    def mod(
        self,
        src: Target,
        dst: Target,
        changes: Changes,
        *,
        platform: PlatformLike | None = None,
    ) -> Descriptor:
        """Change an image (config, layers, annotations, media types) and write it to ``dst``."""
        from hoist.authoring.mod import image_mod

        return image_mod(
            self.at(src),
            self.at(dst),
            changes,
            platform=None if platform is None else as_platform(platform),
        )

    # -- life -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close every store (archives being written are completed); the first error is raised
        after all were closed."""
        stores, self._stores = list(self._stores.values()), {}
        errors = []
        for store in stores:
            try:
                store.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def abort(self) -> None:
        """Drop what stores were writing (archives) and close them: after a failed operation."""
        from hoist.store.base import Aborter

        for store in self._stores.values():
            if isinstance(store, Aborter):
                store.abort()
        self.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc is not None:
            self.abort()
        else:
            self.close()
