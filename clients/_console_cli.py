"""`varde console user ...`: the console's local accounts, kept in the queue's store (the same --queue as `varde
serve`). Run on the server's machine by the operator; there is no remote account API."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from ._files import InputError

__all__ = ["add_parser"]

_EXAMPLES = """\
examples:
  varde console user add anne --unit 974600951 --role coordinator --name "Anne Hansen"   # asks for the password
  printf '%s\\n' "$PASSWORD" | varde console user add demo --role admin --password-stdin
  varde console user list
  varde console user passwd anne
  varde console user disable anne

Roles: viewer (reads flags and patients), coordinator (also takes, releases, resolves, notes and escalates),
admin (also reads the audit log). --unit is the organisation number whose flags the user sees; flags pushed without
a credential (a server without --auth-config) belong to the unit '' (the default here).
Then start the server with the console: varde serve --console-port 8080   and open http://127.0.0.1:8080/
"""


def add_parser(sub) -> None:
    c = sub.add_parser("console", help="the coordinators' web console: its user accounts",
                       description="Manage the console's local accounts (docs/console.md).",
                       epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    csub = c.add_subparsers(dest="console_command", metavar="ACTION")
    csub.required = True
    u = csub.add_parser("user", help="add, list, change or disable console users", epilog=_EXAMPLES,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    usub = u.add_subparsers(dest="user_command", metavar="ACTION")
    usub.required = True

    def store_arg(p):
        p.add_argument("--queue", metavar="PATH|URL",
                       help="the store the server uses (default: VARDE_QUEUE or varde-queue.sqlite3)")

    a = usub.add_parser("add", help="create a user (asks for the password)")
    a.add_argument("username")
    a.add_argument("--unit", default="", help="the organisation number whose flags the user sees (default: '')")
    a.add_argument("--role", required=True, choices=("viewer", "coordinator", "admin"))
    a.add_argument("--name", default="", help="the name shown as 'taken by' (default: the user name)")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    store_arg(a)
    a.set_defaults(func=_add)
    p = usub.add_parser("passwd", help="set a new password (signs the user out everywhere)")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true")
    store_arg(p)
    p.set_defaults(func=_passwd)
    li = usub.add_parser("list", help="the users, their units and roles")
    store_arg(li)
    li.set_defaults(func=_list)
    d = usub.add_parser("disable", help="stop a user signing in (ends their sessions)")
    d.add_argument("username")
    store_arg(d)
    d.set_defaults(func=_disable)


def _store(args):
    from varde.server.store import open_store

    return open_store(args.queue or os.environ.get("VARDE_QUEUE") or "varde-queue.sqlite3")


def _accounts(store):
    from varde.server.console._auth import Accounts

    return Accounts(store, idle_seconds=1800, absolute_seconds=43200)


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password (at least 12 characters): ")
    if getpass.getpass("again: ") != first:
        raise InputError("the two passwords differ; nothing was changed")
    return first


def _add(args) -> int:
    from varde.server.store import StoreError

    password = _password(args)
    store = _store(args)
    try:
        user = _accounts(store).add_user(args.username, args.unit, args.role, password, args.name)
    except (ValueError, StoreError) as e:
        raise InputError(str(e)) from None
    finally:
        store.close()
    print(f"added {user.username} ({user.role}, unit {user.unit or repr('')})")
    return 0


def _passwd(args) -> int:
    password = _password(args)
    store = _store(args)
    try:
        _accounts(store).set_password(args.username, password)
    except ValueError as e:
        raise InputError(str(e)) from None
    finally:
        store.close()
    print(f"new password set for {args.username}; their sessions have ended")
    return 0


def _list(args) -> int:
    store = _store(args)
    try:
        users = store.console_users()
    finally:
        store.close()
    if not users:
        print("no console users; add one with: varde console user add NAME --role coordinator")
        return 0
    width = max(len(u.username) for u in users)
    for u in users:
        state = " (disabled)" if u.disabled else ""
        print(f"{u.username:<{width}}  {u.role:<11}  unit {u.unit or repr('')}  {u.display_name}{state}")
    return 0


def _disable(args) -> int:
    store = _store(args)
    try:
        if store.console_user(args.username) is None:
            raise InputError(f"no console user {args.username!r}; see: varde console user list")
        store.disable_console_user(args.username)
        store.drop_console_sessions(username=args.username)
    finally:
        store.close()
    print(f"{args.username} can no longer sign in")
    return 0
