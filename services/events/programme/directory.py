"""Where the events service learns which partnerships and neighbourhoods exist: the audits service.

Checked over HTTP at write time, with the caller's own key, rather than
learned from the audits stream: a partnership created a moment ago is usable
at once (no lag, no second copy of partnership data to keep in step), and an
editor can only name partnerships its key may see. The price is that writes
naming partnerships need the audits service up; they answer 503 otherwise,
and nothing is stored. Reads do without it: only the calendar asks, for the
partnership's name, and serves its events without the name while audits is away.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import httpx

from shared.errors import Unavailable


@dataclass(frozen=True)
class KnownPartnership:
    id: uuid.UUID
    name: str
    neighbourhood_ids: frozenset[uuid.UUID]


class Directory(Protocol):
    async def partnership(self, id_: uuid.UUID) -> KnownPartnership | None: ...

    async def neighbourhood_exists(self, id_: uuid.UUID) -> bool: ...


class AuditsDirectory:
    """Asks the audits API, as the caller."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    async def _get(self, path: str) -> httpx.Response | None:
        try:
            response = await self.client.get(path, headers=self.headers)
        except httpx.HTTPError as exc:
            raise Unavailable("the audits service cannot be reached to check partnerships; try again") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unavailable(f"the audits service answered {response.status_code} while checking partnerships")
        return response

    async def partnership(self, id_: uuid.UUID) -> KnownPartnership | None:
        response = await self._get(f"/v1/partnerships/{id_}")
        if response is None:
            return None
        body = response.json()
        return KnownPartnership(id_, body["name"], frozenset(uuid.UUID(n) for n in body["neighbourhood_ids"]))

    async def neighbourhood_exists(self, id_: uuid.UUID) -> bool:
        return await self._get(f"/v1/neighbourhoods/{id_}") is not None


class StaticDirectory:
    """A fixed directory: for loading data whose partnerships are known (the demo) and for tests."""

    def __init__(self, partnerships: Iterable[KnownPartnership], neighbourhood_ids: Iterable[uuid.UUID] = ()) -> None:
        self.partnerships = {p.id: p for p in partnerships}
        self.neighbourhoods = set(neighbourhood_ids).union(*(p.neighbourhood_ids for p in self.partnerships.values()))

    async def partnership(self, id_: uuid.UUID) -> KnownPartnership | None:
        return self.partnerships.get(id_)

    async def neighbourhood_exists(self, id_: uuid.UUID) -> bool:
        return id_ in self.neighbourhoods
