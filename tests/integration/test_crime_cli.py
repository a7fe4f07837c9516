"""``cpted import-incidents`` as a script runs it: exit codes, one-line messages, idempotent re-runs."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx

GOOD = "Incident Number,Offence,Occurred,X,Y\nE1,Theft,2025-02-01 10:00,-83.045,42.305\nE2,Theft,2025-02-02 10:00,,\n"
BAD_ROW = "E3,Theft,not a date,-83.045,42.305\n"


async def _cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cpted", "import-incidents", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ, COLUMNS="200"),
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_exit_codes_scripts_can_rely_on(tmp_path: Path, metrics_api: httpx.AsyncClient) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD.replace("E2,Theft,2025-02-02 10:00,,\n", ""))
    bad.write_text(GOOD + BAD_ROW)

    code, out, _ = await _cli(str(good), "--source", "wps")
    assert code == 0 and "stored 1 new incidents from 1 rows" in out
    code, out, _ = await _cli(str(good), "--source", "wps")
    assert code == 0 and "stored 0 new incidents" in out and "1 already stored" in out

    code, out, err = await _cli(str(bad), "--source", "wps")
    assert code == 3 and "nothing stored" in out
    assert "line 3: needs longitude and latitude, or a neighbourhood_id" in err
    assert "line 4: occurred_at: cannot read 'not a date'" in err
    assert (await metrics_api.get("/v1/crime-incidents/count")).json()["count"] == 1

    code, out, _ = await _cli(str(bad), "--source", "wps", "--on-error", "skip")
    assert code == 4 and "2 bad rows skipped" in out

    code, _, err = await _cli(str(tmp_path / "missing.csv"))
    assert code == 2
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("a,b\n1,2\n")
    code, _, err = await _cli(str(headerless))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "no column for external_id" in err


async def test_every_bad_row_can_be_written_to_a_file(tmp_path: Path, metrics_api: httpx.AsyncClient) -> None:
    many = tmp_path / "many.csv"
    many.write_text(GOOD + "".join(f"B{n},Theft,not a date,-83.045,42.305\n" for n in range(30)))
    written = tmp_path / "bad-rows.csv"
    code, _, err = await _cli(str(many), "--source", "wps", "--bad-rows", str(written))
    assert code == 3
    rows = written.read_text().splitlines()
    assert rows[0] == "line,reason" and len(rows) == 1 + 31  # every bad row, not the 20 shown
    assert rows[1].startswith("3,") and rows[-1].startswith("33,occurred_at: cannot read")
    assert f"all 31 bad rows are in {written}" in err
