import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.events.deps import UowDep
from services.events.materials.api.params import AgencyQ, FromQ, ToQ
from services.events.materials.handlers import trainings
from services.events.materials.schemas import TrainingCreate, TrainingRead
from services.events.tables import Training
from shared.auth.keys import ReaderKey
from shared.contracts.vocabulary import Cohort
from shared.web.http import ClockDep, created
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/trainings", tags=["trainings"])


@router.post("", status_code=201, response_model=TrainingRead)
async def record_training(
    body: TrainingCreate, uow: UowDep, principal: ReaderKey, response: Response, clock: ClockDep
) -> Training:
    row, was_created = await trainings.record_training(uow, principal, body, clock)
    created(response, f"/v1/trainings/{row.id}", row.version, was_created)
    return row


@router.get("", response_model=Page[TrainingRead])
async def list_trainings(
    uow: UowDep,
    principal: ReaderKey,
    page: PageDep,
    agency: AgencyQ = None,
    topic: Annotated[str | None, Query(max_length=60)] = None,
    cohort: Cohort | None = None,
    start: FromQ = None,
    end: ToQ = None,
) -> dict[str, object]:
    rows, cursor = await trainings.listing(uow, page, agency=agency, topic=topic, cohort=cohort, start=start, end=end)
    return {"items": rows, "next_cursor": cursor}


@router.get("/{training_id}", response_model=TrainingRead)
async def get_training(training_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response) -> Training:
    row = await trainings.read(uow, training_id)
    set_etag(response, row.version)
    return row
