"""A real Varde server with its console on a real socket, and an HTTP session that signs in like a browser.

Cookies are handled by hand: the console's session cookie is Secure, and http.cookiejar never sends a Secure cookie
over http (a browser does, to 127.0.0.1, a secure context)."""

from __future__ import annotations

import os
import re
import tempfile

import httpx

from tests.support import Running
from varde.server.config import Settings
from varde.server.console._auth import Accounts

PASSWORD = "correct horse battery"


class ConsoleServer(Running):
    def __init__(self, queue: str | None = None, **overrides):
        queue = queue or os.path.join(tempfile.mkdtemp(prefix="varde-console-"), "queue.sqlite3")
        settings = Settings(address="127.0.0.1:0", queue=queue, metrics_port=None, console_port=0,
                            escalate_every_seconds=0.2, **overrides)
        super().__init__(settings)
        self.console = self.server.varde.console
        self.url = f"http://127.0.0.1:{self.console.port}"
        self.store = self.server.varde.store
        self.accounts = Accounts(self.store, idle_seconds=1800, absolute_seconds=43200)

    def user(self, name: str, role: str = "coordinator", unit: str = "", display: str = "") -> str:
        self.accounts.add_user(name, unit, role, PASSWORD, display or name.capitalize())
        return name

    def session(self, name: str | None = None, lang: str | None = None) -> Session:
        s = Session(self.url)
        if lang:
            s.cookies["varde_lang"] = lang
        if name:
            s.login(name)
        return s


class Session:
    def __init__(self, url: str):
        self.url = url
        self.cookies: dict[str, str] = {}
        self.http = httpx.Client(base_url=url, follow_redirects=False, timeout=10)

    def _headers(self, extra=None) -> dict:
        h = {"Origin": self.url}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(extra or {})
        return h

    def _keep(self, r: httpx.Response) -> httpx.Response:
        for header in r.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or value in ('""', ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r

    def get(self, path: str, **kw) -> httpx.Response:
        return self._keep(self.http.get(path, headers=self._headers(kw.pop("headers", None)), **kw))

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw) -> httpx.Response:
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf())
        return self._keep(self.http.post(path, data=data, headers=self._headers(kw.pop("headers", None)), **kw))

    def csrf(self) -> str:
        page = self.get("/").text
        m = re.search(r'name="csrf-token" content="([^"]*)"', page)
        return m.group(1) if m else ""

    def login(self, name: str, password: str = PASSWORD) -> httpx.Response:
        r = self.post("/login", {"username": name, "password": password}, csrf=False)
        assert r.status_code == 303, (r.status_code, r.text[:500])
        return r
