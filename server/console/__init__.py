"""The coordinator console (docs/console.md): server-rendered pages beside the gRPC port, on the same store."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

from ..flags._rounds import Rounds

__all__ = ["Console"]

log = logging.getLogger("varde.server.console")


class Console:
    """Runs the console's ASGI application under uvicorn in a thread of the server process."""

    def __init__(self, settings, store, escalation):
        from ._oidc import OidcLogin, load_oidc_config
        from .app import ConsoleConfig, build_app

        self.config = ConsoleConfig(
            store, claim_within_us=escalation.claim_within_us,
            resolve_within_us=getattr(escalation, "resolve_within_us", {}),
            idle_seconds=settings.console_idle_minutes * 60, absolute_seconds=settings.console_session_hours * 3600,
            secure_cookies=True, public_origin=settings.console_origin,
            window_us=int(settings.assembly_window_seconds * 1_000_000) or 1800 * 1_000_000,
            oidc=OidcLogin(load_oidc_config(settings.console_oidc), store) if settings.console_oidc else None)
        self.app = build_app(self.config)
        self.settings = settings
        self._server = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def start(self, host: str, port: int) -> int:
        import uvicorn

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        s = self.settings
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                ssl_certfile=s.tls_cert, ssl_keyfile=s.tls_key, timeout_graceful_shutdown=3,
                                proxy_headers=False, server_header=False, date_header=False)
        self._server = uvicorn.Server(config)
        self.config.feed.start()
        threading.Thread(target=_SessionSweep(self.config.accounts, self.config.feed.stopping).run,
                         name="varde-console-sessions", daemon=True).start()
        started = threading.Event()

        def run():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)

            async def main():
                task = asyncio.ensure_future(self._server.serve(sockets=[sock]))
                while not self._server.started and not task.done():
                    await asyncio.sleep(0.01)
                started.set()
                await task

            try:
                loop.run_until_complete(main())
            finally:
                started.set()
                loop.close()

        self._thread = threading.Thread(target=run, name="varde-console", daemon=True)
        self._thread.start()
        started.wait(30)
        if not self._server.started:
            raise OSError(f"the console could not start on {host}:{port}")
        return self.port

    def stop(self) -> None:
        """End the live streams first (a page then shows itself stale), then stop serving."""
        self.config.feed.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)



class _SessionSweep(Rounds):
    """Drops sessions past their idle or absolute time every ten minutes: a session whose user never comes back
    would otherwise stay in the store for good (one presented late is refused and dropped anyway)."""

    what = "console session sweep"

    def __init__(self, accounts, stopping: threading.Event, every: float = 600.0):
        super().__init__(stopping, every)
        self._accounts = accounts

    def run_once(self) -> int:
        return self._accounts.sweep()
