"""The events and metrics services, as the OGC API collections ``events`` and ``incident-counts`` read them.

Their data is read over their HTTP APIs at request time, never copied here
(a service never reads another's tables). A caller who sent a key has it
passed on, so the other service decides what that key may read (an editor's
key lists its partnerships' events only); a keyless caller is served with the
service key (``CPTED_SERVICE_API_KEY``, a service key). Whatever goes wrong over
there is answered as the OGC exception 503, never a 500, and the audits' own
collections keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from services.audits.ogc.domain.standard import OgcError
from shared.settings import Settings

# One OGC page may take a few calls; each must leave room for the others within the request timeout.
CALL_TIMEOUT_S = 5.0


def open_clients(settings: Settings, transports: Mapping[str, httpx.AsyncBaseTransport | None]) -> dict[str, Any]:
    """One client per service, for the app's lifetime; a transport given (tests) replaces the network."""
    urls = {"events": settings.events_url, "metrics": settings.metrics_url}
    return {
        name: httpx.AsyncClient(base_url=url, transport=transports.get(name), timeout=CALL_TIMEOUT_S)
        for name, url in urls.items()
    }


@dataclass(frozen=True)
class Upstream:
    name: str
    client: httpx.AsyncClient
    token: str | None
    callers_own: bool  # the caller's key, not the service key

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON answer, or None for a 404."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = await self.client.get(path, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise OgcError(503, "ServiceUnavailable", f"the {self.name} service cannot be reached; try again") from exc
        if response.status_code == 200:
            return response.json()
        if response.status_code == 404:
            return None
        raise self._failure(response)

    def _failure(self, response: httpx.Response) -> OgcError:
        status = response.status_code
        if status in (401, 403) and self.callers_own:
            code = "Unauthorized" if status == 401 else "Forbidden"
            return OgcError(status, code, f"the {self.name} service does not let this key read its data")
        if status == 422:  # what the caller sent, passed on (a cursor it did not get from us)
            return OgcError(400, "InvalidParameterValue", _detail(response))
        why = " (is CPTED_SERVICE_API_KEY a valid service key?)" if status in (401, 403) else ""
        return OgcError(503, "ServiceUnavailable", f"the {self.name} service answered {status}{why}; try again")


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", "invalid parameter"))
    except ValueError:
        return "invalid parameter"


@dataclass(frozen=True)
class Sources:
    events: Upstream
    metrics: Upstream


def sources(clients: Mapping[str, httpx.AsyncClient], callers_key: str | None, service_key: str | None) -> Sources:
    token, own = (callers_key, True) if callers_key else (service_key, False)
    return Sources(
        events=Upstream("events", clients["events"], token, own),
        metrics=Upstream("metrics", clients["metrics"], token, own),
    )
