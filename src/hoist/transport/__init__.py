"""Registry transport: HTTP over urllib3, authentication, retries (user configuration, Docker's
credentials and hoist's per-registry settings, lives in :mod:`hoist.config`).

Modules (import the one you need; only ``http``, ``response``, ``blob`` and ``auth`` load urllib3):

- ``http``: :class:`~hoist.transport.http.Transport` -- ``request(method, host, path, ...)`` and
  ``open_blob(host, path, digest, size, scopes)``; retries, redirects, TLS modes, http fallback.
- ``response``: :class:`~hoist.transport.response.Response` and how unexpected answers become
  AuthError / RegistryError (``.code``, an ErrorCode or None, and ``.status``) / TransportError.
- ``auth``: WWW-Authenticate parsing and the :class:`~hoist.transport.auth.Authenticator`
  (Basic, bearer tokens, token cache, scope widening).
- ``body`` / ``blob``: request bodies that know if they can be resent; Range-resuming blob reads.
- ``proxy``: HTTP(S)_PROXY and NO_PROXY as Go and curl read them (pure).
- ``tls``: an SSLContext per registry: CA files, certs.d, client certificates (mTLS).
- ``limits``: per-registry req-per-sec and req-concurrent, shared by every thread.
"""
