"""User configuration, apart from HTTP: Docker's credentials and hoist's per-registry settings.

- :mod:`hoist.config.credentials`: ``config.json`` and ``auth.json`` auths, identity and
  registry tokens, credential helpers, the logins given for one command;
- :mod:`hoist.config.settings`: hoist's own file (per registry: TLS mode, CA file, client
  certificate, mirrors, throttles, proxy);
- :mod:`hoist.config.certs`: Docker's and containers' certs.d directories.

Nothing here imports urllib3: the CLI reads and writes settings without loading the transport.
"""
