"""Unknown query parameters are refused, so a misspelt filter (``?updatedsince=``) never returns everything.

The open standards (Open311, OGC API) read their parameters themselves and answer in their own formats;
a service names their path prefixes and they are left alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

_declared: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> Iterator[str]:
    for param in dependant.query_params:
        yield param.alias
    for child in dependant.dependencies:
        yield from _query_names(child)


def declared_query(route: APIRoute) -> frozenset[str]:
    names = _declared.get(id(route))
    if names is None:
        names = _declared[id(route)] = frozenset(_query_names(route.dependant))
    return names


def refuse_unknown_query(*lax_prefixes: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency for the whole app: 422 naming every query parameter the route does not take."""

    async def check(request: Request) -> None:
        route = request.scope.get("route")
        if not isinstance(route, APIRoute) or request.url.path.startswith(lax_prefixes):
            return
        unknown = sorted(set(request.query_params) - declared_query(route))
        if unknown:
            raise RequestValidationError(
                [
                    {"loc": ("query", name), "msg": "unknown query parameter", "type": "extra_forbidden"}
                    for name in unknown
                ]
            )

    return check
