"""What every ``cpted`` command shares: the settings, built once per run, and one way to fail.

A failure ends as one line on standard error and exit code 1 (a usage error is
typer's: exit 2); with ``--debug`` (before the command, or after it where the
command has the option) as the whole traceback instead.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Annotated, Any, NoReturn

import httpx
import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from shared.settings import Settings, get_settings

FAILED = 1
DEBUG = "cpted.debug"

# Piped into a file or another program, a line is never wrapped to a terminal's width.
err = Console(stderr=True, soft_wrap=not sys.stderr.isatty())
out = Console(soft_wrap=not sys.stdout.isatty())

Json = Annotated[bool, typer.Option("--json", help="one JSON object per line, for scripts")]


def show(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, as_json: bool) -> None:
    """Records as a table on a terminal; as tab-separated lines when piped (whole ids, no wrapping); or as JSON."""
    if as_json:
        for row in rows:
            sys.stdout.write(orjson.dumps(dict(row), default=str).decode() + "\n")
        return
    cells = [["" if row[c] is None else str(row[c]) for c in columns] for row in rows]
    if not sys.stdout.isatty():
        for line in [list(columns), *cells]:
            sys.stdout.write("\t".join(line) + "\n")
        return
    table = Table(*columns)
    table.columns[0].no_wrap = True  # the id: always whole, the command that takes it needs all of it
    for line in cells:
        table.add_row(*line)
    out.print(table)


class Run:
    """One run of the command line (``ctx.obj``): the settings are read from the environment once, when first
    asked for, so that a command needing none (``clean``, ``--help``) never fails on them."""

    @cached_property
    def settings(self) -> Settings:
        return get_settings()


def settings_of(ctx: typer.Context) -> Settings:
    return ctx.ensure_object(Run).settings


def _remember_debug(ctx: typer.Context, value: bool) -> bool:
    if value:
        ctx.meta[DEBUG] = True  # meta is shared by the contexts of the group and of the command
    return value


# The option's callback records it; the commands themselves never read it.
Debug = Annotated[bool, typer.Option("--debug", help="show the full traceback on failure", callback=_remember_debug)]
DebugAll = Annotated[
    bool, typer.Option("--debug", help="show the full traceback of any failure", callback=_remember_debug)
]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _invalid(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(map(str, first["loc"]))
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{exc.title}: {where}: {first['msg']}{more}"


def _answered(exc: httpx.HTTPStatusError) -> str:
    response = exc.response
    return f"{exc.request.method} {exc.request.url} answered {response.status_code} {response.reason_phrase}"


def _unreachable(exc: httpx.RequestError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # raised outside a client: no request to name
        return _first_line(exc)
    return f"cannot reach {url}: {_first_line(exc)}"


def one_line(exc: BaseException) -> str:
    """A failure as one line: invalid settings, an HTTP answer, an unreachable server and a database error in
    their own words (the database's message, not SQLAlchemy's essay); anything else by its message's first line
    (``NotConfigured``, a refused connection, a ``Problem`` such as "partnership ... not found")."""
    if isinstance(exc, ValidationError):
        return _invalid(exc)
    if isinstance(exc, httpx.HTTPStatusError):
        return _answered(exc)
    if isinstance(exc, httpx.RequestError):
        return _unreachable(exc)
    cause = getattr(exc, "orig", None)  # the driver's error under SQLAlchemy's
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {_first_line(cause)}"
    return _first_line(exc)


def fail(exc: BaseException, debug: bool) -> NoReturn:
    if debug:
        traceback.print_exception(exc)
    else:
        err.print(f"[red]error:[/] {escape(one_line(exc))}", soft_wrap=True, highlight=False)
    raise typer.Exit(FAILED)


class CommandLine(TyperGroup):
    """The ``cpted`` group: whatever any command raises, bar typer's own exits and usage errors, ends in ``fail``."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            fail(exc, debug=bool(ctx.meta.get(DEBUG)))
