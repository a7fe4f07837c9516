"""The counting done by PostgreSQL agrees with the rules ``contributions.py`` states, record by record and for
batches of events delivered late, twice, out of order, and split across transactions."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.projection.projector import apply_events, kinds_of_types
from services.metrics.totals.domain import contributions as c
from services.metrics.totals.domain.contributions import Key
from services.metrics.totals.store import counting, projections
from services.metrics.totals.store.counting import CONTRIBUTION
from shared.bus import outbox
from shared.contracts.events import Envelope
from shared.contracts.events.audits import (
    AuditCreated,
    AuditDeleted,
    AuditRequestState,
    AuditState,
    AuditUpdated,
    RecommendationCreated,
    RecommendationState,
    RecommendationStatusChanged,
)
from shared.contracts.events.envelope import Payload
from shared.contracts.events.events import DistributionState, EventState, MaterialState, StakeholderState, TrainingState
from shared.db.engine import session_factory

ZONE = "America/Toronto"
PARTNERSHIPS = [uuid.UUID(int=i) for i in range(1, 4)]
NEIGHBOURHOODS = [uuid.UUID(int=i) for i in range(11, 14)]
STATUSES = ["proposed", "accepted", "in_progress", "implemented", "declined", "deferred"]


def _day(rng: random.Random) -> date:
    return date(2025, 1, 1) + timedelta(days=rng.randrange(400))


def _moment(rng: random.Random) -> datetime:
    # Around midnight in Toronto, across the changes of clocks, so the local day matters.
    return datetime(2025, 3, 9, 3, 0, tzinfo=UTC) + timedelta(
        days=rng.choice([0, 1, 238, 239]), minutes=rng.randrange(240)
    )


def _maybe(rng: random.Random, value: Any) -> Any:
    return value if rng.random() < 0.7 else None


def an_audit(rng: random.Random, id_: uuid.UUID | None = None) -> AuditState:
    return AuditState(id=id_ or uuid.uuid4(), partnership_id=rng.choice(PARTNERSHIPS),
                      neighbourhood_id=rng.choice(NEIGHBOURHOODS), site_name="Laneway", conducted_on=_day(rng),
                      trigger="other", status=rng.choice(["planned", "completed"]))  # fmt: skip


def a_recommendation(rng: random.Random, audit_id: uuid.UUID, id_: uuid.UUID | None = None) -> RecommendationState:
    status = rng.choice(STATUSES)
    return RecommendationState(id=id_ or uuid.uuid4(), audit_id=audit_id,
                               category=rng.choice(["lighting", "signage"]), description="d", priority="low",
                               status=status, implemented_on=_maybe(rng, _day(rng)))  # fmt: skip


RECORDS: dict[str, Callable[[random.Random], Payload]] = {
    "audit_request": lambda rng: AuditRequestState(
        id=uuid.uuid4(), place="p", description="d", neighbourhood_id=_maybe(rng, rng.choice(NEIGHBOURHOODS)),
        status=rng.choice(["received", "scheduled", "done", "rejected"]), reason="r",
        partnership_id=_maybe(rng, rng.choice(PARTNERSHIPS)), source="web", received_at=_moment(rng),
    ),
    "event": lambda rng: EventState(
        id=uuid.uuid4(), partnership_ids=rng.sample(PARTNERSHIPS, rng.randrange(3)) * rng.choice([1, 2]),
        name="n", kind="festival", special=rng.random() < 0.5, starts_at=_moment(rng),
        neighbourhood_id=_maybe(rng, rng.choice(NEIGHBOURHOODS)), officers_attending=rng.randrange(3),
        status=rng.choice(["scheduled", "held", "cancelled"]),
    ),
    "material": lambda rng: MaterialState(
        id=uuid.uuid4(), slug="s", kind="brochure", topic="cpted_audit", source_language="en",
        published_on=_day(rng),
        translations={lang: {"title": "t", "body": "b", "translated_on": _day(rng)}
                      for lang in rng.sample(["en", "fr", "pa", "zh"], rng.randrange(4))},
    ),
    "distribution": lambda rng: DistributionState(
        id=uuid.uuid4(), material_id=uuid.uuid4(), agency="a", language="en", copies=rng.randrange(3) * 100,
        audience="public", distributed_on=_day(rng),
    ),
    "training": lambda rng: TrainingState(
        id=uuid.uuid4(), agency="a", topic="t", cohort="recruits", attendees=rng.randrange(3), held_on=_day(rng),
    ),
    "stakeholder": lambda rng: StakeholderState(
        id=uuid.uuid4(), partnership_id=rng.choice(PARTNERSHIPS), name="n", kind="bia",
        neighbourhood_id=_maybe(rng, rng.choice(NEIGHBOURHOODS)), connected_on=_day(rng), status="active",
    ),
}  # fmt: skip


def documented(kind: str, state: Any, parent: Any = None) -> Counter[Key]:
    rules: dict[str, Callable[[], Counter[Key]]] = {
        "audit": lambda: c.audit(state),
        "recommendation": lambda: c.recommendation(state, parent),
        "audit_request": lambda: c.audit_request(state, ZONE),
        "event": lambda: c.event(state, ZONE),
        "material": lambda: c.material(state),
        "distribution": lambda: c.distribution(state),
        "training": lambda: c.training(state),
        "stakeholder": lambda: c.stakeholder(state),
    }
    return rules[kind]()


async def counted_by_sql(engine: AsyncEngine, records: list[tuple[str, Any, Any]]) -> list[Counter[Key]]:
    query = text(
        f"""
        SELECT r.i, k.partnership_id, k.neighbourhood_id, k.metric, k.day, k.value
        FROM unnest(CAST(:kinds AS text[]), CAST(:states AS text[]), CAST(:parents AS text[]))
             WITH ORDINALITY AS r(kind, state, parent, i)
        CROSS JOIN LATERAL (SELECT r.kind, r.state::jsonb AS state, r.parent::jsonb AS parent, 1 AS sign) AS c
        {CONTRIBUTION}
        """
    )
    params = {
        "kinds": [kind for kind, _, _ in records],
        "states": [state.model_dump_json(by_alias=True) if state else None for _, state, _ in records],
        "parents": [parent.model_dump_json(by_alias=True) if parent else None for _, _, parent in records],
        "zone": ZONE,
    }
    counted: list[Counter[Key]] = [Counter() for _ in records]
    async with engine.connect() as conn:
        for i, p, n, metric, day, value in await conn.execute(query, params):
            counted[i - 1][Key(p, n, metric, day)] += value
    return counted


async def test_each_record_counts_in_sql_what_the_rules_say(engine: AsyncEngine) -> None:
    rng = random.Random(5)
    records: list[tuple[str, Any, Any]] = []
    for _ in range(60):
        audit = an_audit(rng)
        records.append(("audit", audit, None))
        records.append(("recommendation", a_recommendation(rng, audit.id), rng.choice([audit, None])))
        records += [(kind, make(rng), None) for kind, make in RECORDS.items()]
    records += [(kind, None, None) for kind in [*RECORDS, "audit", "recommendation"]]  # gone, or never seen
    by_sql = await counted_by_sql(engine, records)
    for (kind, state, parent), got in zip(records, by_sql, strict=True):
        assert got == documented(kind, state, parent), (kind, state, parent)
    assert sum(len(got) for got in by_sql) > 1000  # the cases count something


def audit_history(rng: random.Random) -> list[Envelope]:
    """Audits and their recommendations changing, moving, deleted, in the order the producer sent them."""
    events: list[Envelope] = []
    for _ in range(12):
        audit_id, version = uuid.uuid4(), 1
        state = an_audit(rng, audit_id)
        events.append(AuditCreated(source="audits", subject_id=audit_id, subject_version=1, payload=state))
        recs = {uuid.uuid4(): 0 for _ in range(rng.randrange(1, 5))}
        for step in range(rng.randrange(2, 9)):
            if rng.random() < 0.3:
                version += 1
                state = an_audit(rng, audit_id)
                cls = AuditDeleted if step > 5 and rng.random() < 0.3 else AuditUpdated
                events.append(cls(source="audits", subject_id=audit_id, subject_version=version, payload=state))
                continue
            rec_id = rng.choice(list(recs))
            rec = a_recommendation(rng, audit_id, rec_id)
            recs[rec_id] += 1
            if recs[rec_id] == 1:
                events.append(RecommendationCreated(source="audits", subject_id=rec_id, subject_version=1, payload=rec))
                continue
            move = rec.model_dump() | {"from": "accepted", "to": rec.status, "on": _day(rng)}
            events.append(RecommendationStatusChanged(source="audits", subject_id=rec_id,
                                                      subject_version=recs[rec_id], payload=move))  # fmt: skip
    return events


def documented_totals(events: list[Envelope]) -> tuple[Counter[Key], dict[uuid.UUID, date]]:
    """What the rules say the counters are once every event is applied: the contributions of the latest
    states; and the first day each recommendation went in progress."""
    latest: dict[uuid.UUID, Envelope] = {}
    progress: dict[uuid.UUID, date] = {}
    for e in events:
        if e.subject_id not in latest or e.subject_version > latest[e.subject_id].subject_version:
            latest[e.subject_id] = e
        if isinstance(e, RecommendationStatusChanged) and e.payload.to == "in_progress":
            progress[e.subject_id] = min(progress.get(e.subject_id, e.payload.on), e.payload.on)

    def live(e: Envelope | None) -> Any:
        return None if e is None or isinstance(e, AuditDeleted) else e.payload

    totals: Counter[Key] = Counter()
    for e in latest.values():
        if isinstance(e, RecommendationCreated | RecommendationStatusChanged):
            totals.update(c.recommendation(e.payload, live(latest.get(e.payload.audit_id))))
        else:
            totals.update(c.audit(live(e)))
    return +totals, progress


async def stored_totals(engine: AsyncEngine) -> tuple[Counter[Key], Counter[tuple[Any, ...]], dict[uuid.UUID, date]]:
    async with engine.connect() as conn:
        daily = await conn.execute(
            text("SELECT partnership_id, neighbourhood_id, metric, day, value FROM metrics.counter_daily")
        )
        totals = await conn.execute(
            text("SELECT partnership_id, neighbourhood_id, metric, value FROM metrics.counter_total")
        )
        progress = await conn.execute(
            text("SELECT recommendation_id, in_progress_on FROM metrics.recommendation_progress")
        )
        by_day = +Counter({Key(p, n, m, d): v for p, n, m, d, v in daily})
        overall = +Counter({(p, n, m): v for p, n, m, v in totals})
        return by_day, overall, {r: d for r, d in progress}


@pytest.mark.parametrize("seed", range(4))
async def test_batches_late_repeated_and_out_of_order_end_at_the_counts_of_the_latest_states(
    engine: AsyncEngine, clean: None, seed: int
) -> None:
    rng = random.Random(seed)
    events = audit_history(rng)
    order = events + rng.sample(events, len(events) // 3)  # redelivered: a crash before XACK, a relay again
    rng.shuffle(order)
    at = 0
    while at < len(order):
        size = rng.randrange(1, 40)
        async with engine.begin() as conn:
            await apply_events(conn, order[at : at + size], zone=ZONE)
        at += size
    expected, progress = documented_totals(events)
    by_day, overall, stored_progress = await stored_totals(engine)
    assert expected and by_day == expected
    per_metric: Counter[tuple[Any, ...]] = Counter()
    for key, value in expected.items():
        per_metric[(key.partnership_id, key.neighbourhood_id, key.metric)] += value
    assert overall == +per_metric
    assert stored_progress == progress


async def test_a_rebuild_counts_what_the_consumer_counted_and_readers_see_the_old_counts_until_it_commits(
    engine: AsyncEngine, clean: None
) -> None:
    events = audit_history(random.Random(9))
    order = events * 2
    random.Random(10).shuffle(order)
    for at in range(0, len(order), 25):
        async with engine.begin() as conn:
            await apply_events(conn, order[at : at + 25], zone=ZONE)
    applied = await stored_totals(engine)
    async with engine.begin() as conn:  # projections gone wrong, which a rebuild puts right
        await conn.execute(text("UPDATE metrics.counter_total SET value = value + 1000"))
    wrong = await stored_totals(engine)
    names = await index_names(engine)
    async with engine.begin() as conn:
        await projections.hold_writers(conn)
        await projections.stage(conn)
        await projections.copy_staged(conn, csv_log(engine, events))
        await projections.build_from_staged(conn, kinds_of_types(), ZONE)
        assert await asyncio.wait_for(stored_totals(engine), 5) == wrong  # read while the rebuild is not done
        rebuilt = await projections.swap_in(conn)
    assert rebuilt == len(events)
    assert await stored_totals(engine) == applied
    assert await index_names(engine) == names  # what later migrations name
    async with engine.begin() as conn:  # and the consumer applies on the new tables
        assert await apply_events(conn, events[:3], zone=ZONE) == 0


async def csv_log(engine: AsyncEngine, events: list[Envelope]) -> AsyncIterator[bytes]:
    """The events as a producer's log serves them in its CSV form: logged in the audits outbox, then read by the
    producer's own COPY, as one page."""
    table = outbox.outbox_table(MetaData(schema="audits"))
    async with session_factory(engine)() as session:
        await outbox.write(session, table, events)
        await session.commit()
        bounds = await outbox.log_bounds(session, table, 0, len(events) + 1, 0)
    assert bounds.through - bounds.after == len(events) and bounds.next_after is None
    async for chunk in outbox.stream_log(engine, table, bounds, "csv"):
        yield chunk


async def index_names(engine: AsyncEngine) -> set[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'metrics'"))
        return {(table, index) for table, index in rows}


async def test_a_consumer_waiting_for_a_rebuild_applies_on_the_new_projections(
    engine: AsyncEngine, clean: None
) -> None:
    events = audit_history(random.Random(3))
    logged, later = events[: len(events) // 2], events[len(events) // 2 :]
    async with engine.begin() as conn:  # the consumer's statements prepared on the current tables
        await apply_events(conn, logged[:5], zone=ZONE)

    async def consume() -> int:
        async with engine.begin() as conn:
            return await apply_events(conn, later, zone=ZONE)

    async with engine.begin() as conn:
        await projections.hold_writers(conn)
        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.3)
        assert not consumer.done()  # it waits for the rebuild
        await projections.stage(conn)
        await projections.copy_staged(conn, csv_log(engine, logged))
        await projections.build_from_staged(conn, kinds_of_types(), ZONE)
        await projections.swap_in(conn)
    assert await consumer == len(later)
    by_day, _, progress = await stored_totals(engine)
    assert (by_day, progress) == documented_totals(events)


@pytest.mark.parametrize("statement", [counting.APPLY, counting.RECORD_AND_LOCK], ids=["apply", "record"])
async def test_a_batch_statement_looks_records_up_by_key_whatever_the_tables_held_when_it_was_planned(
    engine: AsyncEngine, clean: None, statement: TextClause
) -> None:
    """A consumer's connection plans each batch statement once (``counting.ONE_PLAN``), here over empty tables, the
    plan most tempted to read a whole table: its lookups must still go by index, or a batch would read the whole
    projection once the tables hold millions of rows."""
    compiled = statement.compile(dialect=engine.dialect)
    arguments = {"batch": "'[]'", "zone": f"'{ZONE}'", "events": "'[]'", "lock": "true"}
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute("SET plan_cache_mode = force_generic_plan")
        await raw.execute(f"PREPARE batch_statement AS {compiled.string}")
        values = ", ".join(arguments[name] for name in compiled.positiontup or [])
        plan = "\n".join(r[0] for r in await raw.fetch(f"EXPLAIN (COSTS OFF) EXECUTE batch_statement({values})"))
        await raw.execute("DEALLOCATE batch_statement; RESET plan_cache_mode")
    lines = [line.strip() for line in plan.splitlines()]
    assert [line for line in lines if line.startswith(("->  Seq Scan", "Seq Scan"))] == [], plan
    # Each index is searched for one record or one audit's recommendations, never for every row of a kind.
    assert [line for line in lines if line.startswith("Index Cond") and "id = " not in line] == [], plan
    assert "Index Scan using pk_subject on subject" in plan or statement is counting.RECORD_AND_LOCK


async def test_two_consumers_take_turns_on_one_audit_and_count_it_once(engine: AsyncEngine, clean: None) -> None:
    """A batch about an audit (here: its recommendation) waits for the lock of a batch about the same audit that
    has not committed yet, then counts against the state that one wrote (without the wait, it would find no
    audit and count the recommendation nowhere); the batch's statements run on the plans their connection made for
    them once."""
    rng = random.Random(5)
    audit_id, rec_id = uuid.uuid4(), uuid.uuid4()
    created = AuditCreated(source="audits", subject_id=audit_id, subject_version=1, payload=an_audit(rng, audit_id))
    rec = RecommendationCreated(source="audits", subject_id=rec_id, subject_version=1,
                                payload=a_recommendation(rng, audit_id, rec_id))  # fmt: skip
    async with engine.connect() as first:
        await first.begin()
        assert await apply_events(first, [created], zone=ZONE) == 1
        plans = (await first.execute(text("SELECT current_setting('plan_cache_mode')"))).scalar_one()
        assert plans == "force_generic_plan"

        async def second() -> int:
            async with engine.begin() as conn:
                return await apply_events(conn, [rec], zone=ZONE)

        waiting = asyncio.create_task(second())
        for _ in range(500):  # until the second batch waits on the first one's lock
            async with engine.connect() as conn:
                blocked = await conn.execute(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                )
                if blocked.scalar_one():
                    break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the second batch never waited for the lock of the first")
        assert not waiting.done()
        await first.commit()
    assert await asyncio.wait_for(waiting, 10) == 1
    expected, _ = documented_totals([created, rec])
    by_day, _, _ = await stored_totals(engine)
    assert by_day == expected
