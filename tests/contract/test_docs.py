"""docs/contract.md covers the whole contract (every service, RPC, message, enum and enum value of varde.v1), shows
grpcurl and buf curl for every unary method, and its buf curl commands do against a real server what it says."""

from __future__ import annotations

import re
import shlex
import subprocess

import grpc
import pytest

from tests.contract._tools import ROOT, tool
from tests.support import Running
from varde._proto.varde.v1 import flags_pb2, observations_pb2, patients_pb2, scoring_pb2

DOC = ROOT / "docs" / "contract.md"
FILES = (scoring_pb2, observations_pb2, flags_pb2, patients_pb2)
DOC_ADDRESS = "127.0.0.1:50051"


def _contract_names():
    """(what, name) for everything an integrator meets by name."""

    def message(m, prefix=""):
        yield "message", prefix + m.name
        for e in m.enum_types:
            yield from enum(e, f"{prefix}{m.name}.")
        for nested in m.nested_types:
            if not nested.GetOptions().map_entry:
                yield from message(nested, f"{prefix}{m.name}.")

    def enum(e, prefix=""):
        yield "enum", prefix + e.name
        for v in e.values:
            yield "enum value", v.name

    for module in FILES:
        fd = module.DESCRIPTOR
        for service in fd.services_by_name.values():
            yield "service", service.name
            for method in service.methods:
                yield "rpc", method.name
        for m in fd.message_types_by_name.values():
            yield from message(m)
        for e in fd.enum_types_by_name.values():
            yield from enum(e)


def _unary_methods():
    for module in FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                if not method.client_streaming and not method.server_streaming:
                    yield f"{service.full_name}/{method.name}"


def test_every_name_of_the_contract_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = sorted({f"{what} {name}" for what, name in _contract_names()
                      if not re.search(rf"`{re.escape(name)}[`(]", text)})
    assert missing == [], f"docs/contract.md does not describe: {', '.join(missing)}"


def _commands(tool_name: str) -> list[str]:
    """The `tool_name` commands of the doc's "Calling it by hand" section, continuation lines joined."""
    text = DOC.read_text(encoding="utf-8")
    section = re.search(r"^## Calling it by hand.*?(?=^## )", text, re.S | re.M).group(0)
    out = []
    for block in re.findall(r"^```bash\n(.*?)^```", section, re.S | re.M):
        for command in block.replace("\\\n", " ").splitlines():
            if command.startswith(tool_name + " "):
                out.append(command)
    return out


@pytest.mark.parametrize("method", sorted(_unary_methods()))
def test_every_unary_method_has_a_grpcurl_and_a_buf_curl_call(method):
    assert any(method in c for c in _commands("grpcurl")), f"no grpcurl call of {method}"
    assert any(method in c for c in _commands("buf curl")), f"no buf curl call of {method}"


@pytest.fixture(scope="module")
def server():
    running = Running()
    yield running
    running.stop()


def test_the_buf_curl_calls_work_as_shown(server):
    """In the doc's order, on a fresh server: each call succeeds, or fails with the code its comment names."""
    buf = tool("buf")
    commands = _commands("buf curl")
    assert len(commands) >= 12
    outputs: dict[str, list[str]] = {}
    for command in commands:
        expected = re.search(r"#\s*->\s*([A-Z_]+)\s*$", command)
        argv = shlex.split(command.replace(DOC_ADDRESS, server.address), comments=True)
        run = subprocess.run([buf, *argv[1:]], capture_output=True, text=True, timeout=120)
        want = 8 * grpc.StatusCode[expected.group(1)].value[0] if expected else 0
        assert run.returncode == want, f"{command}\nexit {run.returncode} (expected {want}):\n{run.stdout}{run.stderr}"
        outputs.setdefault(argv[-1].rsplit("/", 1)[-1], []).append(run.stdout)
    # What the doc shows came back: the MEDIUM push raised flag 1, which the coordinator resolved.
    pushed, rejected = outputs["PushObservation"]
    assert '"total": 5' in pushed and '"flagIds": [\n    "1"\n  ]' in pushed
    assert '"rejectReason": "SPO2_OUT_OF_RANGE"' in rejected
    assert '"state": "RESOLVED"' in outputs["ResolveFlag"][0]
    assert '"maxMessageBytes"' in outputs["GetServerInfo"][0]
    assert '"measureEveryMinutes": 240' in outputs["GetPatientSettings"][0]
