"""docs/security.md tells people how to make test certificates: run those very commands, then make a mutual-TLS
handshake with what they produce, so that a typo or a missing extension in the docs fails here and not for a reader."""

from __future__ import annotations

import pathlib
import re
import shlex
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from grpc_health.v1 import health_pb2

from tests.security_support import health_check, health_server

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "security.md"


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no '## {title}' section in {DOC}"
    return match.group(1)


def _bash_blocks(section: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", section, re.MULTILINE | re.DOTALL)


def _openssl_major() -> int | None:
    """3 for "OpenSSL 3.0.13 ...", None for LibreSSL (which has no `req -CA`)."""
    out = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"OpenSSL (\d+)\.", out)
    return int(match.group(1)) if match else None


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[pathlib.Path, str]:
    """The directory the documented openssl commands ran in, and what they printed."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not on PATH")
    if shutil.which("bash") is None:
        pytest.skip("bash is not on PATH (the documented commands are bash)")
    major = _openssl_major()
    if major is None or major < 3:
        pytest.skip("docs/security.md needs OpenSSL 3.0 or later (openssl req -x509 -CA)")
    blocks = [b for b in _bash_blocks(_section("Test certificates")) if b.lstrip().startswith("openssl")]
    assert len(blocks) >= 4, blocks  # CA, server, client, checks
    directory = tmp_path_factory.mktemp("docs-certs")
    output = []
    for block in blocks:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=directory, capture_output=True,
                              text=True, check=False, timeout=60)
        assert done.returncode == 0, f"{block}\nfailed with:\n{done.stderr}"
        output.append(done.stdout)
    return directory, "".join(output)


def _load(directory: pathlib.Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((directory / name).read_bytes())


def test_openssl_verify_says_ok(made):
    _, output = made
    assert "server.pem: OK" in output and "client.pem: OK" in output


def test_extensions_show_in_openssl_text(made):
    directory, _ = made
    text = {name: subprocess.run(["openssl", "x509", "-in", name, "-noout", "-text"], cwd=directory,
                                 capture_output=True, text=True, check=True).stdout
            for name in ("ca.pem", "server.pem", "client.pem")}
    assert "CA:TRUE" in text["ca.pem"] and "Certificate Sign" in text["ca.pem"]
    assert "DNS:localhost" in text["server.pem"] and "IP Address:127.0.0.1" in text["server.pem"]
    assert "TLS Web Server Authentication" in text["server.pem"] and "CA:FALSE" in text["server.pem"]
    assert "TLS Web Client Authentication" in text["client.pem"] and "CA:FALSE" in text["client.pem"]


def test_certificates_are_what_the_text_says(made):
    directory, _ = made
    ca, server, client = (_load(directory, n) for n in ("ca.pem", "server.pem", "client.pem"))
    server.verify_directly_issued_by(ca)
    client.verify_directly_issued_by(ca)
    assert client.subject.rfc4514_string() == "CN=koordinator-1,O=974600951"
    assert list(server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_varde_commands_use_the_files_made(made):
    """The `varde serve` and `varde flags list` lines must name files the openssl commands produced."""
    directory, _ = made
    commands = [b for b in _bash_blocks(_section("Test certificates")) if b.lstrip().startswith("varde")]
    assert [shlex.split(c)[1] for c in commands] == ["serve", "flags"]
    for command in commands:
        words = shlex.split(command)
        for flag in ("--tls-cert", "--tls-key", "--tls-client-ca", "--tls-ca"):
            if flag in words:
                assert (directory / words[words.index(flag) + 1]).is_file(), (flag, command)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_mutual_tls_handshake_with_the_documented_certificates(made, host):
    directory, _ = made
    ca = (directory / "ca.pem").read_bytes()
    with health_server((directory / "server.pem").read_bytes(), (directory / "server.key").read_bytes(), ca) as port:
        status = health_check(f"{host}:{port}", ca, (directory / "client.pem").read_bytes(),
                              (directory / "client.key").read_bytes())
    assert status == health_pb2.HealthCheckResponse.SERVING
