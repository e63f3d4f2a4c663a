"""What both harnesses do before fuzzing: a corpus folder (a fresh one when none is given) holding the seeds."""

from __future__ import annotations

import os
import sys
import tempfile


def argv_with_seeds(seeds) -> list[str]:
    """sys.argv for libFuzzer, with the first corpus folder created and seeded if it is new or empty."""
    argv = list(sys.argv)
    folders = [a for a in argv[1:] if not a.startswith("-")]
    if not folders:  # no corpus folder given: the seeds in a fresh one
        folders = [tempfile.mkdtemp(prefix="varde-fuzz-corpus-")]
        argv.append(folders[0])
    if os.path.isdir(folders[0]) or not os.path.exists(folders[0]):
        os.makedirs(folders[0], exist_ok=True)
        if not os.listdir(folders[0]):
            for i, seed in enumerate(seeds()):
                with open(os.path.join(folders[0], f"seed-{i:02d}"), "wb") as f:
                    f.write(seed)
            print(f"seed corpus: {folders[0]}", file=sys.stderr)
    return argv
