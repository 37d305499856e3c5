"""Running the registry: in a background thread (tests, the demo) or in the foreground (CLI).

::

    with ServerThread(tmp_path) as server:      # a free port on 127.0.0.1
        print(server.url)                        # http://127.0.0.1:PORT
        ...                                      # push to f"{server.host}/repo:tag"
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from hoist.server.app import make_app
from hoist.server.settings import ServerSettings

__all__ = ["ServerThread", "serve"]

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 5.0
START_TIMEOUT = 30.0


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = int(runner.addresses[0][1])
    return runner, bound


class ServerThread:
    """The registry on ``host:port`` (0: a free port), in a thread with its own event loop.

    ``settings``, or the keyword ``app_options`` they are made of (``htpasswd``,
    ``anonymous_read``, ``read_only``, ``max_uploads``, ...; see
    :class:`~hoist.server.settings.ServerSettings`), are checked here, at construction.
    ``start()`` returns once the port accepts connections and raises what prevented that;
    ``stop()`` shuts down and joins the thread.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        host: str = "127.0.0.1",
        port: int = 0,
        settings: ServerSettings | None = None,
        **app_options: Any,
    ) -> None:
        self.root = root
        self.bind_host = host
        self.port = port
        self.settings = ServerSettings.of(settings, app_options)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def host(self) -> str:
        """``HOST:PORT``, the registry part of references (``127.0.0.1:PORT``)."""
        if ":" in self.bind_host:
            return f"[{self.bind_host}]:{self.port}"
        return f"{self.bind_host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.host}"

    def __repr__(self) -> str:
        running = self._thread is not None and self._thread.is_alive()
        return f"<ServerThread {self.url if running else 'stopped'} root={self.root}>"

    def start(self) -> ServerThread:
        """Start serving; returns when ready."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="hoist-serve", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError(f"hoist serve did not start within {START_TIMEOUT:.0f}s")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error
        log.info("serving %s from %s", self.url, self.root)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            try:  # as asyncio.run does: no task is left pending when the loop closes
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                if tasks:
                    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                self._loop = None

    async def _main(self) -> None:
        try:
            app = make_app(self.root, self.settings)
            runner, self.port = await _start(app, self.bind_host, self.port)
            self._stopping = asyncio.Event()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        """Stop serving and wait for the thread (the port is kept for a restart)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stopping.set)
        thread.join(SHUTDOWN_TIMEOUT + 5)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    root: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 5000,
    *,
    on_ready: Callable[[str], None] | None = None,
    settings: ServerSettings | None = None,
    **app_options: Any,
) -> None:
    """Serve in the foreground until SIGINT or SIGTERM; ``on_ready(url)`` once listening.

    ``settings`` or ``app_options``: as for :class:`ServerThread`.
    """
    checked = ServerSettings.of(settings, app_options)

    async def main() -> None:
        app = make_app(root, checked)
        runner, bound = await _start(app, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        shown = f"[{host}]" if ":" in host else host
        if on_ready is not None:
            on_ready(f"http://{shown}:{bound}")
        try:
            await stop.wait()
        finally:
            log.info("shutting down")
            await runner.cleanup()

    asyncio.run(main())
