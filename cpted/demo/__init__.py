"""The demo data set ``make run`` loads: Windsor, Ontario's programme as the report gives its figures.

``audits`` (partnerships, neighbourhoods, audits, recommendations), ``crime`` (synthetic incidents
that cool where recommendations were implemented), ``engagement`` (events, material from ``outreach``,
distributions, trainings, connections). Each part goes through the real use cases, so every record
has its events in the outbox, and each loads once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine


async def load_demo_data(engine: AsyncEngine) -> list[str]:
    """Load each part of the demo data set that is not there yet; returns what was loaded."""
    from cpted.demo.audits import load_demo
    from cpted.demo.crime import load_crime_demo
    from cpted.demo.engagement import load_engagement_demo

    # Crime after the audits: the incidents cool down where recommendations were implemented.
    parts = [("audits and recommendations", load_demo), ("crime incidents", load_crime_demo),
             ("community engagement", load_engagement_demo)]  # fmt: skip
    return [name for name, load in parts if await load(engine)]
