"""The database's own limit for a create: ``pgbench`` (PostgreSQL's, of the server's version) running the rows
of one API write (the recommendation and its outbox row, in one transaction) at the API bench's concurrency."""

from __future__ import annotations

import asyncio
import re
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from cpted.pgtools import server_major, tool
from shared.db.engine import plain_url

SCRIPT = """BEGIN;
INSERT INTO audits.recommendation (id, version, created_at, updated_at, audit_id, category, description, priority,
                                   status)
VALUES (gen_random_uuid(), 1, now(), now(), '{audit_id}', 'lighting', 'Install LED lighting along the alley',
        '{priority}', '{status}');
INSERT INTO audits.outbox (id, type, version, subject_id, envelope)
VALUES (gen_random_uuid(), 'recommendation.created', 1, gen_random_uuid(), E'{envelope}'::jsonb);
END;
"""


async def _last_write(url: str, audit_id: str) -> tuple[str, str, str]:
    """The newest recommendation of the audit, and its event as logged: the same row and payload sizes."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        row = await conn.fetchrow(
            "SELECT r.priority, r.status, o.envelope::text AS envelope FROM audits.recommendation r "
            "JOIN audits.outbox o ON o.subject_id = r.id WHERE r.audit_id = $1 ORDER BY o.position DESC LIMIT 1",
            audit_id,
        )
    finally:
        await conn.close()
    assert row is not None, "the API bench wrote no recommendation"
    return row["priority"], row["status"], row["envelope"]


def _literal(text: str) -> str:
    """``text`` inside ``E'...'``, with each colon escaped: pgbench takes ``:name`` anywhere in a statement, string
    literals included, for one of its variables (a ``:null`` in the JSON would become a parameter)."""
    return text.replace("\\", "\\\\").replace("'", "''").replace(":", "\\x3a")


async def transactions_per_s(url: str, audit_id: str, connections: int, seconds: int) -> float:
    """Committed write transactions per second pgbench reaches (prepared statements, no vacuum)."""
    priority, status, envelope = await _last_write(url, audit_id)
    pgbench = tool("pgbench", await server_major(url))
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "write.sql"
        body = SCRIPT.format(audit_id=audit_id, priority=priority, status=status, envelope=_literal(envelope))
        script.write_text(body)
        run = await asyncio.to_thread(
            subprocess.run,
            [str(pgbench), "-n", "-M", "prepared", "-c", str(connections), "-j", "2", "-T", str(seconds),
             "-f", str(script), plain_url(url)],
            capture_output=True, text=True, timeout=seconds + 60,
        )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed: {run.stderr.strip()[:500]}")
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", run.stdout)
    if not found:
        raise RuntimeError(f"pgbench said no rate: {run.stdout[-500:]}")
    return float(found.group(1))
