"""``GET /v1/partnerships/{id}/calendar.ics``: a partnership's events for calendar apps to subscribe to.

Calendar apps cannot send a Bearer header, so the key may also come as the
password of HTTP Basic auth (any user name), which they do support.
"""

import base64
import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, Security
from fastapi.security import HTTPBasicCredentials

from services.events.programme.directory import AuditsDirectory
from services.events.programme.handlers import calendar
from shared.auth.keys import Credentials, Principal, bearer_token, calendar_basic_scheme
from shared.db.uow import UnitOfWork
from shared.errors import Unauthorized
from shared.web.http import ClockDep

router = APIRouter(tags=["calendar"])


def _key(request: Request) -> str:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return bearer_token(request)
    try:
        return base64.b64decode(credentials, validate=True).decode().partition(":")[2]
    except ValueError as exc:
        raise Unauthorized("malformed Basic credentials; send the API key as the password") from exc


async def calendar_key(
    request: Request,
    _bearer: Credentials = None,
    _basic: Annotated[HTTPBasicCredentials | None, Security(calendar_basic_scheme)] = None,
) -> Principal:
    principal: Principal = await request.app.state.key_verifier.verify(_key(request))
    principal.require_read()
    return principal


CalendarKey = Annotated[Principal, Depends(calendar_key)]


async def reading(request: Request) -> UnitOfWork:
    """A unit of work that only reads: ``UowDep`` would want the key as a Bearer token."""
    return UnitOfWork(request.app.state.engine)


@router.get(
    "/v1/partnerships/{partnership_id}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
    summary="The partnership's events as an iCalendar feed (last 400 days and everything ahead)",
)
async def partnership_calendar(
    partnership_id: uuid.UUID,
    request: Request,
    uow: Annotated[UnitOfWork, Depends(reading)],
    principal: CalendarKey,
    clock: ClockDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    directory = AuditsDirectory(request.app.state.audits_client, _key(request))
    body = await calendar.feed(uow, principal, directory, partnership_id, clock)
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": "private, max-age=300"}
    if if_none_match and tag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)
