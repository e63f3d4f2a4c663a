"""Make `tests.reference` (the slow twins) importable however pytest is started, without a tests/__init__.py."""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    # Appended, not prepended: the repository's top-level scoring/, server/ must not shadow installed names.
    sys.path.append(_ROOT)
