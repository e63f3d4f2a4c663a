"""The coordinator console: a Starlette application of server-rendered pages (docs/console.md).

Every page and the event stream need a session; every POST needs the session's CSRF token (a form field, or the
X-CSRF-Token header htmx sends) and an Origin of this console. Pages are served with a Content-Security-Policy that
allows only the console's own scripts and styles. No patient identifier reaches a log: the access log is off, and
the console logs only what happened, never to whom."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import logging
import urllib.parse
from importlib import resources

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import clock
from ..store.base import OUTCOMES, STATES, Caller, ClaimConflict, FlagNotFound
from . import _format as fmt
from ._auth import Accounts, LoginLimiter, Signed
from ._feed import Feed
from ._guard import SESSION_COOKIE, Guard, read_form, safe_next
from ._i18n import DEFAULT, LANGUAGES, translator
from ._oidc import OidcError
from ._patient import patient_page
from ._rows import view

__all__ = ["ConsoleConfig", "build_app"]

log = logging.getLogger("varde.server.console")

LANG_COOKIE = "varde_lang"
OIDC_COOKIE = "varde_oidc_state"
KINDS = ("NEWS2_HIGH", "NEWS2_RED", "NEWS2_MEDIUM", "NEWS2_RISING", "MEASUREMENT_OVERDUE", "RISK_UNMET_NEED",
         "RISK_RISING")
_SEVERITY_CODES = {"HIGH": 3, "MEDIUM": 2, "LOW": 1}


class ConsoleConfig:
    def __init__(self, store, *, claim_within_us: dict[int, int], resolve_within_us: dict[int, int],
                 idle_seconds: float = 1800, absolute_seconds: float = 12 * 3600, secure_cookies: bool = True,
                 public_origin: str | None = None, feed_every: float = 0.5, window_us: int = 1800 * 1_000_000,
                 oidc=None):
        self.store = store
        self.oidc = oidc  # an OidcLogin, or None: local accounts only
        self.window_us = window_us
        self.claim_within_us, self.resolve_within_us = claim_within_us, resolve_within_us
        self.accounts = Accounts(store, idle_seconds=idle_seconds, absolute_seconds=absolute_seconds)
        self.limiter = LoginLimiter()
        self.secure_cookies = secure_cookies
        self.public_origin = public_origin
        self.feed = Feed(store, every=feed_every)


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("varde.server.console", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["date_time"] = fmt.date_time
    env.filters["clock_time"] = fmt.clock_time
    env.filters["iso"] = fmt.iso
    return env


class _Refusal(Exception):
    def __init__(self, status: int, key: str, **values):
        super().__init__(key)
        self.status, self.key, self.values = status, key, values


def build_app(config: ConsoleConfig) -> Starlette:
    env = _templates()
    store = config.store

    # -- helpers ------------------------------------------------------------------------------------------------

    def lang_of(request: Request) -> str:
        lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or DEFAULT
        return lang if lang in LANGUAGES else DEFAULT

    def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        lang = lang_of(request)
        t = translator(lang)
        now = clock.now_us()
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        html = env.get_template(template).render(
            t=t, lang=lang, now=now, user=request.state.user, csrf=getattr(request.state.user, "csrf", ""),
            ago=lambda us: fmt.ago(us, now, t), number=lambda v, d=None: fmt.number(v, lang, d),
            duration=lambda s: fmt.duration(s, t), here=here, quote=urllib.parse.quote,
            other_lang="en" if lang == "nb" else "nb",
            oidc_label=config.oidc.config.label if config.oidc is not None else None, **context)
        response = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax",
                                secure=config.secure_cookies)
        return response

    def caller(user: Signed) -> Caller:
        return Caller(actor=user.actor, unit=user.unit, method="console")

    def names() -> dict[str, str]:
        return {f"console:{u.username}": u.display_name for u in store.console_users()}

    def refuse(request: Request, status: int, key: str, **values) -> HTMLResponse:
        return render(request, "refused.html", status=status, message_key=key, values=values)

    # -- signing in ---------------------------------------------------------------------------------------------

    async def login_form(request: Request):
        if request.state.user is not None:
            return RedirectResponse("/", status_code=303)
        return render(request, "login.html", error=None, username="", next=safe_next(request.query_params))

    def redirect_uri(request: Request) -> str:
        origin = config.public_origin or f"{request.url.scheme}://{request.headers.get('host', '')}"
        return origin + "/login/oidc/callback"

    async def oidc_begin(request: Request):
        if config.oidc is None:
            return refuse(request, 404, "oidc.off")
        try:
            url, state = await run_in_threadpool(config.oidc.begin, redirect_uri(request),
                                                 safe_next(request.query_params))
        except OidcError as e:
            log.warning("console: sign-in through %s cannot start: %s", config.oidc.config.label, e.detail)
            return render(request, "login.html", status=502, error=e.key, username="", next="/")
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(OIDC_COOKIE, state, max_age=600, httponly=True, samesite="lax",
                            secure=config.secure_cookies, path="/login/oidc")
        return response

    async def oidc_callback(request: Request):
        if config.oidc is None:
            return refuse(request, 404, "oidc.off")
        try:
            claims, after = await run_in_threadpool(config.oidc.finish, request.query_params,
                                                    request.cookies.get(OIDC_COOKIE), redirect_uri(request))
        except OidcError as e:
            log.warning("console: a sign-in through %s failed: %s", config.oidc.config.label, e.detail)
            await run_in_threadpool(_audit_login, store, "oidc", "LOGIN_FAILED", e.key)
            status = 502 if e.key == "oidc.unavailable" else 403 if e.key in ("oidc.level", "oidc.no_role",
                                                                               "oidc.no_unit") else 401
            response = render(request, "login.html", status=status, error=e.key, username="", next="/")
            response.delete_cookie(OIDC_COOKIE, path="/login/oidc")
            return response
        user = await run_in_threadpool(store.sign_in_console_user, claims.username, claims.unit, claims.role,
                                       claims.display_name)
        if user.disabled:
            await run_in_threadpool(_audit_login, store, user.username, "LOGIN_FAILED", "disabled", user.unit)
            return render(request, "login.html", status=403, error="login.failed", username="", next="/")
        if request.state.user is not None:
            await run_in_threadpool(config.accounts.close_session, request.state.user)
        raw, _csrf = await run_in_threadpool(config.accounts.open_session, user)
        await run_in_threadpool(_audit_login, store, user.username, "LOGIN", f"{user.role} oidc", user.unit)
        log.info("console: a user signed in through %s", config.oidc.config.label)
        response = RedirectResponse(after, status_code=303)
        response.set_cookie(SESSION_COOKIE, raw, httponly=True, samesite="lax", secure=config.secure_cookies,
                            path="/")
        response.delete_cookie(OIDC_COOKIE, path="/login/oidc")
        return response

    async def login(request: Request):
        form = await read_form(request)
        username = str(form.get("username", ""))[:64].strip()
        password = str(form.get("password", ""))[:1024]
        after = safe_next(form)
        address = request.client.host if request.client else "?"
        wait = config.limiter.retry_after(username, address)
        if wait:
            await run_in_threadpool(_audit_login, store, username, "LOGIN_REFUSED", "rate limit")
            response = render(request, "login.html", status=429, error="login.rate_limited", username=username,
                              next=after, wait=wait)
            response.headers["Retry-After"] = str(wait)
            return response
        user = await run_in_threadpool(config.accounts.check, username, password)
        if user is None:
            config.limiter.failed(username, address)
            await run_in_threadpool(_audit_login, store, username, "LOGIN_FAILED", "")
            return render(request, "login.html", status=401, error="login.failed", username=username, next=after)
        config.limiter.succeeded(username)
        if request.state.user is not None:  # signing in again replaces the old session
            await run_in_threadpool(config.accounts.close_session, request.state.user)
        raw, _csrf = await run_in_threadpool(config.accounts.open_session, user)
        await run_in_threadpool(_audit_login, store, username, "LOGIN", user.role, user.unit)
        log.info("console: a user signed in")
        response = RedirectResponse(after, status_code=303)
        response.set_cookie(SESSION_COOKIE, raw, httponly=True, samesite="lax", secure=config.secure_cookies,
                            path="/")
        return response

    async def logout(request: Request):
        user = request.state.user
        await run_in_threadpool(config.accounts.close_session, user)
        await run_in_threadpool(_audit_login, store, user.username, "LOGOUT", "", user.unit)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=config.secure_cookies)
        return response

    # -- the flag list ------------------------------------------------------------------------------------------

    def list_context(request: Request) -> dict:
        user: Signed = request.state.user
        q = request.query_params
        status = q.get("status", "active")
        states = {"active": ("OPEN", "CLAIMED"), "OPEN": ("OPEN",), "CLAIMED": ("CLAIMED",),
                  "RESOLVED": ("RESOLVED",)}.get(status, ("OPEN", "CLAIMED"))
        kind = q.get("kind", "")
        severity = q.get("severity", "")
        team = q.get("team", "").strip()[:80]
        mine = q.get("mine") == "1"
        flags = store.console_flags(
            caller(user), states=states, kinds=(kind,) if kind in KINDS else (),
            severities=(_SEVERITY_CODES[severity],) if severity in _SEVERITY_CODES else (),
            team=team or None, claimed_by=user.actor if mine else None, limit=500)
        patients = sorted({f.patient_id for f in flags})
        teams = store.patient_teams(user.unit, patients)
        received = store.last_received(user.unit, patients)
        who = names()
        rows = [view(f, team=teams.get(f.patient_id, ""), last_received=received.get(f.patient_id),
                     claim_within=config.claim_within_us, resolve_within=config.resolve_within_us, names=who)
                for f in flags]
        return dict(rows=rows, counts=store.status_counts(user.unit),
                    filters=dict(status=status if status in ("active", *STATES) else "active", kind=kind,
                                 severity=severity, team=team, mine=mine),
                    kinds=KINDS, severities=tuple(_SEVERITY_CODES), statuses=("active", *STATES),
                    teams=sorted({r.team for r in rows if r.team}),
                    rows_url="/flags/rows" + (f"?{request.url.query}" if request.url.query else ""))

    async def flag_list(request: Request):
        context = await run_in_threadpool(list_context, request)
        return render(request, "flags.html", **context)

    async def flag_rows(request: Request):
        context = await run_in_threadpool(list_context, request)
        return render(request, "_flag_rows.html", **context)

    # -- one flag -----------------------------------------------------------------------------------------------

    def flag_context(request: Request, flag_id: int) -> dict:
        user: Signed = request.state.user
        flag = store.get(flag_id, caller(user))
        teams = store.patient_teams(user.unit, [flag.patient_id])
        who = names()
        v = view(flag, team=teams.get(flag.patient_id, ""),
                 last_received=store.last_received(user.unit, [flag.patient_id]).get(flag.patient_id),
                 claim_within=config.claim_within_us, resolve_within=config.resolve_within_us, names=who)
        timeline = store.timeline(flag_id, caller(user))
        isbar = None
        if flag.isbar:
            from ..flags import isbar as isbar_text
            try:
                isbar = isbar_text.render(json.loads(flag.isbar), lang_of(request))
            except (ValueError, KeyError, TypeError):
                isbar = None
        return dict(v=v, timeline=timeline, who=who, isbar=isbar, outcomes=OUTCOMES)

    async def flag_page(request: Request):
        flag_id = _flag_id(request)
        try:
            context = await run_in_threadpool(flag_context, request, flag_id)
        except FlagNotFound:
            return refuse(request, 404, "refused.no_flag", id=flag_id)
        return render(request, "flag.html", notice=request.query_params.get("done", ""), conflict=None, **context)

    def act(verb: str):
        async def handler(request: Request):
            user: Signed = request.state.user
            if not user.may("act"):
                return refuse(request, 403, "refused.viewer")
            flag_id = _flag_id(request)
            form = await read_form(request)
            try:
                await run_in_threadpool(_do, verb, flag_id, form, caller(user))
            except _Refusal as r:
                context = await run_in_threadpool(flag_context, request, flag_id)
                return render(request, "flag.html", status=r.status, notice="", conflict=(r.key, r.values),
                              **context)
            except FlagNotFound:
                return refuse(request, 404, "refused.no_flag", id=flag_id)
            log.info("console: flag %d %s", flag_id, verb)
            return RedirectResponse(f"/flags/{flag_id}?done={verb}", status_code=303)
        return handler

    def _do(verb: str, flag_id: int, form, who: Caller) -> None:
        try:
            if verb == "take":
                store.claim(flag_id, who)
            elif verb == "release":
                reason = str(form.get("reason", "")).strip()
                if not reason or len(reason) > 1000:
                    raise _Refusal(422, "flag.release.reason_required")
                store.release(flag_id, who, reason)
            elif verb == "resolve":
                outcome = str(form.get("outcome", ""))
                note = str(form.get("note", "")).strip()
                if outcome not in OUTCOMES:
                    raise _Refusal(422, "flag.resolve.outcome_required")
                if len(note) > 2000:
                    raise _Refusal(422, "flag.note.too_long")
                store.resolve(flag_id, who, note, outcome)
            elif verb == "note":
                text = str(form.get("text", "")).strip()
                if not text:
                    raise _Refusal(422, "flag.note.required")
                if len(text) > 2000:
                    raise _Refusal(422, "flag.note.too_long")
                store.add_note(flag_id, who, text)
            elif verb == "escalate":
                store.escalate(flag_id, who)
        except ClaimConflict:
            current = store.get(flag_id, who)
            holder = names().get(current.claimed_by or "", current.claimed_by or "")
            if current.state == "CLAIMED" and verb == "take":
                raise _Refusal(409, "flag.conflict.taken", who=holder, at=fmt.clock_time(current.claimed_at),
                               day=fmt.date_time(current.claimed_at)) from None
            if current.state == "CLAIMED":
                raise _Refusal(409, "flag.conflict.held", who=holder) from None
            if current.state == "RESOLVED":
                raise _Refusal(409, "flag.conflict.resolved", at=fmt.date_time(current.resolved_at)) from None
            raise _Refusal(409, "flag.conflict.open") from None

    # -- the patient --------------------------------------------------------------------------------------------

    async def patient(request: Request):
        user: Signed = request.state.user
        patient_id = request.path_params["patient_id"][:256]
        span = request.query_params.get("range", "24h")
        lang = lang_of(request)
        context = await run_in_threadpool(patient_page, store, caller(user), patient_id, span, lang,
                                          translator(lang), config.window_us)
        return render(request, "patient.html", **context)

    # -- the audit trail (admin) --------------------------------------------------------------------------------

    def audit_context(request: Request) -> dict:
        user: Signed = request.state.user
        q = request.query_params
        actor = q.get("user", "").strip()[:100]
        since, until = _day(q.get("from", "")), _day(q.get("to", ""), end=True)
        rows = store.audit_log(since_us=since or 0, until_us=until, unit=user.unit,
                               actor=(actor if ":" in actor else f"console:{actor}") if actor else None,
                               limit=2000)
        with store.transaction() as cur:
            store.audit_call(cur, caller(user), "READ_AUDIT", detail=f"{len(rows)} rows")
        day = 24 * 3600 * 1_000_000
        times = store.team_times(user.unit, clock.now_us() - 30 * day)
        return dict(rows=rows, times=times, filters=dict(user=actor, start=q.get("from", ""), end=q.get("to", "")))

    async def audit(request: Request):
        if not request.state.user.may("admin"):
            return refuse(request, 403, "refused.admin")
        context = await run_in_threadpool(audit_context, request)
        return render(request, "audit.html", **context)

    async def audit_csv(request: Request):
        if not request.state.user.may("admin"):
            return refuse(request, 403, "refused.admin")
        context = await run_in_threadpool(audit_context, request)
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["at", "actor", "unit", "action", "method", "flag_id", "patient_id", "batch_id", "rows", "detail"])
        for r in context["rows"]:
            w.writerow([fmt.iso(r.at), r.actor, r.unit, r.action, r.method or "", r.flag_id or "",
                        r.patient_id or "", r.batch_id or "", r.row_count if r.row_count is not None else "",
                        _csv_safe(r.detail)])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="varde-audit.csv"'})

    # -- live ---------------------------------------------------------------------------------------------------

    async def events(request: Request):
        user: Signed = request.state.user
        feed = config.feed
        if feed.stopping.is_set():
            # shutting down: an empty stream, which the browser retries (an error status would end its retries)
            return StreamingResponse(iter(["retry: 2000\n\n"]), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-store"})
        subscriber = feed.subscribe(user.unit)

        async def stream():
            try:
                yield "retry: 2000\n\n"
                yield f"event: hello\ndata: {json.dumps({'cursor': feed.cursor})}\n\n"
                while not feed.stopping.is_set():
                    try:
                        news = await asyncio.wait_for(subscriber.queue.get(), timeout=15)
                    except TimeoutError:
                        yield ": still here\n\n"
                        continue
                    if news is None:
                        break
                    yield f"event: flags\ndata: {json.dumps(news)}\n\n"
            finally:
                feed.unsubscribe(subscriber)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def healthz(request: Request):
        return PlainTextResponse("ok")

    async def set_language(request: Request):
        lang = request.path_params["lang"]
        if lang not in LANGUAGES:
            lang = DEFAULT
        response = RedirectResponse(safe_next(request.query_params), status_code=303)
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax",
                            secure=config.secure_cookies)
        return response

    static = StaticFiles(directory=str(resources.files("varde.server.console").joinpath("static")))
    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/login/oidc", oidc_begin),
        Route("/login/oidc/callback", oidc_callback),
        Route("/logout", logout, methods=["POST"]),
        Route("/", flag_list),
        Route("/flags/rows", flag_rows),
        Route("/flags/{flag_id:int}", flag_page),
        *[Route(f"/flags/{{flag_id:int}}/{verb}", act(verb), methods=["POST"])
          for verb in ("take", "release", "resolve", "note", "escalate")],
        Route("/patients/{patient_id:str}", patient),
        Route("/audit", audit),
        Route("/audit.csv", audit_csv),
        Route("/events", events),
        Route("/healthz", healthz),
        Route("/language/{lang:str}", set_language),
        Mount("/static", static, name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, config=config, refuse=refuse)])
    app.state.config = config
    return app


def _flag_id(request: Request) -> int:
    return int(request.path_params["flag_id"])


def _day(text: str, end: bool = False) -> int | None:
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        return None
    start = dt.datetime.combine(day + dt.timedelta(days=1) if end else day, dt.time(), tzinfo=fmt.OSLO)
    return int(start.timestamp() * 1_000_000) - (1 if end else 0)


def _csv_safe(text: str | None) -> str:
    """A cell a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _audit_login(store, username: str, action: str, detail: str, unit: str = "") -> None:
    with store.transaction() as cur:
        store.audit_call(cur, Caller(actor=f"console:{username[:64]}", unit=unit, method="console"), action,
                         detail=detail)

