"""Settings beside a running `cpted dev`: its servers and its services' URLs, unless configured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.settings import Settings


def _running(var: Path, **urls: str) -> Path:
    (var / "servers.json").write_text(json.dumps(urls))
    return var


def test_commands_beside_cpted_dev_call_its_services_not_the_default_ports(tmp_path: Path) -> None:
    var = _running(tmp_path, audits_url="http://127.0.0.1:9101", metrics_url="http://127.0.0.1:9103")
    settings = Settings(var_dir=var)
    assert (settings.audits_url, settings.metrics_url) == ("http://127.0.0.1:9101", "http://127.0.0.1:9103")
    assert settings.events_url == "http://127.0.0.1:8002"  # not recorded: the default


def test_a_configured_url_wins_over_the_running_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    var = _running(tmp_path, audits_url="http://127.0.0.1:9101", events_url="http://127.0.0.1:9102")
    monkeypatch.setenv("CPTED_EVENTS_URL", "http://events.city.example")
    settings = Settings(var_dir=var, audits_url="http://audits.city.example")
    assert (settings.audits_url, settings.events_url) == ("http://audits.city.example", "http://events.city.example")


def test_make_run_starts_each_api_with_the_configured_number_of_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    from cpted.dev import Ports, children

    monkeypatch.setenv("CPTED_API_WORKERS", "3")
    workers = Settings().api_workers
    assert workers == 3
    started = {child.name: child.args for child in children(Ports(api_workers=workers))}
    for api in ("audits", "events", "metrics"):
        assert started[api][started[api].index("--workers") + 1] == "3"
    assert not any("--workers" in args for name, args in started.items() if name not in ("audits", "events", "metrics"))
    assert all("--workers" not in child.args for child in children(Ports()))  # one process each by default
