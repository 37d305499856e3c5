"""User configuration, apart from HTTP: Docker's credentials and hoist's per-registry settings.

- :mod:`hoist.config.credentials`: ``config.json`` auths, identity tokens, credential helpers;
- :mod:`hoist.config.settings`: hoist's own file (TLS mode, CA file per registry).

Nothing here imports urllib3: the CLI reads and writes settings without loading the transport.
"""
