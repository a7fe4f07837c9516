"""The engagement demo data: community and special events, outreach material, distributions, training, connections.

Loaded through the real events use cases (so every record has its events in
the outbox and the totals fill up as from real use), once, with ids derived
from the audits demo's namespace. The report counts 19 special events within
the formalized partnerships: exactly 19 special events here are not
cancelled (two more were cancelled and do not count).
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from cpted.demo.audits import ADMIN, DOWNTOWN, FORD_CITY, GLENGARRY, PARTNERS, PARTNERSHIPS, SANDWICH, _id
from cpted.demo.outreach import OUTREACH, Outreach
from services.events.materials.handlers import distributions, materials, trainings
from services.events.materials.schemas import DistributionCreate, MaterialCreate, TrainingCreate, TranslationBody
from services.events.programme.directory import KnownPartnership, StaticDirectory
from services.events.programme.handlers import events, stakeholders
from services.events.programme.schemas import EventCreate, StakeholderCreate
from services.events.tables import Training, outbox
from shared.clock import Clock
from shared.contracts.vocabulary import EventKind as K
from shared.contracts.vocabulary import EventStatus
from shared.db.uow import UnitOfWork

LOCAL = ZoneInfo("America/Toronto")
# The demo is of Windsor, Ontario: its days are Toronto days whatever the settings say.
CLOCK = Clock("America/Toronto")
SEED = 19
# Events before the report's last week were held; later ones are still scheduled.
HELD_BEFORE = date(2026, 11, 20)
WPS, LASALLE, OPP = (
    "Windsor Police Service",
    "LaSalle Police Service",
    "Ontario Provincial Police, Essex County Detachment",
)
AGENCIES = {WPS: 400, LASALLE: 60, OPP: 120}  # frontline copies each agency takes of a material


class Special(NamedTuple):
    partners: tuple[str, ...]
    area: str
    name: str
    kind: K
    on: date
    hours: tuple[time, time]
    officers: int
    attendance: int
    cancelled: bool = False


G, D, F, S = (GLENGARRY,), (DOWNTOWN,), (FORD_CITY,), (SANDWICH,)
GG, DT, FC, WV, ST = "Glengarry-Goyeau", "Downtown", "Drouillard Road (Ford City)", "Walkerville", "Sandwich Town"
DAY, EVENING, NIGHT = (time(11), time(17)), (time(17, 30), time(20, 30)), (time(18), time(22))
SPECIALS = (
    Special(G, GG, "Glengarry Community Block Party", K.festival, date(2024, 6, 15), DAY, 4, 300),
    Special(D, DT, "Farmers' Market: Coffee with a Cop", K.community_event, date(2024, 7, 20), DAY, 3, 450),
    Special(F, FC, "Ford City Summer Street Festival", K.festival, date(2024, 8, 17), DAY, 6, 900),
    Special(S, ST, "Olde Sandwich Towne Festival", K.festival, date(2024, 8, 24), DAY, 5, 1200),
    Special(F, WV, "Walkerville Light Night safety booth", K.outreach, date(2024, 10, 5), NIGHT, 3, 400),
    Special(S, ST, "Sandwich Town Halloween Walk", K.community_event, date(2024, 10, 31), EVENING, 4, 350),
    Special(G + D, DT, "Holiday Skate and Toy Drive", K.community_event, date(2024, 12, 7), EVENING, 6, 700),
    Special(F, FC, "Drouillard Road Clean-up and BBQ", K.community_event, date(2025, 5, 10), DAY, 3, 150),
    Special(D, DT, "Open Streets Windsor", K.festival, date(2025, 6, 14), DAY, 8, 2500),
    Special(S, ST, "Sandwich Town Neighbourhood Safety Fair", K.outreach, date(2025, 6, 21), DAY, 4, 320),
    Special(D + F, DT, "Riverfront Canada Day safety booth", K.outreach, date(2025, 7, 1), DAY, 8, 3000),
    Special(G, GG, "Youth Basketball Night with Officers", K.community_event, date(2025, 7, 18), NIGHT, 5, 90),
    Special(G, GG, "Glengarry Back-to-School BBQ", K.community_event, date(2025, 8, 30), DAY, 4, 280),
    Special(S, ST, "Mill Street Movie Night in the Park", K.community_event, date(2025, 9, 13), NIGHT, 3, 200),
    Special(F, WV, "Walkerville Light Night safety booth", K.outreach, date(2025, 10, 4), NIGHT, 3, 0, cancelled=True),
    Special(D, DT, "Winter Lights Walk", K.community_event, date(2025, 12, 6), EVENING, 4, 500),
    Special(G, GG, "Glengarry Winter Carnival", K.festival, date(2026, 2, 7), DAY, 4, 0, cancelled=True),
    Special(G, GG, "Glengarry Community Block Party", K.festival, date(2026, 6, 13), DAY, 4, 350),
    Special(D, DT, "Farmers' Market: Coffee with a Cop", K.community_event, date(2026, 7, 18), DAY, 3, 480),
    Special(F, FC, "Ford City Summer Street Festival", K.festival, date(2026, 8, 15), DAY, 6, 1000),
    Special(S, ST, "Olde Sandwich Towne Festival", K.festival, date(2026, 8, 22), DAY, 5, 1300),
)  # fmt: skip
SPECIAL_EVENTS = sum(not s.cancelled for s in SPECIALS)

# (kind, months, weekday (Mon=0), week of the month, hours, officers): the partnerships' routine.
ROUTINE = (
    (K.safety_committee_meeting, (2, 5, 8, 11), 1, 2, (time(18, 30), time(20)), 2),
    (K.bia_meeting, (3, 6, 9, 12), 2, 1, (time(8), time(9, 30)), 1),
    (K.patrol_engagement, (4, 7, 10), 3, 3, (time(18), time(20)), 2),
)
CANCELLED_ROUTINE = {
    (SANDWICH, K.safety_committee_meeting, date(2025, 8, 12)),
    (DOWNTOWN, K.bia_meeting, date(2024, 12, 4)),
}

CONNECTIONS = {
    GLENGARRY: (("Glengarry-Goyeau Residents' Association", "residents_association", date(2020, 3, 10)),
                ("City of Windsor Housing and Children's Services", "municipal_department", date(2024, 2, 20)),
                ("Glengarry peer outreach workers", "peer_leader_group", date(2025, 4, 8)),
                ("Windsor Essex Community Health Centre", "community_agency", date(2025, 10, 14))),
    DOWNTOWN: (("City of Windsor Planning Department", "municipal_department", date(2023, 1, 17)),
               ("Downtown Mission of Windsor", "community_agency", date(2024, 5, 14)),
               ("Downtown peer leaders network", "peer_leader_group", date(2026, 3, 3))),
    FORD_CITY: (("Ford City Neighbourhood Renewal", "community_agency", date(2021, 5, 5)),
                ("City of Windsor Public Works", "municipal_department", date(2024, 9, 9)),
                ("Drouillard Road residents' group", "residents_association", date(2025, 6, 17))),
    SANDWICH: (("Sandwich Teen Action Group", "community_agency", date(2024, 11, 12)),
               ("City of Windsor Parks", "municipal_department", date(2025, 2, 25)),
               ("Sandwich Town residents' association", "residents_association", date(2026, 5, 19))),
}  # fmt: skip

# (agency, cohort, held on, attendees): non-stigmatizing language about substance use.
TRAININGS = (
    (WPS, "recruits", date(2024, 9, 10), 28), (WPS, "frontline", date(2024, 11, 19), 120),
    (LASALLE, "recruits", date(2025, 1, 14), 6), (LASALLE, "frontline", date(2025, 2, 11), 35),
    (OPP, "recruits", date(2025, 3, 11), 12), (OPP, "frontline", date(2025, 4, 15), 60),
    (WPS, "recruits", date(2025, 9, 9), 32), (WPS, "frontline", date(2025, 11, 18), 140),
    (WPS, "recruits", date(2026, 9, 8), 30),
)  # fmt: skip
# Created last: once it exists, everything before it does too.
MARKER = _id("training", f"{TRAININGS[-1][0]}@{TRAININGS[-1][2]}")


def _uow(engine: AsyncEngine) -> UnitOfWork:
    return UnitOfWork(engine, outbox, "events", actor="demo")


def _directory() -> StaticDirectory:
    return StaticDirectory(
        KnownPartnership(_id("partnership", p.name), p.name, frozenset(_id("neighbourhood", a) for a in p.areas))
        for p in PARTNERSHIPS
    )


async def load_engagement_demo(engine: AsyncEngine) -> bool:
    """Load the engagement demo once (after the audits demo); returns False when it is there already."""
    async with _uow(engine) as uow:
        if await uow.session.get(Training, MARKER) is not None:
            return False
    rng = random.Random(SEED)
    for body in [*map(_special, SPECIALS), *_routine(rng)]:
        await events.create(_uow(engine), ADMIN, _directory(), body, CLOCK)
    material_ids = {o.slug: await _material(engine, o) for o in OUTREACH}
    await _distributions(engine, material_ids)
    await _connections(engine)
    for agency, cohort, held_on, attendees in TRAININGS:
        shown = [material_ids[o.slug] for o in OUTREACH if o.published_on < held_on and o.topic != "cpted_audit"]
        body = TrainingCreate(
            id=_id("training", f"{agency}@{held_on}"),
            agency=agency,
            cohort=cohort,
            topic="non_stigmatizing_language",
            attendees=attendees,
            held_on=held_on,
            material_ids=shown,
        )
        await trainings.record_training(_uow(engine), ADMIN, body, CLOCK)
    return True


def _status(on: date, cancelled: bool) -> EventStatus:
    if cancelled:
        return EventStatus.cancelled
    return EventStatus.held if on < HELD_BEFORE else EventStatus.scheduled


def _event(
    partners: tuple[str, ...],
    area: str,
    name: str,
    kind: K,
    on: date,
    hours: tuple[time, time],
    officers: int,
    attendance: int | None,
    cancelled: bool,
    special: bool,
) -> EventCreate:
    status = _status(on, cancelled)
    return EventCreate(
        id=_id("event", f"{name}@{on}"),
        partnership_ids=[_id("partnership", p) for p in partners],
        name=name,
        kind=kind,
        special=special,
        starts_at=datetime.combine(on, hours[0], LOCAL),
        ends_at=datetime.combine(on, hours[1], LOCAL),
        neighbourhood_id=_id("neighbourhood", area),
        officers_attending=officers,
        attendance=attendance if status is EventStatus.held else None,
        status=status,
    )


def _special(s: Special) -> EventCreate:
    name = f"{s.name} {s.on.year}"
    return _event(s.partners, s.area, name, s.kind, s.on, s.hours, s.officers, s.attendance, s.cancelled, True)


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def _routine(rng: random.Random) -> list[EventCreate]:
    bodies = []
    for partner in PARTNERSHIPS:
        for kind, months, weekday, nth, hours, officers in ROUTINE:
            host = {K.safety_committee_meeting: partner.committees, K.bia_meeting: partner.bias}.get(kind)
            if host == ():
                continue  # no BIA in this partnership
            for year in (2024, 2025, 2026):
                for month in months:
                    on = _nth_weekday(year, month, weekday, nth)
                    name = (
                        f"{host[0]} meeting"
                        if host
                        else f"Neighbourhood foot patrol and walk-about ({partner.areas[0]})"
                    )
                    cancelled = (partner.name, kind, on) in CANCELLED_ROUTINE
                    bodies.append(
                        _event(
                            (partner.name,),
                            partner.areas[0],
                            name,
                            kind,
                            on,
                            hours,
                            officers,
                            rng.randint(8, 40),
                            cancelled,
                            False,
                        )
                    )
    return bodies


async def _material(engine: AsyncEngine, outreach: Outreach) -> uuid.UUID:
    texts = {
        lang: TranslationBody(title=t.title, body=t.body, translated_on=t.translated_on)
        for lang, t in outreach.texts.items()
    }
    body = MaterialCreate(
        id=_id("material", outreach.slug),
        slug=outreach.slug,
        kind=outreach.kind,
        topic=outreach.topic,
        source_language="en",
        published_on=outreach.published_on,
        translations=texts,
    )  # type: ignore[arg-type]
    material, _ = await materials.create(_uow(engine), ADMIN, body, strict=True, clock=CLOCK)
    for lang, t in outreach.later.items():
        later = TranslationBody(title=t.title, body=t.body, translated_on=t.translated_on)
        await materials.translate(_uow(engine), ADMIN, material["id"], lang, later, None, strict=True, clock=CLOCK)
    material_id: uuid.UUID = material["id"]
    return material_id


async def _distributions(engine: AsyncEngine, material_ids: dict[str, uuid.UUID]) -> None:
    """Every agency's frontline staff get every material; some copies go on to people at risk or charged."""
    for offset, (agency, copies) in enumerate(AGENCIES.items()):
        for outreach in OUTREACH:
            on = max(t.translated_on for t in outreach.texts.values()) + timedelta(days=14 + 7 * offset)
            for lang, share in (("en", 1.0), ("fr", 0.25)):
                handed = outreach.topic in ("drug_treatment_court", "treatment_options")
                body = DistributionCreate(
                    id=_id("distribution", f"{agency}:{outreach.slug}:{lang}"),
                    material_id=material_ids[outreach.slug],
                    agency=agency,
                    language=lang,
                    copies=int(copies * share),
                    audience="frontline_staff",
                    distributed_on=on,
                    handed_to_at_risk=int(copies * share * 0.3) if handed else None,
                    handed_to_charged=int(copies * share * 0.2) if handed else None,
                )  # type: ignore[arg-type]
                await distributions.record_distribution(_uow(engine), ADMIN, body, CLOCK)
    for lang, on, copies in (("en", date(2025, 10, 4), 500), ("ar", date(2026, 2, 10), 150)):
        body = DistributionCreate(
            id=_id("distribution", f"public:cpted:{lang}"),
            material_id=material_ids["cpted-audit-brochure"],
            agency=WPS,
            language=lang,
            copies=copies,
            audience="public",
            distributed_on=on,
        )  # type: ignore[arg-type]
        await distributions.record_distribution(_uow(engine), ADMIN, body, CLOCK)


async def _connections(engine: AsyncEngine) -> None:
    for name, partner in PARTNERS.items():
        own = [(c, "safety_committee") for c in partner.committees] + [(b, "bia") for b in partner.bias]
        rows = [(n, kind, partner.formalized_on) for n, kind in own] + list(CONNECTIONS[name])
        for stakeholder, kind, on in rows:
            body = StakeholderCreate(
                id=_id("stakeholder", f"{name}:{stakeholder}"),
                partnership_id=_id("partnership", name),
                name=stakeholder,
                kind=kind,
                neighbourhood_id=_id("neighbourhood", partner.areas[0]),
                connected_on=on,
            )  # type: ignore[arg-type]
            await stakeholders.create(_uow(engine), ADMIN, _directory(), body, CLOCK)
