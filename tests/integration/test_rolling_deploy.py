"""A rolling deploy over one database: the release before an expand step and the release after it run side by
side, then the contract step runs once the old one is gone (docs/operations.md, "Upgrades").

The change tried is the requester-retention one: ``audits0901`` (expand) added ``audit_request.closed_at``,
which the new release sets when a request is closed and retention counts from; ``audits0902`` (contract)
fills it for the requests the old release closed meanwhile. The old release is represented by the statements
it makes on the table that changed: it closes a request without ``closed_at``, inserts requests naming only
the columns it knew, and reads only those columns.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cpted.schemas import SCHEMAS
from shared.db.migrations import alembic_config
from tests.integration.test_audit_requests_api import a_request
from tests.integration.test_retention import closed_at, closed_request, on_file, run_audits

# What the release before ``audits0901`` sends when a request is rejected, and what it reads back.
OLD_REJECT = """
    UPDATE audits.audit_request SET status = 'rejected', reason = :reason, version = version + 1, updated_at = :at
    WHERE id = :id
"""
OLD_INSERT = """
    INSERT INTO audits.audit_request (id, version, created_at, updated_at, place, description, status, source,
                                      attributes, received_at)
    VALUES (:id, 1, :at, :at, 'Underpass on 3rd Street', 'No light under the bridge', 'received', 'web', '{}', :at)
"""
OLD_READ = "SELECT id, status, reason, version, updated_at FROM audits.audit_request ORDER BY received_at"


def _audits_migrations(url: str) -> Any:
    (location,) = [location for location, schema in SCHEMAS if schema == "audits"]
    return alembic_config(location, "audits", url)


async def test_requests_the_old_release_closes_mid_deploy_are_served_and_erased_after_the_contract_step(
    engine: AsyncEngine, audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    migrations = _audits_migrations(engine.url.render_as_string(hide_password=False))
    # The database as the rolling deploy sees it: the expand step has run, the contract step has not.
    await asyncio.to_thread(command.downgrade, migrations, "audits0901")

    new_closed = await closed_request(audits_api, world, "rejected")
    by_old = (await audits_api.post("/v1/audit-requests", json=a_request(world))).json()
    old_closed_at = datetime.fromisoformat(by_old["received_at"]) + timedelta(hours=2)
    inserted_by_old = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(OLD_REJECT), {"id": uuid.UUID(by_old["id"]), "reason": "duplicate", "at": old_closed_at}
        )
        await conn.execute(text(OLD_INSERT), {"id": inserted_by_old, "at": old_closed_at})

    # Each release reads what the other wrote.
    async with engine.connect() as conn:
        old_view = {row.id: row for row in (await conn.execute(text(OLD_READ))).all()}
    assert old_view[uuid.UUID(new_closed["id"])].status == "rejected"
    assert old_view[uuid.UUID(by_old["id"])].reason == "duplicate"
    served = (await audits_api.get(f"/v1/audit-requests/{by_old['id']}")).json()
    assert (served["status"], served["closed_at"]) == ("rejected", None)
    inserted = await audits_api.get(f"/v1/audit-requests/{inserted_by_old}")
    assert inserted.status_code == 200 and inserted.json()["status"] == "received"

    # A year on, before the contract step, retention would reach only the request the new release closed.
    year_on = datetime.fromisoformat(new_closed["closed_at"]) + timedelta(days=400)
    counted = await run_audits(engine, year_on, dry_run=True, requester=365)
    assert counted["requester_contacts"] == 1

    # The contract step, once no process of the old release runs.
    await asyncio.to_thread(command.upgrade, migrations, "heads")
    assert await closed_at(engine, by_old["id"]) == old_closed_at
    assert await closed_at(engine, new_closed["id"]) == datetime.fromisoformat(new_closed["closed_at"])
    assert (await audits_api.get(f"/v1/audit-requests/{inserted_by_old}")).json()["closed_at"] is None

    contacts = await on_file(engine)
    assert (await run_audits(engine, year_on, requester=365))["requester_contacts"] == 2
    assert await on_file(engine) == contacts - 2
    served = (await audits_api.get(f"/v1/audit-requests/{by_old['id']}")).json()
    assert datetime.fromisoformat(served["closed_at"]) == old_closed_at
