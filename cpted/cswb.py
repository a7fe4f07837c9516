"""``cpted cswb``: back-fill the nightly CSWB feeds and see their delivery state."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cpted.command import err, out, settings_of
from shared.settings import Settings

cswb_app = typer.Typer(help="The nightly CSWB feeds", no_args_is_help=True)
console = out  # no wrapping when piped

MAX_DAYS = 3660


def _dates(first: date, last: date) -> list[date]:
    if first > last:
        raise typer.BadParameter("--from is after --to")
    if (last - first).days >= MAX_DAYS:
        raise typer.BadParameter(f"at most {MAX_DAYS} dates at once")
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def _progress() -> Progress:
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=err)


async def _build(settings: Settings, cswb: Any, days: list[date]) -> tuple[Counter[str], list[Any]]:
    from services.metrics.cswb.handlers import feeds
    from shared.db.engine import dispose_engines, get_engine

    engine = get_engine(settings)
    outcomes: Counter[str] = Counter()
    try:
        with _progress() as bar:
            task = bar.add_task("building CSWB feeds", total=len(days))
            for day in days:
                built = await feeds.build_feed(engine, day, cswb, settings.local_timezone)
                outcomes[built.outcome] += 1
                bar.update(task, advance=1, description=f"{day}: {built.outcome}")
        tickets = await feeds.due(engine, cswb)
    finally:
        await dispose_engines()
    return outcomes, [t for t in tickets if t.feed_date in set(days)]


@cswb_app.command("build")
def build(
    ctx: typer.Context,
    first: Annotated[str, typer.Option("--from", help="first date, YYYY-MM-DD (inclusive)")],
    last: Annotated[str, typer.Option("--to", help="last date, YYYY-MM-DD (inclusive)")],
    deliver: Annotated[bool, typer.Option(help="queue the deliveries of new and changed feeds")] = True,
) -> None:
    """Build (or rebuild) the feed of every date in the range. A date whose figures have not changed keeps
    its feed as it is; one whose figures changed gets a new revision, delivered again."""
    try:
        days = _dates(date.fromisoformat(first), date.fromisoformat(last))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    from services.metrics.cswb.settings import get_cswb_settings

    outcomes, tickets = asyncio.run(_build(settings_of(ctx), get_cswb_settings(), days))
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    console.print(f"{len(days)} dates: {summary}")
    if deliver and tickets:
        from services.metrics.tasks import enqueue

        console.print(f"queued {enqueue(tickets)} deliveries")
