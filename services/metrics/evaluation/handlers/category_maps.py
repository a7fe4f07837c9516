"""Which version of the category map an evaluation uses, and storing a new version (admins only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.crime.domain.incidents import normalize_category
from services.metrics.evaluation.domain.estimators.outcome_families import ALL, CategoryMap
from services.metrics.evaluation.store import category_maps
from shared.auth.keys import Principal
from shared.db.claims import take_claim
from shared.db.engine import once_per_session
from shared.errors import Conflict, InvalidField, NotFound


async def in_use(session: AsyncSession, number: int | None, field: str = "query.category_map_version") -> CategoryMap:
    """The version asked for, else the current one (read once per session: a summary resolves one per family)."""
    found = await once_per_session(session, ("category_map", number), lambda: _read(session, number))
    if found is None:
        raise InvalidField(f"no category map version {number}", field=field)
    return found


async def _read(session: AsyncSession, number: int | None) -> CategoryMap | None:
    return await category_maps.current(session) if number is None else await category_maps.version(session, number)


async def one(session: AsyncSession, number: int | None) -> CategoryMap:
    found = await _read(session, number)
    if found is None:
        raise NotFound(f"no category map version {number}")
    return found


async def page(session: AsyncSession, cursor: str | None, limit: int) -> tuple[list[CategoryMap], str | None]:
    below = None
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 9:
            raise InvalidField("not a cursor of this list", field="query.cursor")
        below = int(cursor)
    found = await category_maps.versions(session, below, limit + 1)
    more = len(found) > limit
    return found[:limit], (str(found[limit - 1].version) if more else None)


def _categories(raw: Mapping[str, Sequence[str]], families: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    categories: dict[str, tuple[str, ...]] = {}
    for name, of in raw.items():
        field = f"body.categories.{name}"
        category = normalize_category(name)
        if not category:
            raise InvalidField("an incident category needs a letter or digit", field=field)
        if category in categories:
            raise InvalidField(f"names the same category as another key once normalised: {category}", field=field)
        undeclared = sorted(set(of) - families.keys())
        if undeclared:
            raise InvalidField(f"families not declared in `families`: {', '.join(undeclared)}", field=field)
        categories[category] = tuple(dict.fromkeys(of))
    return categories


async def create(
    session: AsyncSession,
    principal: Principal,
    *,
    replaces_version: int,
    effective_from: date,
    note: str,
    families: Mapping[str, str],
    categories: Mapping[str, Sequence[str]],
) -> CategoryMap:
    """Store the next version; two admins editing at once cannot overwrite each other's version unseen."""
    principal.require_admin()
    if ALL in families:
        raise InvalidField(
            f"'{ALL}' is every category; it cannot be declared as a family", field=f"body.families.{ALL}"
        )
    chosen = _categories(categories, families)
    await category_maps.lock(session)
    # Before the version check: a repeat of this request (same Idempotency-Key) waits for the first one's answer
    # instead of finding the version it made. The caller commits the claim with the version.
    await take_claim(session)
    current = await category_maps.current(session)
    if replaces_version != current.version:
        raise Conflict(
            f"the category map is at version {current.version}, not {replaces_version}: read it again and "
            "make the change on the current version",
            field="body.replaces_version",
            current_version=current.version,
        )
    new = CategoryMap(current.version + 1, effective_from, dict(families), chosen, note)
    return await category_maps.store(session, new, principal.key_id)
