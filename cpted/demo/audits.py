"""The demo partnerships, neighbourhoods, audits and recommendations: the report's figures, via the use cases.

Four formalized police-community partnerships in Windsor, Ontario, 20 CPTED
audits, 201 recommendations and 27 of them implemented, as in the
"Enforcement and Justice" report. Going through the use cases (not straight
into the tables) means every record has its events in the outbox, so the
metrics projections fill up exactly as they would from real use.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine

from services.audits.core.handlers import audits, neighbourhoods, partnerships, recommendations
from services.audits.core.schemas import (
    AuditCreate,
    Finding,
    NeighbourhoodCreate,
    PartnershipCreate,
    RecommendationCreate,
    TransitionCreate,
)
from services.audits.tables import Partnership, outbox
from shared.auth.keys import Principal, Scope
from shared.contracts.geo import Point, Polygon
from shared.contracts.vocabulary import AuditStatus, AuditTrigger, Principle, Priority
from shared.contracts.vocabulary import RecommendationCategory as Cat
from shared.contracts.vocabulary import RecommendationStatus as S
from shared.db.uow import UnitOfWork

# Fixed for good: every demo id derives from it, so a second load finds the first one's rows.
NAMESPACE = uuid.UUID("5b0e2f4a-6c1d-4e2b-9a57-3f8d2c7e1a90")
ADMIN = Principal(key_id=uuid.UUID(int=0), name="demo", scope=Scope.admin)
SEED = 2026
RECOMMENDATIONS = 201
# Reported on 2026-11-25; no lifecycle step may come later than the report's last week.
LAST_STEP = date(2026, 11, 20)
# Audits after this date are too recent for the report to count their work as done.
IMPLEMENTABLE_BEFORE = date(2026, 5, 1)
# The report: implemented work "primarily included" alley lighting, traffic calming and bush trimming.
PRIMARY = frozenset({Cat.lighting, Cat.traffic_calming, Cat.landscaping})
IMPLEMENTED_PRIMARY, IMPLEMENTED_OTHER = 23, 4
OUTCOMES = ((S.accepted, 16), (S.in_progress, 12), (S.deferred, 9), (S.declined, 7))
PATHS: dict[S, tuple[S, ...]] = {
    S.proposed: (),
    S.accepted: (S.accepted,),
    S.in_progress: (S.accepted, S.in_progress),
    S.implemented: (S.accepted, S.in_progress, S.implemented),
    S.deferred: (S.accepted, S.deferred),
    S.declined: (S.declined,),
}
# Municipal work on an audit is done within about 14 months or not at all in this data set.
LONGEST_SPAN_DAYS = 420


class Area(NamedTuple):
    name: str
    population: int
    ring: tuple[tuple[float, float], ...]


class Partner(NamedTuple):
    name: str
    areas: tuple[str, ...]
    committees: tuple[str, ...]
    bias: tuple[str, ...]
    formalized_on: date


class Site(NamedTuple):
    partner: str
    area: str
    name: str
    lon: float
    lat: float
    conducted_on: date
    trigger: AuditTrigger


# Adjacent neighbourhoods share their edges exactly, so no two overlap.
NEIGHBOURHOODS = (
    Area(
        "Sandwich Town",
        7_400,
        ((-83.088, 42.288), (-83.062, 42.288), (-83.062, 42.3125), (-83.074, 42.307), (-83.088, 42.299)),
    ),
    Area(
        "West Windsor",
        13_900,
        ((-83.062, 42.288), (-83.046, 42.288), (-83.046, 42.3172), (-83.054, 42.315), (-83.062, 42.3125)),
    ),
    Area(
        "Downtown",
        10_800,
        ((-83.046, 42.305), (-83.0335, 42.305), (-83.0335, 42.3218), (-83.04, 42.3198), (-83.046, 42.3172)),
    ),
    Area(
        "Glengarry-Goyeau",
        4_700,
        ((-83.0335, 42.305), (-83.02, 42.305), (-83.02, 42.3245), (-83.027, 42.3232), (-83.0335, 42.3218)),
    ),
    Area(
        "Walkerville",
        9_600,
        ((-83.02, 42.302), (-83.0, 42.302), (-83.0, 42.33), (-83.01, 42.3275), (-83.02, 42.3245)),
    ),
    Area(
        "Drouillard Road (Ford City)",
        5_300,
        ((-83.0, 42.302), (-82.98, 42.302), (-82.98, 42.3345), (-82.99, 42.333), (-83.0, 42.33)),
    ),
    Area(
        "Riverside",
        18_200,
        ((-82.98, 42.318), (-82.93, 42.323), (-82.93, 42.342), (-82.955, 42.339), (-82.98, 42.3345)),
    ),
    Area(
        "South Windsor",
        21_500,
        ((-83.05, 42.255), (-83.005, 42.255), (-83.0, 42.27), (-83.005, 42.285), (-83.05, 42.285)),
    ),
)

GLENGARRY = "Glengarry Community Partnership"
DOWNTOWN = "Downtown Windsor Community Partnership"
FORD_CITY = "Drouillard Road / Ford City Partnership"
SANDWICH = "Sandwich Town Partnership"

# Glengarry comes first: its id is the "already loaded" marker.
PARTNERSHIPS = (
    Partner(GLENGARRY, ("Glengarry-Goyeau",), ("Glengarry Safety Committee",), (), date(2019, 6, 12)),
    Partner(
        DOWNTOWN,
        ("Downtown",),
        ("Downtown Windsor Safety Committee",),
        ("Downtown Windsor BIA",),
        date(2019, 11, 5),
    ),
    Partner(
        FORD_CITY,
        ("Drouillard Road (Ford City)", "Walkerville"),
        ("Ford City Safety Committee",),
        ("Olde Walkerville BIA",),
        date(2020, 9, 15),
    ),
    Partner(
        SANDWICH,
        ("Sandwich Town",),
        ("Sandwich Town Safety Committee",),
        ("Olde Sandwich Towne BIA",),
        date(2021, 4, 20),
    ),
)
PARTNERS = {p.name: p for p in PARTNERSHIPS}

CRIME, REQUEST = AuditTrigger.crime_statistics, AuditTrigger.resident_request
GG, DT, FC, WV, ST = "Glengarry-Goyeau", "Downtown", "Drouillard Road (Ford City)", "Walkerville", "Sandwich Town"
AUDITS = (
    Site(GLENGARRY, GG, "Alley behind 600 Glengarry Ave", -83.0262, 42.3165, date(2023, 3, 22), CRIME),
    Site(DOWNTOWN, DT, "Pelissier St parking garage stairwell", -83.0395, 42.315, date(2023, 5, 16), CRIME),
    Site(FORD_CITY, FC, "Drouillard Rd & Whelpton St", -82.9925, 42.32, date(2023, 4, 18), CRIME),
    Site(SANDWICH, ST, "Sandwich St & Mill St", -83.0745, 42.302, date(2023, 7, 11), CRIME),
    Site(GLENGARRY, GG, "Goyeau St & Wyandotte St E", -83.0328, 42.314, date(2023, 9, 12), CRIME),
    Site(FORD_CITY, FC, "Alley behind 1100 Drouillard Rd", -82.992, 42.316, date(2023, 10, 3), CRIME),
    Site(DOWNTOWN, DT, "Alley behind 300 Ouellette Ave", -83.0385, 42.317, date(2023, 11, 8), CRIME),
    Site(SANDWICH, ST, "Peter St & Brock St", -83.072, 42.3, date(2024, 4, 9), CRIME),
    Site(GLENGARRY, GG, "Glengarry Ave & Assumption St", -83.0265, 42.3185, date(2024, 5, 7), REQUEST),
    Site(FORD_CITY, FC, "Drouillard Rd & Seminole St", -82.993, 42.3085, date(2024, 6, 25), CRIME),
    Site(DOWNTOWN, DT, "University Ave W & Victoria Ave", -83.042, 42.316, date(2024, 8, 20), REQUEST),
    Site(GLENGARRY, GG, "McDougall St & Erie St E", -83.031, 42.3085, date(2024, 11, 19), CRIME),
    Site(DOWNTOWN, DT, "Charles Clark Square", -83.0365, 42.314, date(2025, 4, 15), CRIME),
    Site(GLENGARRY, GG, "Alley between Marentette Ave and Glengarry Ave", -83.0235, 42.3175, date(2025, 6, 10), CRIME),
    Site(SANDWICH, ST, "Detroit St & Sandwich St", -83.07, 42.304, date(2025, 7, 22), REQUEST),
    Site(FORD_CITY, FC, "Riverside Dr E & Drouillard Rd", -82.9915, 42.329, date(2025, 9, 16), REQUEST),
    Site(GLENGARRY, GG, "Mercer St & Ellis St E", -83.024, 42.3095, date(2026, 2, 24), CRIME),
    Site(FORD_CITY, WV, "Alley behind 1800 Wyandotte St E", -83.008, 42.3145, date(2026, 3, 10), CRIME),
    Site(DOWNTOWN, DT, "Chatham St W & Ferry St", -83.0435, 42.3165, date(2026, 5, 12), CRIME),
    Site(SANDWICH, ST, "Alley behind 3200 Sandwich St", -83.078, 42.299, date(2026, 6, 23), CRIME),
)

LEAD_AUDITOR = "Windsor Police Service CPTED-trained officer"
AUDITORS = (
    "Windsor Police Service neighbourhood officer",
    "City of Windsor Planning Department",
    "City of Windsor Public Works",
    "ENWIN Utilities",
    "{committee} member",
    "{bia} representative",
    "Resident volunteer",
)

# Audits are chosen where crime statistics point, so poor ratings dominate.
RATINGS, RATING_WEIGHTS = (1, 2, 3, 4, 5), (3, 4, 3, 2, 1)
FINDING_NOTES: dict[Principle, tuple[str, ...]] = {
    Principle.natural_surveillance: (
        "No windows overlook the alley; rear yards screened by high fences",
        "Sightlines from the street blocked by overgrown shrubs",
        "Long dark stretch between streetlights",
    ),
    Principle.natural_access_control: (
        "Alley open at both ends and used as a shortcut",
        "Gaps in fencing give access to rear yards",
        "No defined entrance to the parking area",
    ),
    Principle.territorial_reinforcement: (
        "Nothing marks where private property begins",
        "Vacant lot with no visible owner or upkeep",
        "Unclear boundary between the lot and the sidewalk",
    ),
    Principle.maintenance: (
        "Graffiti and illegal dumping along the alley",
        "Broken light fixtures and potholes",
        "Overgrown vegetation and litter",
    ),
    Principle.activity_support: (
        "Space unused after dark",
        "Few legitimate users outside business hours",
        "Benches used for loitering; no programming",
    ),
    Principle.target_hardening: (
        "Rear doors with weak locks",
        "Unsecured garages and sheds",
        "Ground-floor windows without protection",
    ),
}

# Weighted to the report: mostly alley lighting, traffic calming and bush trimming.
CATEGORY_WEIGHTS: dict[Cat, int] = {
    Cat.lighting: 30,
    Cat.traffic_calming: 18,
    Cat.landscaping: 18,
    Cat.signage: 8,
    Cat.maintenance: 8,
    Cat.access_control: 6,
    Cat.surveillance: 4,
    Cat.activity_support: 4,
    Cat.target_hardening: 3,
    Cat.other: 1,
}

PUBLIC_WORKS, ENWIN, OWNER = "City of Windsor Public Works", "ENWIN Utilities", "Property owner"
PARKS, POLICE = "City of Windsor Parks", "Windsor Police Service"
H, M, L = Priority.high, Priority.medium, Priority.low
CATALOGUE: dict[Cat, tuple[tuple[str, str, Priority], ...]] = {
    Cat.lighting: (
        ("Install LED fixtures on the existing hydro poles along the alley", ENWIN, H),
        ("Replace burnt-out and low-output streetlights at the intersection", ENWIN, H),
        ("Upgrade alley lighting to full-cutoff LED fixtures to remove dark pockets", ENWIN, H),
        ("Add motion-activated lights over rear yards and garage doors facing the alley", OWNER, M),
        ("Add pedestrian-scale lighting along the walkway to the parking lot", PUBLIC_WORKS, M),
        ("Light the recessed building entrance", OWNER, M),
        ("Keep the rear security light on from dusk to dawn", OWNER, M),
        ("Move the streetlight that the tree canopy blocks", ENWIN, M),
    ),
    Cat.traffic_calming: (
        ("Install speed humps in the alley to discourage cut-through traffic", PUBLIC_WORKS, H),
        ("Add curb extensions and a marked crosswalk at the intersection", PUBLIC_WORKS, M),
        ("Post a 40 km/h area speed limit and add driver feedback signs", PUBLIC_WORKS, M),
        ("Narrow the travel lane with flex-post bollards for a season", PUBLIC_WORKS, M),
        ("Targeted speed enforcement during school arrival and dismissal", POLICE, M),
        ("Install a raised crosswalk at the park entrance", PUBLIC_WORKS, M),
    ),
    Cat.landscaping: (
        ("Trim bushes along the sidewalk to below 1 m to restore sightlines", OWNER, H),
        ("Limb up trees to 2 m so the street can see into the park", PARKS, M),
        ("Remove the overgrown hedge that screens the alley entrance", OWNER, M),
        ("Cut back branches covering the streetlight", PARKS, H),
        ("Replace dense shrubs at the park edge with low planting", PARKS, L),
        ("Mow and clear the overgrown vacant lot", OWNER, M),
    ),
    Cat.signage: (
        ("Post Trespass to Property Act signs at the alley entrances", OWNER, M),
        ("Add signs directing visitors to the lit parking entrance", PUBLIC_WORKS, L),
        ("Install neighbourhood identification signs at the block entrance", "{committee}", L),
    ),
    Cat.maintenance: (
        ("Remove graffiti within 48 hours and report repeat tags", OWNER, M),
        ("Clear illegal dumping and debris from the alley", PUBLIC_WORKS, M),
        ("Repair the broken fence and board-ups on the vacant lot", OWNER, M),
        ("Fill potholes and regrade the alley surface", PUBLIC_WORKS, L),
    ),
    Cat.access_control: (
        ("Install a lockable gate at the rear of the property", OWNER, M),
        ("Close the gap in the fence used as a shortcut", OWNER, M),
        ("Apply to close the unused alley to through traffic", "City of Windsor Planning Department", L),
    ),
    Cat.surveillance: (
        ("Remove window film so staff can see the parking area", OWNER, L),
        ("Add camera coverage of the rear entrance, with notice signs", OWNER, M),
        ("Turn the benches to face the street", PARKS, L),
    ),
    Cat.activity_support: (
        ("Hold a clean-up and evening walk-about with residents", "{committee}", M),
        ("Programme summer events in the space to bring people in after work", "{bia}", L),
    ),
    Cat.target_hardening: (
        ("Fit deadbolts and a solid-core door at the rear entrance", OWNER, M),
        ("Lock recycling bins and propane tanks inside an enclosure", OWNER, L),
    ),
    Cat.other: (
        ("Share the block's crime statistics at the next Safety Committee meeting", POLICE, L),
        ("Give property owners on the block the CPTED audit brochure", POLICE, L),
    ),
}

Item = tuple[Cat, str, str, Priority]
ITEMS: tuple[Item, ...] = tuple((category, *row) for category, rows in CATALOGUE.items() for row in rows)

STEP_NOTES: dict[S, tuple[str, ...]] = {
    S.accepted: ("Accepted by the partnership", "Agreed with the responsible party at the audit debrief"),
    S.in_progress: ("Work order issued", "Scheduled with the contractor", "Owner has started the work"),
    S.implemented: ("Completed; checked on a follow-up walk", "Done; confirmed by the Safety Committee"),
    S.deferred: ("Deferred to next year's capital budget", "Waiting on the owner's insurance and quotes"),
    S.declined: ("Declined: the owner did not agree", "Declined: not feasible on this site"),
}


def _id(kind: str, key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{kind}:{key}")


def _uow(engine: AsyncEngine) -> UnitOfWork:
    # A fresh unit of work per use case, exactly as each API request gets one.
    return UnitOfWork(engine, outbox, "audits", actor="demo")


async def load_demo(engine: AsyncEngine) -> bool:
    """Load the demo data set once; returns False when it is there already."""
    async with _uow(engine) as uow:
        if await uow.session.get(Partnership, _id("partnership", PARTNERSHIPS[0].name)) is not None:
            return False
    rng = random.Random(SEED)
    await _create_places(engine)
    plan = _plan(rng)
    statuses = _statuses(rng, plan)
    for index, site in enumerate(AUDITS):
        audit_id = await _create_audit(engine, rng, site)
        for number, item in enumerate(plan[index]):
            await _create_recommendation(engine, rng, site, audit_id, number, item, statuses[index, number])
    return True


async def _create_places(engine: AsyncEngine) -> None:
    for area in NEIGHBOURHOODS:
        boundary = Polygon(type="Polygon", coordinates=[[list(p) for p in (*area.ring, area.ring[0])]])
        body = NeighbourhoodCreate(
            id=_id("neighbourhood", area.name),
            name=area.name,
            municipality="Windsor",
            boundary=boundary,
            population=area.population,
        )
        await neighbourhoods.create(_uow(engine), ADMIN, body)
    for partner in PARTNERSHIPS:
        body = PartnershipCreate(
            id=_id("partnership", partner.name),
            name=partner.name,
            police_service="Windsor Police Service",
            neighbourhood_ids=[_id("neighbourhood", name) for name in partner.areas],
            safety_committees=list(partner.committees),
            business_improvement_areas=list(partner.bias),
            formalized_on=partner.formalized_on,
        )
        await partnerships.create(_uow(engine), ADMIN, body)


def _plan(rng: random.Random) -> list[list[Item]]:
    """Which recommendations each audit made."""
    counts = [7] * len(AUDITS)
    for _ in range(RECOMMENDATIONS - sum(counts)):
        counts[rng.randrange(len(counts))] += 1
    return [_draw(rng, count) for count in counts]


def _draw(rng: random.Random, count: int) -> list[Item]:
    # Without replacement: one audit never recommends the same thing twice.
    left, drawn = list(ITEMS), []
    for _ in range(count):
        # A category's weight is shared by its items, so the mix still follows CATEGORY_WEIGHTS.
        weights = [CATEGORY_WEIGHTS[item[0]] / len(CATALOGUE[item[0]]) for item in left]
        item = rng.choices(left, weights)[0]
        left.remove(item)
        drawn.append(item)
    return drawn


def _statuses(rng: random.Random, plan: list[list[Item]]) -> dict[tuple[int, int], S]:
    """Where each recommendation stands; keys are (audit index, recommendation number)."""
    slots = [(a, n) for a, items in enumerate(plan) for n in range(len(items))]
    early = [s for s in slots if AUDITS[s[0]].conducted_on < IMPLEMENTABLE_BEFORE]
    primary = [s for s in early if plan[s[0]][s[1]][0] in PRIMARY]
    other = [s for s in early if plan[s[0]][s[1]][0] not in PRIMARY]
    done = rng.sample(primary, IMPLEMENTED_PRIMARY) + rng.sample(other, IMPLEMENTED_OTHER)
    statuses = dict.fromkeys(slots, S.proposed) | dict.fromkeys(done, S.implemented)
    rest = [s for s in slots if statuses[s] is S.proposed]
    rng.shuffle(rest)
    for status, count in OUTCOMES:
        statuses |= dict.fromkeys(rest[:count], status)
        rest = rest[count:]
    return statuses


def _contacts(site: Site) -> dict[str, str]:
    partner = PARTNERS[site.partner]
    return {"committee": partner.committees[0], "bia": (partner.bias or partner.committees)[0]}


async def _create_audit(engine: AsyncEngine, rng: random.Random, site: Site) -> uuid.UUID:
    pool = [name.format(**_contacts(site)) for name in AUDITORS]
    auditors = [LEAD_AUDITOR, *rng.sample(pool, rng.randint(1, 3))]
    findings = [
        Finding(
            principle=principle,
            rating=rng.choices(RATINGS, RATING_WEIGHTS)[0],
            notes=rng.choice(FINDING_NOTES[principle]),
        )
        for principle in rng.sample(list(Principle), rng.randint(3, 6))
    ]
    body = AuditCreate(
        id=_id("audit", site.name),
        partnership_id=_id("partnership", site.partner),
        neighbourhood_id=_id("neighbourhood", site.area),
        site_name=site.name,
        location=Point(type="Point", coordinates=[site.lon, site.lat]),
        conducted_on=site.conducted_on,
        auditors=auditors,
        trigger=site.trigger,
        findings=findings,
        status=AuditStatus.completed,
    )
    row, _ = await audits.create(_uow(engine), ADMIN, body)
    return row.id


def _steps(rng: random.Random, conducted_on: date, status: S) -> list[tuple[S, date]]:
    """The lifecycle steps to `status`, on distinct days after the audit, in order."""
    path = PATHS[status]
    span = min((LAST_STEP - conducted_on).days, LONGEST_SPAN_DAYS)
    offsets = sorted(rng.sample(range(1, span + 1), len(path)))
    return [(to, conducted_on + timedelta(days=days)) for to, days in zip(path, offsets, strict=True)]


def _expected_on(rng: random.Random, status: S, steps: list[tuple[S, date]]) -> date | None:
    # Only work someone has agreed to (or put off) has a date residents can be told.
    if status not in (S.accepted, S.in_progress, S.deferred):
        return None
    return max(steps[-1][1], LAST_STEP) + timedelta(days=rng.randint(30, 240))


async def _create_recommendation(
    engine: AsyncEngine, rng: random.Random, site: Site, audit_id: uuid.UUID, number: int, item: Item, status: S
) -> None:
    category, description, party, priority = item
    steps = _steps(rng, site.conducted_on, status)
    body = RecommendationCreate(
        id=_id("recommendation", f"{site.name}#{number}"),
        category=category,
        description=description,
        responsible_party=party.format(**_contacts(site)),
        priority=priority,
        expected_on=_expected_on(rng, status, steps),
    )
    view, _ = await recommendations.create(_uow(engine), ADMIN, audit_id, body)
    for to, on in steps:
        step = TransitionCreate(to=to, on=on, note=rng.choice(STEP_NOTES[to]))
        # The data set's own today: every step is on or before the report's last week.
        await recommendations.transition(_uow(engine), ADMIN, view.recommendation.id, step, None, today=LAST_STEP)
