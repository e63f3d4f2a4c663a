"""What every request to the console passes first, in one place: the session, the CSRF token and Origin of a
POST, and the security headers of every answer."""

from __future__ import annotations

import secrets
import urllib.parse
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from .app import ConsoleConfig

__all__ = ["CSP", "SESSION_COOKIE", "Guard", "read_form", "safe_next"]

SESSION_COOKIE = "varde_session"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_OPEN_PATHS = ("/login", "/login/oidc", "/login/oidc/callback", "/healthz", "/static/", "/language/")


class Guard(BaseHTTPMiddleware):
    """Sessions, CSRF and Origin checks and the security headers, for every route in one place."""

    def __init__(self, app, config: ConsoleConfig, refuse):
        super().__init__(app)
        self.config, self.refuse = config, refuse

    async def dispatch(self, request: Request, call_next):
        raw = request.cookies.get(SESSION_COOKIE)
        request.state.user = await run_in_threadpool(self.config.accounts.signed_in, raw) if raw else None
        path = request.url.path
        public = any(path == p or (p.endswith("/") and path.startswith(p)) for p in _OPEN_PATHS)
        if request.method == "POST":
            if not self._same_origin(request):
                return secured(self.refuse(request, 403, "refused.origin"))
            if path != "/login":
                user = request.state.user
                if user is None:
                    return secured(self.refuse(request, 401, "refused.signed_out"))
                token = request.headers.get("x-csrf-token")
                if token is None:
                    token = str((await read_form(request)).get("csrf_token", ""))
                if not token or not secrets.compare_digest(token, user.csrf):
                    return secured(self.refuse(request, 403, "refused.csrf"))
        elif request.state.user is None and not public:
            if path in ("/events", "/flags/rows"):
                return secured(PlainTextResponse("sign in first", status_code=401))
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?next=" + urllib.parse.quote(target, safe=""), status_code=303)
        return secured(await call_next(request))

    def _same_origin(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            referer = request.headers.get("referer")
            if not referer:
                return False
            parts = urllib.parse.urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}"
        if self.config.public_origin:
            return origin == self.config.public_origin
        host = request.headers.get("host", "")
        return origin in (f"http://{host}", f"https://{host}")


def secured(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    if response.media_type and response.media_type.startswith("text/html"):
        h.setdefault("Cache-Control", "no-store")
    return response


async def read_form(request: Request):
    """The form, read once: the guard reads it for the CSRF token, the handler for the rest (a body cannot be
    read twice through the middleware)."""
    form = getattr(request.state, "form", None)
    if form is None:
        form = await request.form(max_files=0, max_fields=20, max_part_size=16 * 1024)
        request.state.form = form
    return form


def safe_next(params) -> str:
    """Where to go after signing in: a path of this console only (never another site)."""
    target = str(params.get("next", "") or "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
