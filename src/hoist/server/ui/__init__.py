"""The web view of ``hoist serve``: browse the registry's images the way the talk draws them.

Server-rendered pages (Jinja2 templates, no JavaScript) on the registry's own application,
under ``/ui/``: repositories, a repository's tags and referrers, an image from its index
through a platform manifest to its config, its layers beside the history steps that made
them, the images sharing each layer, the shared-layer picture and the raw JSON, and a layer's
two digests and files. It reads the server's storage, never writes, and answers to the same
users as the registry. ``make_app(root, ui=True)`` (``hoist serve --ui``, the default) mounts
it with :func:`hoist.server.ui.app.mount`.
"""
