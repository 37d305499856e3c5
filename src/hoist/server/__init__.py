"""``hoist serve``: an embedded OCI registry (distribution-spec v1.1) over a filesystem root.

* :func:`hoist.server.app.make_app` builds the aiohttp application,
* :class:`hoist.server.run.ServerThread` runs it in a background thread,
* :func:`hoist.server.gc.gc` removes what no tag reaches.

Importing this package does not import aiohttp; ``storage``, ``uploads`` and ``gc`` work
without it.
"""
