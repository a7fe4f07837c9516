"""What a TypeScript front end gets: openapi-typescript types for the three services, and code using them, under tsc."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.contract.test_openapi_documents import SERVICES, _document

TYPESCRIPT = Path(__file__).resolve().parents[2] / "clients" / "typescript"
GENERATOR = TYPESCRIPT / "node_modules" / "openapi-typescript" / "bin" / "cli.js"
TSC = TYPESCRIPT / "node_modules" / "typescript" / "bin" / "tsc"
TSC_OPTIONS = ["--strict", "--noEmit", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler"]


def _node() -> str:
    node = shutil.which("node")
    assert node, "the TypeScript contract test needs Node.js (node and npm on PATH), then `make test`"
    assert GENERATOR.exists() and TSC.exists(), "run `make test`: it installs clients/typescript/package.json"
    return node


def _generate(node: str, document: dict[str, Any], folder: Path, service: str) -> None:
    """openapi-typescript writes folder/generated/<service>.ts; the code using it is copied to folder/src."""
    (folder / "generated").mkdir(parents=True, exist_ok=True)
    source = folder / f"{service}.json"
    source.write_text(json.dumps(document))
    output = folder / "generated" / f"{service}.ts"
    run = subprocess.run(
        [node, str(GENERATOR), str(source), "--output", str(output)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    said = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    assert [line[0] for line in said] == ["✨", "🚀"], said  # its banner and the file written: no warning
    shutil.copytree(TYPESCRIPT / "src", folder / "src", dirs_exist_ok=True)


def _tsc(node: str, folder: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, str(TSC), *TSC_OPTIONS, *files], cwd=folder, capture_output=True, text=True, timeout=300
    )


def test_generated_types_compile_and_type_what_a_front_end_reads(tmp_path: Path) -> None:
    """clients/typescript/src reads places, boundaries, totals and problems through the generated types, strictly."""
    node = _node()
    for service in SERVICES:
        _generate(node, _document(service), tmp_path / "all", service)
    run = _tsc(node, tmp_path, sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("all/src/*.ts")))
    assert run.returncode == 0, run.stdout + run.stderr


def _loosen(schema: dict[str, Any]) -> None:
    schema.clear()
    schema.update({"type": "object", "additionalProperties": True})


LOOSENED = {
    # (service, model, field): what the schema may regress to, which the front-end code must then fail to compile on
    ("audits", "AuditRead", "location"): _loosen,
    ("audits", "NeighbourhoodRead", "boundary"): _loosen,
    ("audits", "Problem", "errors"): _loosen,
    ("events", "EventRead", "location"): _loosen,
    ("metrics", "IncidentRead", "location"): _loosen,
    ("metrics", "Totals", "recommendations_by_status"): lambda s: s.pop("properties"),
    ("metrics", "Totals", "recommendations_by_category"): lambda s: s.pop("properties"),
}


def test_the_front_end_code_fails_to_compile_on_a_loosened_type(tmp_path: Path) -> None:
    node = _node()
    documents = {service: json.dumps(_document(service)) for service in SERVICES}
    for number, ((service, model, field), loosen) in enumerate(LOOSENED.items()):
        document = json.loads(documents[service])
        loosen(document["components"]["schemas"][model]["properties"][field])
        _generate(node, document, tmp_path / f"case{number}", service)
    files = [f"case{number}/src/{service}.ts" for number, (service, _, _) in enumerate(LOOSENED)]
    run = _tsc(node, tmp_path, files)
    compiled = [case for file, case in zip(files, LOOSENED, strict=True) if f"{file}(" not in run.stdout]
    assert compiled == [], run.stdout
