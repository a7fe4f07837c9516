"""Where each schema's migrations live, in the order they run."""

from pathlib import Path

import services
import shared

SCHEMAS: list[tuple[Path, str]] = [
    (Path(shared.__file__).parent / "auth/migrations", "auth"),
    (Path(services.__file__).parent / "audits" / "migrations", "audits"),
    (Path(services.__file__).parent / "events" / "migrations", "events"),
    (Path(services.__file__).parent / "metrics" / "migrations", "metrics"),
]
