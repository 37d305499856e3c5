"""Registry credentials from Docker's ``config.json``, containers' ``auth.json``, and helpers.

The file is ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``. Credentials come from,
in order: the helper named for the registry in ``credHelpers``, else the ``credsStore`` helper;
then the ``auths`` entry (``auth`` = base64 ``user:password``, or ``username``/``password``, and
``identitytoken``). Helpers speak the ``docker-credential-<name> get|store|erase`` protocol.

Containers' tools (podman, skopeo, buildah) keep the same format in ``auth.json``:
:func:`default_credentials` reads ``--authfile``/``$REGISTRY_AUTH_FILE`` alone when given, else
``$XDG_RUNTIME_DIR/containers/auth.json``, ``~/.config/containers/auth.json`` and then Docker's
file. :class:`CommandCredentials` puts the logins given for one command (``--creds``) in front.

Registry keys match loosely: ``https://reg:5000/v2/``, ``reg:5000`` and ``http://reg:5000`` are one
registry; Docker Hub (``docker.io``, ``registry-1.docker.io``, ...) is ``https://index.docker.io/v1/``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hoist.config.settings import atomic_write_json, normalize_host, read_json_file
from hoist.errors import AuthError, InvalidInput
from hoist.model.jsonvalue import parse_json

__all__ = [
    "HUB_SERVER_URL",
    "CommandCredentials",
    "CredentialChain",
    "CredentialProvider",
    "CredentialStore",
    "Credentials",
    "auth_file_paths",
    "default_credentials",
    "docker_config_path",
    "login_store",
    "registry_key",
    "server_url",
]

log = logging.getLogger(__name__)

HUB_SERVER_URL = "https://index.docker.io/v1/"
"""The key Docker keeps Docker Hub's credentials under."""

_HUB_HOSTS = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
_TOKEN_USER = "<token>"
_NOT_FOUND = "credentials not found"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password, an identity (refresh) token for the registry's token server,
    or a registry token (a bearer token sent to the registry as it is), for one registry."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    registry_token: str = field(default="", repr=False)

    def __bool__(self) -> bool:
        return bool(self.username or self.password or self.identity_token or self.registry_token)

    def describe(self) -> str:
        """``as USER``, ``with an identity token`` or ``with a registry token``: never a secret."""
        if self.registry_token:
            return "with a registry token"
        if self.username:
            return f"as {self.username}"
        return "with an identity token" if self.identity_token else "anonymously"


class CredentialProvider(Protocol):
    """What a Transport needs: credentials for a registry host, or None."""

    def get(self, host: str) -> Credentials | None: ...


def auth_file_paths() -> tuple[Path, ...]:
    """Where containers' tools keep ``auth.json``: ``$XDG_RUNTIME_DIR/containers/auth.json``,
    then ``~/.config/containers/auth.json`` (``$XDG_CONFIG_HOME`` when set)."""
    paths = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        paths.append(Path(runtime) / "containers" / "auth.json")
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    paths.append(Path(config) / "containers" / "auth.json")
    return tuple(paths)


def _explicit_auth_file(authfile: Path | str | None) -> Path | None:
    if authfile is not None:
        return Path(authfile)
    env = os.environ.get("REGISTRY_AUTH_FILE")
    return Path(env) if env else None


def default_credentials(authfile: Path | str | None = None) -> CredentialProvider:
    """Where logins come from: ``authfile`` (or ``$REGISTRY_AUTH_FILE``) alone when given;
    else containers' ``auth.json`` files that exist, then Docker's ``config.json``."""
    explicit = _explicit_auth_file(authfile)
    if explicit is not None:
        return CredentialStore(explicit)
    stores = [CredentialStore(p) for p in auth_file_paths() if p.is_file()]
    return CredentialChain([*stores, CredentialStore()]) if stores else CredentialStore()


def login_store(authfile: Path | str | None = None) -> CredentialStore:
    """Where ``registry login`` saves: ``authfile`` or ``$REGISTRY_AUTH_FILE`` when given (as
    podman does), else Docker's ``config.json`` (or its credential helper)."""
    explicit = _explicit_auth_file(authfile)
    return CredentialStore(explicit) if explicit is not None else CredentialStore()


class CredentialChain:
    """Providers asked in order; the first with credentials for a host wins."""

    def __init__(self, providers: list[CredentialProvider]) -> None:
        self.providers = list(providers)

    def get(self, host: str) -> Credentials | None:
        for provider in self.providers:
            creds = provider.get(host)
            if creds:
                return creds
        return None


class CommandCredentials:
    """The logins given for one command, in front of the saved ones.

    ``hosts`` maps a registry (``reg:5000``; Docker Hub's aliases are one) to its credentials
    (``--src-creds``/``--dest-creds``); ``everywhere`` applies to every other registry
    (``--creds``); ``anonymous`` sends none at all (``--no-creds``) where neither applies.
    Otherwise ``saved`` (config files and helpers) answers.
    """

    def __init__(
        self,
        saved: CredentialProvider | None = None,
        *,
        hosts: dict[str, Credentials] | None = None,
        everywhere: Credentials | None = None,
        anonymous: bool = False,
    ) -> None:
        self.saved = saved
        self.hosts = {registry_key(h): c for h, c in (hosts or {}).items()}
        self.everywhere = everywhere
        self.anonymous = anonymous

    def get(self, host: str) -> Credentials | None:
        given = self.hosts.get(registry_key(host))
        if given is not None:
            return given
        if self.everywhere is not None:
            return self.everywhere
        if self.anonymous or self.saved is None:
            return None
        return self.saved.get(host)


def docker_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def registry_key(text: str) -> str:
    """The host a config key or registry name stands for, Docker Hub's aliases made one."""
    host = normalize_host(text)
    return "index.docker.io" if host in _HUB_HOSTS else host


def server_url(host: str) -> str:
    """The server URL Docker stores credentials for ``host`` under (and gives to helpers)."""
    key = registry_key(host)
    return HUB_SERVER_URL if key == "index.docker.io" else key


class CredentialStore:
    """Docker's config.json and credential helpers: ``get``, ``store`` and ``erase`` per registry.

    The file is read on each call (callers cache); writes go through a temporary file and a rename
    and keep every field hoist does not know.
    """

    def __init__(self, path: Path | str | None = None, *, helper_timeout: float = 60.0) -> None:
        self.path = Path(path) if path is not None else docker_config_path()
        self.helper_timeout = helper_timeout

    def get(self, host: str) -> Credentials | None:
        """Credentials for ``host``, or None when there are none."""
        data = read_json_file(self.path)
        helper = self.helper_for(host, data)
        if helper is not None:
            creds = self._helper_get(helper, host)
            if creds is not None:
                return creds
        found = _find_entry(data, host)
        return self._decode(*found) if found else None

    def store(self, host: str, creds: Credentials) -> None:
        """Save ``creds`` for ``host``: through its helper if one is set, else in the file."""
        data = read_json_file(self.path)
        helper = self.helper_for(host, data)
        if helper is not None:
            user, secret = creds.username, creds.password
            if creds.identity_token:
                user, secret = _TOKEN_USER, creds.identity_token
            payload = {"ServerURL": server_url(host), "Username": user, "Secret": secret}
            self._run_helper(helper, "store", json.dumps(payload), host)
            return
        auths = _auths(data)
        found = _find_entry(data, host)
        key = found[0] if found else server_url(host)
        entry = {k: v for k, v in auths.get(key, {}).items() if k not in ("username", "password")}
        entry["auth"] = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        if creds.identity_token:
            entry["identitytoken"] = creds.identity_token
        else:
            entry.pop("identitytoken", None)
        auths[key] = entry
        data["auths"] = auths
        atomic_write_json(self.path, data)

    def erase(self, host: str) -> None:
        """Forget ``host``'s credentials, in its helper and in the file."""
        data = read_json_file(self.path)
        helper = self.helper_for(host, data)
        if helper is not None:
            self._run_helper(helper, "erase", server_url(host), host)
        auths = _auths(data)
        keys = [k for k in auths if registry_key(k) == registry_key(host)]
        if keys:
            for k in keys:
                del auths[k]
            atomic_write_json(self.path, data)

    def helper_for(self, host: str, data: dict[str, Any] | None = None) -> str | None:
        """The helper for ``host``: its ``credHelpers`` entry, else ``credsStore``, else None."""
        if data is None:
            data = read_json_file(self.path)
        helpers = data.get("credHelpers") or {}
        if isinstance(helpers, dict):
            for key, name in helpers.items():
                if registry_key(key) == registry_key(host) and isinstance(name, str) and name:
                    return name
        store = data.get("credsStore")
        return store if isinstance(store, str) and store else None

    def _decode(self, key: str, entry: dict[str, Any]) -> Credentials | None:
        username = str(entry.get("username") or "")
        password = str(entry.get("password") or "")
        encoded = entry.get("auth")
        if encoded:
            try:
                username, sep, password = base64.b64decode(str(encoded)).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                sep = ""
            if not sep:
                raise InvalidInput(
                    f"{self.path}: auths[{key!r}].auth is not base64 of user:password"
                )
        token = str(entry.get("identitytoken") or "")
        if not (username or password or token):
            return None
        return Credentials(username, password, token)

    def _helper_get(self, helper: str, host: str) -> Credentials | None:
        try:
            out = self._run_helper(helper, "get", server_url(host), host)
        except AuthError as exc:
            log.warning("%s; going on without its credentials", exc)
            return None
        if out is None:
            return None
        try:
            reply = parse_json(out, what=f"docker-credential-{helper} get's answer")
            username, secret = str(reply.get("Username") or ""), str(reply.get("Secret") or "")
        except (InvalidInput, AttributeError) as exc:
            raise AuthError(f"docker-credential-{helper} get: answer is not JSON") from exc
        if username == _TOKEN_USER:
            return Credentials(identity_token=secret)
        return Credentials(username, secret) if (username or secret) else None

    def _run_helper(self, helper: str, action: str, stdin: str, host: str) -> str | None:
        """Run ``docker-credential-<helper> <action>``; None when it answers "not found"."""
        import subprocess  # only where a credential helper runs: not on every start

        program = f"docker-credential-{helper}"
        try:
            proc = subprocess.run(
                [program, action],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self.helper_timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise AuthError(f"{program}: not installed (named for {host} in {self.path})") from exc
        except subprocess.TimeoutExpired as exc:
            raise AuthError(f"{program} {action}: no answer in {self.helper_timeout:g} s") from exc
        except OSError as exc:
            raise AuthError(f"{program} {action}: {exc.strerror or exc}") from exc
        if proc.returncode != 0:
            message = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
            text = message[0] if message else f"exit status {proc.returncode}"
            if _NOT_FOUND in text.lower():
                return None
            raise AuthError(f"{program} {action} for {host}: {text}")
        return proc.stdout


def _auths(data: dict[str, Any]) -> dict[str, Any]:
    auths = data.get("auths")
    if auths is None:
        return {}
    if not isinstance(auths, dict):
        raise InvalidInput("docker config: auths must be an object")
    return auths


def _find_entry(data: dict[str, Any], host: str) -> tuple[str, dict[str, Any]] | None:
    """The ``auths`` key and entry for ``host``; an exact key wins over a loose match."""
    auths = _auths(data)
    want = registry_key(host)
    matches = [k for k in auths if registry_key(k) == want and isinstance(auths[k], dict)]
    if not matches:
        return None
    exact = [k for k in matches if k in (host, server_url(host))]
    key = (exact or matches)[0]
    return key, auths[key]
