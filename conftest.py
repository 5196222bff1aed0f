"""Repository-root conftest: puts the checkout first on sys.path for every test.

Tests import the project's top-level packages (runtime, supervisors, state, ...) by name.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
