"""The counting rules in SQL: what each record's latest state adds to the counters, applied to sets of records.

This is where the projections' rules are carried out: ``contributions.py``
states them (with examples), and ``tests/integration/test_counting_sql.py``
checks that this SQL and those statements agree. A batch of events is applied
with two statements whatever its size (``RECORD_AND_LOCK``, ``APPLY``); a
rebuild computes every projection from the staged log with one aggregate each
(``REBUILD``).

Records are ``(kind, state, parent, sign)``: ``state`` the live state (NULL
once deleted or never seen), ``parent`` a recommendation's audit's live state,
``sign`` -1 for a contribution taken out and +1 for one put in.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

from shared.bus.outbox import LOG_COLUMNS

ALL_SQL = "'00000000-0000-0000-0000-000000000000'::uuid"
"""``contributions.ALL`` and ``contributions.NOWHERE``."""

PARENT = "CASE WHEN kind = 'recommendation' THEN (state->>'audit_id')::uuid END"
"""A record's parent, whose state its counting depends on: a recommendation's audit."""
IN_PROGRESS = "type = 'recommendation.status_changed' AND state->>'to' = 'in_progress'"
"""An event recording a recommendation's move into ``in_progress`` (``state``: its payload)."""

# What one record counts: things counted (ps: the partnerships taking part, n: the neighbourhood, metric, day,
# weight), then one key per partnership taking part and one under ALL for each. ``c`` is the record.
CONTRIBUTION = f"""
CROSS JOIN LATERAL (
    SELECT p.id AS partnership_id, coalesce(t.n::uuid, {ALL_SQL}) AS neighbourhood_id, t.metric, t.day,
           c.sign * t.w::bigint AS value
    FROM (
        SELECT jsonb_build_array(c.state->'partnership_id') AS ps, c.state->>'neighbourhood_id' AS n, m.metric,
               (c.state->>'conducted_on')::date AS day, 1 AS w
        FROM (VALUES ('audits', true), ('audits_completed', c.state->>'status' = 'completed')) AS m(metric, counts)
        WHERE c.kind = 'audit' AND c.state IS NOT NULL AND m.counts
      UNION ALL
        SELECT a.ps, a.n, m.metric, coalesce(m.day, a.day), 1
        FROM (  -- what the audit gives its recommendation, read once a record, not once a metric (OFFSET 0)
            SELECT jsonb_build_array(c.parent->'partnership_id') AS ps, c.parent->>'neighbourhood_id' AS n,
                   (c.parent->>'conducted_on')::date AS day OFFSET 0
        ) AS a
        CROSS JOIN (VALUES ('recommendations', NULL::date, true),
                           ('recommendations_by_status.' || (c.state->>'status'), NULL, true),
                           ('recommendations_by_category.' || (c.state->>'category'), NULL, true),
                           ('recommendations_implemented', (c.state->>'implemented_on')::date,
                            c.state->>'status' = 'implemented' AND c.state->>'implemented_on' IS NOT NULL))
             AS m(metric, day, counts)
        WHERE c.kind = 'recommendation' AND c.state IS NOT NULL AND c.parent IS NOT NULL AND m.counts
      UNION ALL
        SELECT CASE WHEN c.state->>'partnership_id' IS NULL THEN '[]'::jsonb
                    ELSE jsonb_build_array(c.state->'partnership_id') END,
               c.state->>'neighbourhood_id', m.metric,
               ((c.state->>'received_at')::timestamptz AT TIME ZONE CAST(:zone AS text))::date, 1
        FROM (VALUES ('audit_requests', true),
                     ('audit_requests_open', c.state->>'status' IN ('received', 'scheduled'))) AS m(metric, counts)
        WHERE c.kind = 'audit_request' AND c.state IS NOT NULL AND m.counts
      UNION ALL
        SELECT coalesce(c.state->'partnership_ids', '[]'::jsonb), c.state->>'neighbourhood_id', m.metric,
               ((c.state->>'starts_at')::timestamptz AT TIME ZONE CAST(:zone AS text))::date, m.w
        FROM (VALUES ('events', 1, true),
                     ('special_events', 1, coalesce((c.state->>'special')::boolean, false)),
                     ('officers_attending', coalesce((c.state->>'officers_attending')::int, 0), true))
             AS m(metric, w, counts)
        WHERE c.kind = 'event' AND c.state IS NOT NULL AND c.state->>'status' <> 'cancelled' AND m.counts
      UNION ALL
        SELECT '[]'::jsonb, NULL, 'materials', (c.state->>'published_on')::date, 1
        WHERE c.kind = 'material' AND c.state IS NOT NULL
      UNION ALL
        SELECT '[]'::jsonb, NULL, 'translations', (tr.value->>'translated_on')::date, 1
        FROM jsonb_each(CASE WHEN c.kind = 'material' THEN c.state->'translations' END) AS tr
        WHERE tr.key <> c.state->>'source_language'
      UNION ALL
        SELECT '[]'::jsonb, NULL, 'copies_distributed', (c.state->>'distributed_on')::date,
               (c.state->>'copies')::int
        WHERE c.kind = 'distribution' AND c.state IS NOT NULL
      UNION ALL
        SELECT '[]'::jsonb, NULL, m.metric, (c.state->>'held_on')::date, m.w
        FROM (VALUES ('trainings', 1), ('trainees', (c.state->>'attendees')::int)) AS m(metric, w)
        WHERE c.kind = 'training' AND c.state IS NOT NULL
      UNION ALL
        SELECT jsonb_build_array(c.state->'partnership_id'), c.state->>'neighbourhood_id', m.metric,
               (c.state->>'connected_on')::date, 1
        FROM (VALUES ('stakeholders'), ('new_connections')) AS m(metric)
        WHERE c.kind = 'stakeholder' AND c.state IS NOT NULL
    ) AS t
    CROSS JOIN LATERAL (
        SELECT DISTINCT x::uuid AS id FROM jsonb_array_elements_text(t.ps) AS x
        UNION ALL SELECT {ALL_SQL}
    ) AS p
    WHERE t.w <> 0
) AS k
"""

RECORD_AND_LOCK = text(
    """
    WITH batch AS (
        SELECT (e.v->>0)::uuid AS id, e.v->>1 AS type, e.v->>2 AS namespace, e.v->>3 AS lock_id
        FROM jsonb_array_elements(CAST(:events AS jsonb)) AS e(v)
    ),
    fresh AS (
        INSERT INTO metrics.processed_event (id, type)
        SELECT DISTINCT ON (id) id, type FROM batch ORDER BY id
        ON CONFLICT DO NOTHING RETURNING id
    ),
    locked AS (  -- the locks the new events need, each once, taken in key order
        SELECT pg_advisory_xact_lock(key) FROM (
            SELECT DISTINCT hashtextextended(b.namespace || ':' || b.lock_id, 0) AS key
            FROM batch AS b JOIN fresh AS f USING (id)
            WHERE CAST(:lock AS boolean) AND b.namespace IS NOT NULL
        ) AS k
        ORDER BY key
    )
    SELECT id FROM fresh UNION ALL SELECT NULL FROM locked
    """
)
"""Record the batch's events (a JSON array of ``[id, type, lock namespace, lock id]``) as applied; returns the
ids of those not applied before (and a NULL per lock taken), after taking the advisory lock of each
(``:lock``), named ``<namespace>:<id>``, in one order, so that concurrent consumers never interleave on one audit
nor deadlock."""

ONE_PLAN = text("SET LOCAL plan_cache_mode = force_generic_plan")
"""For the rest of the transaction, each statement runs on the plan its connection made for it once, instead of
being planned again for each batch: planning ``APPLY`` took about 2 ms, four times its run for a small batch,
and a batch's values do not change its best plan (a JSON array's length is unknown to the planner either way).
The plan must hold at any size of the tables whatever their statistics were when it was made, so every lookup
in these statements goes by key: a record's row by ``(kind, id)``, in a ``LATERAL ... LIMIT 1``, which the
planner cannot turn into a scan of the table, and an audit's recommendations by ``(kind, parent_id)``.
``tests/integration/test_counting_sql.py`` checks the plans for scans of whole tables. Statements after the batch's
two in its transaction are planned each time again (``PLANNED_EACH_TIME``): they were not written for one plan."""
PLANNED_EACH_TIME = text("SET LOCAL plan_cache_mode = force_custom_plan")

APPLY = text(
    f"""
    WITH batch AS (
        SELECT type, kind, id, version, {PARENT} AS parent_id, deleted, state, ord
        FROM (
            SELECT b.v->>0 AS type, b.v->>1 AS kind, (b.v->>2)::uuid AS id, (b.v->>3)::int AS version,
                   (b.v->>4)::boolean AS deleted, b.v->5 AS state, b.ord
            FROM jsonb_array_elements(CAST(:batch AS jsonb)) WITH ORDINALITY AS b(v, ord)
        ) AS b
    ),
    newest AS (  -- per record, the latest version in the batch; of two alike, the first
        SELECT DISTINCT ON (kind, id) * FROM batch ORDER BY kind, id, version DESC, ord
    ),
    changed AS (  -- the records the batch moves forward, with their live states before and after
        SELECT n.kind, n.id, n.version, n.parent_id, n.deleted, n.state, s.parent_id AS parent_before,
               CASE WHEN NOT s.deleted THEN s.state END AS before, CASE WHEN NOT n.deleted THEN n.state END AS after
        FROM newest AS n LEFT JOIN LATERAL (  -- a lookup by key each, whatever the table's size
            SELECT * FROM metrics.subject AS s WHERE s.kind = n.kind AND s.id = n.id LIMIT 1
        ) AS s ON true
        WHERE s.version IS NULL OR n.version > s.version
    ),
    written AS (
        INSERT INTO metrics.subject (kind, id, version, parent_id, deleted, state)
        SELECT kind, id, version, parent_id, deleted, state FROM changed ORDER BY kind, id
        ON CONFLICT (kind, id) DO UPDATE SET version = excluded.version, parent_id = excluded.parent_id,
            deleted = excluded.deleted, state = excluded.state
    ),
    audits AS (SELECT id, after FROM changed WHERE kind = 'audit'),
    recommendations AS (  -- those changed, and those under a changed audit: their audit's state may differ
        SELECT id, before, parent_before, after, parent_id AS parent_after FROM changed WHERE kind = 'recommendation'
      UNION ALL
        SELECT s.id, live.state, s.parent_id, live.state, s.parent_id
        FROM metrics.subject AS s JOIN audits AS a ON s.kind = 'recommendation' AND s.parent_id = a.id
        CROSS JOIN LATERAL (SELECT CASE WHEN NOT s.deleted THEN s.state END AS state) AS live
        WHERE NOT EXISTS (SELECT FROM changed AS r WHERE r.kind = 'recommendation' AND r.id = s.id)
    ),
    records AS (
        SELECT kind, before AS state, NULL::jsonb AS parent, -1 AS sign FROM changed WHERE kind <> 'recommendation'
      UNION ALL
        SELECT kind, after, NULL, 1 FROM changed WHERE kind <> 'recommendation'
      UNION ALL
        SELECT 'recommendation', r.before, CASE WHEN NOT pa.deleted THEN pa.state END, -1
        FROM recommendations AS r LEFT JOIN LATERAL (
            SELECT * FROM metrics.subject AS pa WHERE pa.kind = 'audit' AND pa.id = r.parent_before LIMIT 1
        ) AS pa ON true
      UNION ALL
        SELECT 'recommendation', r.after,
               CASE WHEN a.id IS NOT NULL THEN a.after WHEN NOT pa.deleted THEN pa.state END, 1
        FROM recommendations AS r LEFT JOIN audits AS a ON a.id = r.parent_after
        LEFT JOIN LATERAL (
            SELECT * FROM metrics.subject AS pa WHERE pa.kind = 'audit' AND pa.id = r.parent_after LIMIT 1
        ) AS pa ON true
    ),
    deltas AS (
        SELECT k.partnership_id, k.neighbourhood_id, k.metric, k.day, sum(k.value) AS value
        FROM records AS c {CONTRIBUTION}
        GROUP BY 1, 2, 3, 4 HAVING sum(k.value) <> 0
    ),
    daily AS (
        INSERT INTO metrics.counter_daily (partnership_id, neighbourhood_id, metric, day, value)
        SELECT * FROM deltas ORDER BY 1, 2, 3, 4
        ON CONFLICT (partnership_id, neighbourhood_id, metric, day)
        DO UPDATE SET value = counter_daily.value + excluded.value
    ),
    totals AS (
        INSERT INTO metrics.counter_total (partnership_id, neighbourhood_id, metric, value)
        SELECT partnership_id, neighbourhood_id, metric, sum(value) FROM deltas
        GROUP BY 1, 2, 3 HAVING sum(value) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (partnership_id, neighbourhood_id, metric)
        DO UPDATE SET value = counter_total.value + excluded.value
    ),
    progress AS (  -- the earliest day each recommendation went in progress, whatever order the events came in
        INSERT INTO metrics.recommendation_progress (recommendation_id, audit_id, in_progress_on)
        SELECT DISTINCT ON (id) id, (state->>'audit_id')::uuid, (state->>'on')::date FROM batch
        WHERE {IN_PROGRESS} ORDER BY id, (state->>'on')::date
        ON CONFLICT (recommendation_id) DO UPDATE
        SET in_progress_on = LEAST(recommendation_progress.in_progress_on, excluded.in_progress_on)
    )
    SELECT id FROM changed WHERE kind = 'neighbourhood'
    """
)
"""Apply the new events of a batch (a JSON array of ``[type, kind, subject id, subject version, deleted, payload]``,
in order): the latest state of each record moves forward, and the counters change by what the records count
after less what they counted before. Returns the neighbourhoods whose state changed."""

STAGING = "rebuild_log"
STAGE = text(
    f"""
    CREATE TEMP TABLE {STAGING} (
        seq bigint GENERATED ALWAYS AS IDENTITY,
        position bigint NOT NULL,
        id uuid NOT NULL,
        type text NOT NULL,
        version int NOT NULL,
        subject_id uuid NOT NULL,
        subject_version int NOT NULL,
        payload jsonb NOT NULL
    ) ON COMMIT DROP
    """
)
"""The logged events of a rebuild: each row of the event log's CSV form (``outbox.LOG_COLUMNS``) COPYed in as
it was read, numbered in log order (``seq``)."""
STAGED_COLUMNS = LOG_COLUMNS
PAYLOAD = "payload"
STAGED_TYPES = text(f"SELECT DISTINCT type, version FROM {STAGING}")

_KINDS = (
    "unnest(CAST(:kind_types AS text[]), CAST(:kind_versions AS int[]), CAST(:kind_names AS text[]), "
    "CAST(:kind_deletes AS bool[])) AS k(type, version, kind, deletes)"
)
REBUILD = (
    text(
        f"""
        INSERT INTO metrics.processed_event_next (id, type)
        SELECT DISTINCT ON (id) id, type FROM {STAGING} ORDER BY id, seq
        """
    ),
    text(
        f"""
        INSERT INTO metrics.subject_next (kind, id, version, parent_id, deleted, state)
        SELECT k.kind, l.subject_id, l.subject_version, {PARENT}, k.deletes, state
        FROM {STAGING} AS l JOIN {_KINDS} ON k.type = l.type AND k.version = l.version
        CROSS JOIN LATERAL (SELECT l.{PAYLOAD} AS state) AS s
        WHERE l.seq IN (  -- each record's latest event, found by sorting the events without their payloads
            SELECT DISTINCT ON (l.subject_id, k.kind) l.seq
            FROM {STAGING} AS l JOIN {_KINDS} ON k.type = l.type AND k.version = l.version
            ORDER BY l.subject_id, k.kind, l.subject_version DESC, l.seq
        )
        """
    ),
    text(
        f"""
        INSERT INTO metrics.recommendation_progress_next (recommendation_id, audit_id, in_progress_on)
        SELECT DISTINCT ON (id) id, (state->>'audit_id')::uuid, (state->>'on')::date
        FROM (SELECT type, subject_id AS id, {PAYLOAD} AS state FROM {STAGING}) AS l
        WHERE {IN_PROGRESS} ORDER BY id, (state->>'on')::date
        """
    ),
)
"""The latest state of each record (of two alike, the first logged) and the first day each recommendation went
in progress, computed from the staged log into the ``<table>_next`` tables, one aggregate each."""


def counting_from(subjects: str, daily: str, totals: str) -> tuple[TextClause, TextClause]:
    """The counters the latest states in table ``subjects`` add up to, into the empty tables ``daily`` and
    ``totals``: one aggregate each."""
    return (
        text(
            f"""
            INSERT INTO {daily} (partnership_id, neighbourhood_id, metric, day, value)
            SELECT k.partnership_id, k.neighbourhood_id, k.metric, k.day, sum(k.value)
            FROM (
                SELECT s.kind, CASE WHEN NOT s.deleted THEN s.state END AS state,
                       CASE WHEN NOT pa.deleted THEN pa.state END AS parent, 1 AS sign
                FROM {subjects} AS s
                LEFT JOIN {subjects} AS pa ON s.kind = 'recommendation' AND pa.kind = 'audit' AND pa.id = s.parent_id
            ) AS c {CONTRIBUTION}
            GROUP BY 1, 2, 3, 4 HAVING sum(k.value) <> 0
            """
        ),
        text(
            f"""
            INSERT INTO {totals} (partnership_id, neighbourhood_id, metric, value)
            SELECT partnership_id, neighbourhood_id, metric, sum(value) FROM {daily}
            GROUP BY 1, 2, 3 HAVING sum(value) <> 0
            """
        ),
    )
