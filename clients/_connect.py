"""The connection options every `varde` command that talks to a server shares: address, TLS, token."""

from __future__ import annotations

import argparse
import os

__all__ = ["add_connection_args", "connect"]

_HELP = """\
connection (also VARDE_SERVER, VARDE_TLS_CA, VARDE_CLIENT_TLS_CERT, VARDE_CLIENT_TLS_KEY, VARDE_TLS_SERVER_NAME,
VARDE_TOKEN, VARDE_TOKEN_FILE, VARDE_DPOP_KEY): a server on this machine needs none of these; one on the network
needs --tls-ca, and a client certificate (--tls-cert/--tls-key) or a token (docs/security.md)"""


def add_connection_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """--server (default 127.0.0.1:50051 when `required`, else off) and the credential options."""
    env = os.environ.get
    g = p.add_argument_group("connection", _HELP)
    if required:
        g.add_argument("--server", metavar="HOST:PORT", default=env("VARDE_SERVER", "127.0.0.1:50051"),
                       help="server address (default: %(default)s)")
    g.add_argument("--tls-ca", metavar="PEM", default=env("VARDE_TLS_CA"),
                   help="CA that signed the server's certificate (turns TLS on)")
    # VARDE_TLS_CERT/KEY are the server's own (varde serve): a client's have names of their own.
    g.add_argument("--tls-cert", metavar="PEM", default=env("VARDE_CLIENT_TLS_CERT"),
                   help="your client certificate, for mutual TLS")
    g.add_argument("--tls-key", metavar="PEM", default=env("VARDE_CLIENT_TLS_KEY"), help="its private key")
    g.add_argument("--tls-server-name", metavar="NAME", default=env("VARDE_TLS_SERVER_NAME"),
                   help="the name the server's certificate holds, when it is not the one dialled "
                        "(e.g. a health check on 127.0.0.1)")
    tok = g.add_mutually_exclusive_group()
    tok.add_argument("--token", metavar="JWT", default=env("VARDE_TOKEN"),
                     help="access token (prefer --token-file or VARDE_TOKEN: a command line is visible to others)")
    tok.add_argument("--token-file", metavar="PATH", default=env("VARDE_TOKEN_FILE"),
                     help="file holding the access token, read again when it changes")
    g.add_argument("--dpop-key", metavar="PEM", default=env("VARDE_DPOP_KEY"),
                   help="EC private key the token is bound to (DPoP); a proof is signed for every call")


def connect(args, **kw):
    """A VardeClient for the parsed arguments; a bad credential file is an InputError naming it."""
    from ._files import InputError
    from .client import VardeClient

    try:
        return VardeClient(args.server, tls_ca=args.tls_ca, tls_cert=args.tls_cert, tls_key=args.tls_key,
                           tls_server_name=args.tls_server_name, token=args.token, token_file=args.token_file,
                           dpop_key=args.dpop_key, **kw)
    except ValueError as e:
        raise InputError(str(e)) from None
