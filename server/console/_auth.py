"""Console accounts and sessions: argon2id password hashes, server-side sessions in the queue's store (so that a
restart or another replica keeps everyone signed in), a CSRF token per session, and a login rate limit."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .. import clock

__all__ = ["ROLES", "Accounts", "LoginLimiter", "Signed", "check_password_rules"]

ROLES = ("viewer", "coordinator", "admin")
"""viewer reads; coordinator also takes, releases, resolves, notes and escalates; admin also reads the audit trail.
They match the gRPC roles: coordinator is the gRPC coordinator role, admin the operator's (docs/console.md)."""

_HASHER = PasswordHasher()  # argon2id, the library's current defaults (RFC 9106 low-memory profile)
# Verifying against this when the user does not exist costs as much as a real check: no timing oracle for names.
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


def check_password_rules(password: str) -> None:
    if len(password) < 12:
        raise ValueError("a console password needs at least 12 characters")
    if len(password) > 1024:
        raise ValueError("a console password may have at most 1,024 characters")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _HASHER.hash(password)


@dataclass(frozen=True)
class Signed:
    """A signed-in user as a request sees them."""

    username: str
    display_name: str
    unit: str
    role: str
    session: str  # the session id's hash (the store key)
    csrf: str

    @property
    def actor(self) -> str:
        return f"console:{self.username}"

    def may(self, action: str) -> bool:
        if action == "read":
            return True
        if action == "act":
            return self.role in ("coordinator", "admin")
        if action == "admin":
            return self.role == "admin"
        raise ValueError(action)


def _key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Accounts:
    def __init__(self, store, *, idle_seconds: float, absolute_seconds: float):
        self.store = store
        self.idle_us = int(idle_seconds * 1e6)
        self.absolute_us = int(absolute_seconds * 1e6)

    def add_user(self, username: str, unit: str, role: str, password: str, display_name: str = ""):
        if role not in ROLES:
            raise ValueError(f"role {role!r}: choose one of {', '.join(ROLES)}")
        if not username or len(username) > 64 or not all(c.isalnum() or c in "._-@" for c in username):
            raise ValueError("a user name is 1-64 letters, digits and . _ - @")
        return self.store.add_console_user(username, unit, role, hash_password(password),
                                           (display_name or username)[:100])

    def set_password(self, username: str, password: str) -> None:
        if self.store.console_user(username) is None:
            raise ValueError(f"no console user {username!r}")
        self.store.set_console_password(username, hash_password(password))
        self.store.drop_console_sessions(username=username)  # a new password signs out every session

    def check(self, username: str, password: str):
        """The user if the password is theirs and they are not disabled; None otherwise (never says which)."""
        user = self.store.console_user(username) if username else None
        try:
            _HASHER.verify(user.password_hash if user else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled:
            return None
        if _HASHER.check_needs_rehash(user.password_hash):
            self.store.set_console_password(username, _HASHER.hash(password))
        return user

    def open_session(self, user) -> tuple[str, str]:
        """A new session (a new id at every login); returns (cookie value, CSRF token)."""
        raw = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        self.store.create_console_session(_key(raw), user.username, csrf)
        return raw, csrf

    def signed_in(self, raw: str | None) -> Signed | None:
        if not raw or len(raw) > 100:
            return None
        key = _key(raw)
        session = self.store.console_session(key)
        if session is None:
            return None
        now = clock.now_us()
        if now - session.seen_at > self.idle_us or now - session.created_at > self.absolute_us:
            self.store.drop_console_session(key)
            return None
        user = self.store.console_user(session.username)
        if user is None or user.disabled:
            self.store.drop_console_session(key)
            return None
        if now - session.seen_at > 30_000_000:  # a write per request would be wasted; a minute's slack is not
            self.store.touch_console_session(key)
        return Signed(user.username, user.display_name, user.unit, user.role, key, session.csrf)

    def close_session(self, signed: Signed) -> None:
        self.store.drop_console_session(signed.session)

    def sweep(self) -> int:
        now = clock.now_us()
        return self.store.drop_console_sessions(idle_before_us=now - self.idle_us,
                                                created_before_us=now - self.absolute_us)


class LoginLimiter:
    """At most `per_user` failed logins per user name and `per_address` per client address in `window` seconds;
    beyond that, logins are refused without checking the password until the window has passed."""

    def __init__(self, per_user: int = 5, per_address: int = 20, window: float = 300.0):
        self.per_user, self.per_address, self.window = per_user, per_address, window
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until a login may be tried again; 0 when it may now."""
        now = time.monotonic()
        with self._lock:
            waits = []
            for key, limit in ((f"u:{username.lower()}", self.per_user), (f"a:{address}", self.per_address)):
                q = self._recent(key, now)
                if len(q) >= limit:
                    waits.append(q[0] + self.window - now)
            return int(max(waits) + 1) if waits else 0

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"u:{username.lower()}", f"a:{address}"):
                self._recent(key, now).append(now)
            if len(self._failures) > 100_000:  # a flood of names must not grow memory without bound
                self._failures = {k: q for k, q in self._failures.items() if q and q[-1] > now - self.window}

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"u:{username.lower()}", None)
