"""Query parameters the distribution and training lists share."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query

FromQ = Annotated[date | None, Query(alias="from", description="on or after this day")]
ToQ = Annotated[date | None, Query(alias="to", description="on or before this day")]
AgencyQ = Annotated[str | None, Query(max_length=200, description="agency name (case and spacing ignored)")]
