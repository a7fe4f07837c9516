"""Unknown query parameters are refused, so a misspelt filter (``?updatedsince=``) never returns everything.

The open standards (Open311, OGC API) read their parameters themselves and answer in their own formats:
their routes are marked with ``shared.web.inputs.reads_text_as_is`` and left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

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


async def refuse_unknown_query(request: Request) -> None:
    """An app-wide dependency: 422 naming every query parameter the route does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or getattr(route, "text_as_is", False):
        return
    unknown = sorted(set(request.query_params) - declared_query(route))
    if unknown:
        raise RequestValidationError(
            [{"loc": ("query", name), "msg": "unknown query parameter", "type": "extra_forbidden"} for name in unknown]
        )
