"""The import rules of the layout (README, Layout): what may import what."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "app.py").exists())
FRAMEWORKS = ("fastapi", "starlette", "sqlalchemy", "sqlmodel", "asyncpg", "redis", "httpx", "celery")


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _modules(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.py") if "migrations" not in p.parts]


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another(service: str) -> None:
    others = tuple(f"services.{s}" for s in SERVICES if s != service)
    found = [
        (str(p.relative_to(ROOT)), name)
        for p in _modules(ROOT / "services" / service)
        for name in _imports(p)
        if name.startswith(others)
    ]
    assert found == []


def test_shared_imports_no_service_and_no_command_line() -> None:
    found = [
        (str(p.relative_to(ROOT)), name)
        for p in _modules(ROOT / "shared")
        for name in _imports(p)
        if name.startswith(("services", "cpted", "tests", "bench"))
    ]
    assert found == []


def test_domain_code_imports_no_framework_sql_or_settings() -> None:
    domain = [p for p in _modules(ROOT / "services") if "domain" in p.parts or p.stem == "domain"]
    assert len(domain) > 20
    found = [
        (str(p.relative_to(ROOT)), name)
        for p in domain
        for name in _imports(p)
        if name.split(".")[0] in FRAMEWORKS or name.startswith("shared.settings") or name.endswith("get_settings")
    ]
    assert found == []


def test_settings_are_read_only_at_entry_points() -> None:
    entry_points = {
        "shared/settings.py",  # defines get_settings
        "shared/web/app.py",  # the app factory
        "shared/db/migrations.py",  # alembic's env.py, run by alembic itself
        "cpted/command.py",  # the command line
        "services/metrics/tasks.py",  # the Celery tasks
        "services/metrics/projection/consumer.py",  # the consumer's main
        "services/metrics/projection/commands.py",  # rebuild and reconcile, as the command line runs them
    }
    callers = {
        str(p.relative_to(ROOT))
        for folder in ("shared", "services", "cpted")
        for p in _modules(ROOT / folder)
        if "get_settings()" in p.read_text()
    }
    assert callers <= entry_points


def test_the_problem_types_and_contracts_import_no_web_framework() -> None:
    """Workers, the consumer and the command line raise and read problems without loading FastAPI."""
    modules = [ROOT / "shared" / "errors.py", *_modules(ROOT / "shared" / "contracts")]
    found = [
        (str(p.relative_to(ROOT)), name)
        for p in modules
        for name in _imports(p)
        if name.split(".")[0] in ("fastapi", "starlette")
    ]
    assert found == []
