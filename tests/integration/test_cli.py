"""The ``cpted`` command line as scripts use it: --help everywhere, exit codes 0/1/2, one-line errors.

Commands run as real processes against the test run's database, as an operator runs them.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from cpted.cli import app
from tests import factories
from tests.integration.crime_world import sync_metrics

UNKNOWN = "6d9a3a2e-1111-4c1c-9d7a-000000000000"
NO_DATABASE = {"CPTED_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}


async def _cpted(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cpted", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, COLUMNS="100", **(env or {})),
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group of commands (keys, cswb)
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


ALL = _commands(typer.main.get_command(app))  # type: ignore[arg-type]


def test_the_issues_commands_are_all_there() -> None:
    names = {" ".join(c) for c in ALL}
    for wanted in ("dev", "import-incidents", "export", "rebuild-metrics", "keys create", "cswb build", "report"):
        assert wanted in names


@pytest.mark.parametrize("command", ALL, ids=lambda c: " ".join(c) or "cpted")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "--help" in result.output


@pytest.mark.parametrize(
    ("args", "env", "code", "words"),
    [
        (("report", "--partnership", UNKNOWN, "--period", "2026"), None, 1, f"partnership {UNKNOWN} not found"),
        (("migrate",), NO_DATABASE, 1, "Connect call failed"),
        (("demo",), NO_DATABASE, 1, "Connect call failed"),
        (("export", "audits"), NO_DATABASE, 1, "Connect call failed"),
        (("keys", "revoke", UNKNOWN), None, 1, f"no active key {UNKNOWN}"),
        (("report", "--partnership", UNKNOWN, "--period", "20x6"), None, 2, "is not a period"),
        (("export", "widgets"), None, 2, "widgets"),
        (("export", "recommendations", "--trigger", "follow_up"), None, 2, "not a filter of recommendations"),
        (("export", "audits", "--status", "finished"), None, 2, "one of planned, completed"),
        (("export", "audits", "--conducted-from", "May 1"), None, 2, "not a date"),
        (("relay", "elsewhere"), None, 2, "audits or events"),
        (("cswb", "build", "--from", "2026-02-01", "--to", "2026-01-01"), None, 2, "--from is after --to"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
async def test_errors_exit_with_the_code_scripts_expect(
    args: tuple[str, ...], env: dict[str, str] | None, code: int, words: str, admin_key: str
) -> None:
    status, out, err = await _cpted(*args, env=env)
    assert status == code, err
    assert words in " ".join(err.split())  # a usage error is framed over lines; the message is whole
    assert out == ""
    if code == 1:
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err


async def test_debug_shows_the_traceback(admin_key: str) -> None:
    status, _, err = await _cpted("--debug", "report", "--partnership", UNKNOWN, "--period", "2026")
    assert status == 1 and "Traceback" in err and "NotFound" in err


@pytest.mark.parametrize(
    "debug",
    [
        ("--debug", "migrate"),
        ("migrate", "--debug"),
        ("--debug", "keys", "list"),
        ("keys", "list", "--debug"),
        ("--debug", "demo"),
        ("--debug", "cswb", "build", "--from", "2026-01-01", "--to", "2026-01-01"),  # no --debug of its own
    ],
    ids=" ".join,
)
async def test_debug_on_any_command_shows_the_traceback_and_without_it_one_line(debug: tuple[str, ...]) -> None:
    status, out, err = await _cpted(*debug, env=NO_DATABASE)
    assert status == 1 and out == ""
    assert "Traceback (most recent call last)" in err and "Connect call failed" in err.strip().splitlines()[-1]
    status, out, err = await _cpted(*[a for a in debug if a != "--debug"], env=NO_DATABASE)
    assert status == 1 and out == "" and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ") and "Connect call failed" in err  # after any progress


async def test_debug_shows_the_traceback_of_a_file_that_cannot_be_read(tmp_path: Path, admin_key: str) -> None:
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("a,b\n1,2\n")
    status, _, err = await _cpted("import-incidents", str(headerless), "--debug")
    assert status == 1 and "Traceback" in err and "HeaderError" in err
    status, _, err = await _cpted("import-incidents", str(headerless))
    assert status == 1 and err.strip().startswith("error: ") and len(err.strip().splitlines()) == 1


@pytest.fixture
async def synced(audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine, redis: Redis) -> Any:
    audit_id = world["audit"]["id"]
    for category in ("lighting", "signage"):
        body = factories.recommendation(category=category, description=f'{category}, "quoted"')
        await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=body)
    await sync_metrics(engine, redis)
    return world


async def test_export_writes_what_the_api_serves(
    audits_api: httpx.AsyncClient, synced: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "recommendations.csv"
    status, out, err = await _cpted("export", "recommendations", "--category", "lighting", "--bom", "-o", str(target))
    assert status == 0 and out == "" and "exported 1 recommendations" in err
    served = await audits_api.get("/v1/recommendations/export.csv", params={"category": "lighting", "bom": "true"})
    assert target.read_bytes() == served.content
    assert os.listdir(tmp_path) == ["recommendations.csv"]  # no partial file left beside it
    status, out, _ = await _cpted("export", "audits", "--format", "geojson")
    assert status == 0 and out.startswith('{"type":"FeatureCollection"')
    status, out, _ = await _cpted("export", "audits", "--partnership", UNKNOWN)
    assert status == 0 and list(csv.reader(io.StringIO(out)))[1:] == []


async def test_report_writes_the_same_page_as_the_api(synced: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    pid = synced["partnership"]["id"]
    status, out, err = await _cpted("report", "--partnership", pid, "--period", "2025", "--out", str(target))
    assert status == 0 and out == "" and "wrote the 2025 report" in err
    html = target.read_text()
    assert html.startswith("<!doctype html>") and synced["partnership"]["name"] in html
    assert "<tr data-metric='recommendations'><th>Recommendations made in these audits</th>" in html
    assert "<td data-period='current'>2</td>" in html  # the world's audit is of 2025-04-10


async def test_lists_give_whole_ids_to_scripts_and_json_on_request(world: dict[str, Any]) -> None:
    partnership, audit = world["partnership"]["id"], world["audit"]["id"]
    status, out, _ = await _cpted("partnerships", "list")
    assert status == 0
    header, *lines = out.splitlines()  # piped: tab-separated, never cut or wrapped
    assert header.split("\t") == ["id", "name", "police_service", "status"]
    assert any(line.split("\t")[0] == partnership for line in lines)

    status, out, _ = await _cpted("audits", "list", "--partnership", partnership, "--json")
    assert status == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == [audit]

    status, out, _ = await _cpted("keys", "list")
    assert status == 0
    ids = [line.split("\t")[0] for line in out.splitlines()[1:]]
    assert ids and all(len(key_id) == 36 for key_id in ids)  # what `cpted keys revoke` takes
