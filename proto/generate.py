"""Generate varde/_proto from proto/varde/v1/*.proto: the one command, and the check that CI runs.

    python proto/generate.py          # write the generated modules
    python proto/generate.py --check  # exit 1 if the checked-in modules are not what the .proto files give

protoc names a generated module's imports after the .proto path (`from varde.v1 import ...`); they are
rewritten to live under the private package `varde._proto`, so that `varde` stays one namespace.
"""

from __future__ import annotations

import argparse
import difflib
import pathlib
import re
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / "varde" / "_proto"
PACKAGE = "varde/v1"
_IMPORT = re.compile(r"^from varde\.v1 import", re.M)


def generate() -> dict[str, str]:
    """Relative path -> text of every generated file."""
    import grpc_tools
    from grpc_tools import protoc

    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(HERE)) for p in (HERE / PACKAGE).glob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        args = ["protoc", f"-I{HERE}", f"-I{include}", f"--python_out={tmp}", f"--pyi_out={tmp}",
                f"--grpc_python_out={tmp}", *protos]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed; see the message above")
        files = {}
        for path in sorted(pathlib.Path(tmp).rglob("*.py*")):
            text = _IMPORT.sub("from varde._proto.varde.v1 import", path.read_text())
            files[str(path.relative_to(tmp))] = text
    for pkg in ("", "varde", PACKAGE):
        files[str(pathlib.Path(pkg) / "__init__.py")] = ""
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 if stale")
    args = p.parse_args(argv)
    files = generate()
    if args.check:
        stale = []
        for rel, text in files.items():
            path = OUT / rel
            old = path.read_text() if path.exists() else ""
            if old != text:
                stale.append(rel)
                sys.stdout.writelines(difflib.unified_diff(
                    old.splitlines(True), text.splitlines(True), f"checked-in/{rel}", f"generated/{rel}", n=1))
        extra = {str(p.relative_to(OUT)) for p in OUT.rglob("*.py*")} - set(files)
        stale += sorted(extra)
        if stale:
            print(f"\nstale generated code: {', '.join(stale)}\nrun: python proto/generate.py", file=sys.stderr)
            return 1
        print("generated code is current")
        return 0
    for rel, text in files.items():
        path = OUT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(files)} files under {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
