"""A running API keeps what its startup made out of the collector's full passes, and gives it back at shutdown."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.settings import get_settings


@pytest.fixture
def heap_freeze(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CPTED_HEAP_FREEZE", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_an_api_freezes_its_startup_heap_while_it_runs(heap_freeze: None) -> None:
    from services.audits.app import create_app

    app = create_app()
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        # Its routes, schemas and pools are frozen: a full collection no longer walks them.
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
