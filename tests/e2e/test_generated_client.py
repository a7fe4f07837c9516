"""The Python client openapi-python-client generates from the documents, run against the live services: it
creates with an Idempotency-Key and sees the replay, reads typed GeoJSON back, revalidates with the ETag,
parses a problem, and reads the totals a write reached, all as the generated models."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import uuid
from pathlib import Path

from shared.auth.keys import Scope
from tests.contract.test_openapi_documents import CLIENT_CONFIG, CLIENT_GENERATOR, _document
from tests.e2e.conftest import _issue_key
from tests.e2e.processes import Platform

SCRIPT = textwrap.dedent(
    """
    import json, sys, time, uuid
    from audits_client import AuthenticatedClient as Audits
    from audits_client.api.neighbourhoods import create_neighbourhood, get_neighbourhood
    from audits_client.api.partnerships import create_partnership
    from audits_client.models import NeighbourhoodCreate, PartnershipCreate
    from metrics_client import AuthenticatedClient as Metrics
    from metrics_client.api.totals import totals

    audits_url, metrics_url, key, idempotency_key = sys.argv[1:]
    audits = Audits(base_url=audits_url, token=key, raise_on_unexpected_status=True)
    metrics = Metrics(base_url=metrics_url, token=key, raise_on_unexpected_status=True)
    before = totals.sync(client=metrics)
    ring = [[-79.40, 43.65], [-79.39, 43.65], [-79.39, 43.66], [-79.40, 43.65]]
    body = NeighbourhoodCreate.from_dict(
        {"name": "Client Ward", "municipality": "Testville", "boundary": {"type": "Polygon", "coordinates": [ring]}}
    )
    created = create_neighbourhood.sync_detailed(client=audits, body=body, idempotency_key=idempotency_key)
    again = create_neighbourhood.sync_detailed(client=audits, body=body, idempotency_key=idempotency_key)
    read = get_neighbourhood.sync_detailed(created.parsed.id, client=audits)
    revalidated = get_neighbourhood.sync_detailed(created.parsed.id, client=audits, if_none_match=read.headers["etag"])
    missing = get_neighbourhood.sync_detailed(uuid.uuid4(), client=audits)
    partnership = PartnershipCreate.from_dict(
        {"name": "Client Partnership", "police_service": "Windsor Police Service", "formalized_on": "2020-05-01",
         "neighbourhood_ids": [str(created.parsed.id)]}
    )
    create_partnership.sync(client=audits, body=partnership)
    deadline = time.monotonic() + 30
    while (after := totals.sync(client=metrics)).partnerships == before.partnerships and time.monotonic() < deadline:
        time.sleep(0.2)
    print(json.dumps({
        "created": [created.status_code, type(created.parsed).__name__],
        "replayed": [again.status_code, again.headers.get("idempotent-replayed"), again.parsed.id == created.parsed.id],
        "read": [type(read.parsed).__name__, type(read.parsed.boundary).__name__, read.parsed.boundary.coordinates],
        "revalidated": revalidated.status_code,
        "missing": [missing.status_code, type(missing.parsed).__name__, missing.parsed.status],
        "totals": [type(before).__name__, before.partnerships, after.partnerships],
    }))
    """
)


def test_the_generated_python_client_writes_reads_and_revalidates_against_the_services(
    platform: Platform, tmp_path: Path
) -> None:
    assert CLIENT_GENERATOR.exists(), "run `make test`: the client generator lives in .venv-clients"
    for service in ("audits", "metrics"):
        (tmp_path / f"{service}.json").write_text(json.dumps(_document(service)))
        generate = [str(CLIENT_GENERATOR), "generate", "--path", str(tmp_path / f"{service}.json"), "--meta", "none"]
        generate += ["--output-path", str(tmp_path / f"{service}_client"), "--config", str(CLIENT_CONFIG)]
        made = subprocess.run(generate, capture_output=True, text=True, timeout=300)
        assert made.returncode == 0, made.stderr
    (tmp_path / "use.py").write_text(SCRIPT)
    key = _issue_key(platform.database_url, Scope.admin)  # type: ignore[attr-defined]
    run = subprocess.run(
        [str(CLIENT_GENERATOR.parent / "python"), "use.py", platform.url("audits"), platform.url("metrics"), key,
         str(uuid.uuid4())],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["created"] == [201, "NeighbourhoodRead"]
    assert seen["replayed"] == [201, "true", True]
    ring = [[-79.40, 43.65], [-79.39, 43.65], [-79.39, 43.66], [-79.40, 43.65]]
    assert seen["read"] == ["NeighbourhoodRead", "PolygonRead", [ring]]
    assert seen["revalidated"] == 304
    assert seen["missing"] == [404, "Problem", 404]
    kind, before, after = seen["totals"]
    assert kind == "Totals" and after == before + 1
