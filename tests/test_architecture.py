"""Import rules the design depends on, checked on the source, not by convention."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("actors", "supervisors", "state", "config", "venues", "strategy", "runtime", "bench")
BACKENDS = {"pykka", "ray"}
# Pure decision code: no runtime, no threads, no clocks read behind the caller's back.
PURE = (
    "venues/sim",
    "strategy",
    "supervisors/spec.py",
    "supervisors/intensity.py",
    "state/events.py",
    "state/fold.py",
    "state/invariants.py",
    "state/report.py",
    "state/recovery.py",
    "venues/live/wire.py",
    "actors/messages.py",  # data only: the decide functions of state/ take and return these
)
IMPURE_FOR_PURE_CODE = BACKENDS | {"threading", "time", "duckdb", "socket", "websocket"}


def modules(*roots: str) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        path = ROOT / root
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return found


def imported_top_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path", modules(*PACKAGES, "run.py"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_only_the_runtime_backends_import_pykka_or_ray(path: Path) -> None:
    allowed = {ROOT / "runtime" / "pykka_backend.py", ROOT / "runtime" / "ray_backend.py"}
    if path in allowed:
        return
    assert not imported_top_names(path) & BACKENDS, f"{path} imports a backend"


@pytest.mark.parametrize("path", modules(*PURE), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_modules_do_no_io_and_start_no_threads(path: Path) -> None:
    assert not imported_top_names(path) & IMPURE_FOR_PURE_CODE, f"{path} is not pure"


@pytest.mark.parametrize("path", modules("config"), ids=lambda p: str(p.relative_to(ROOT)))
def test_loading_a_config_imports_no_actor_supervisor_or_runtime_code(path: Path) -> None:
    # `run.py check-config` and every test's settings load without starting anything.
    assert not imported_top_names(path) & {"actors", "supervisors", "runtime"}, (
        f"{path} imports actor code"
    )


def test_the_test_suite_cannot_be_shadowed_by_a_site_packages_tests_package() -> None:
    # py-order-utils installs a top-level `tests`; pytest must import ours by path.
    setup = (ROOT / "setup.cfg").read_text()
    assert "--import-mode=importlib" in setup
    assert not (ROOT / "tests" / "__init__.py").exists()
    assert Path(__file__).resolve().is_relative_to(ROOT)
