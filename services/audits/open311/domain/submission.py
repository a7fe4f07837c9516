"""Reading a GeoReport v2 POST (``application/x-www-form-urlencoded``) into an audit request."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.audits.open311.domain.georeport import ATTRIBUTES, AUDIT_REQUEST, MAX_DESCRIPTION, Open311Error
from shared.contracts.vocabulary import RecommendationCategory

Form = Mapping[str, Sequence[str]]
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
_DEFINED = {a["code"]: a for a in ATTRIBUTES}


@dataclass(frozen=True)
class Submission:
    place: str
    description: str
    location: dict[str, Any] | None
    attributes: dict[str, str]
    media_url: str | None
    requester: dict[str, str]


def _one(form: Form, name: str) -> str | None:
    values = [v.strip() for v in form.get(name, ()) if v.strip()]
    return values[0] if values else None


def check_service(form: Form) -> None:
    code = _one(form, "service_code")
    if code is None:
        raise Open311Error(400, "service_code was not provided")
    if code == AUDIT_REQUEST:
        return
    if code in {c.value for c in RecommendationCategory}:
        raise Open311Error(400, f"{code} lists the recommendations of audits; ask for an audit with {AUDIT_REQUEST}")
    raise Open311Error(404, f"service_code {code} not found")


def _coordinate(raw: str, name: str, bound: float) -> float:
    try:
        value = float(raw)
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a number (WGS84 degrees)") from exc
    if not -bound <= value <= bound:
        raise Open311Error(400, f"{name} {raw} is outside -{bound:g}..{bound:g}")
    return value


def _location(form: Form) -> dict[str, Any] | None:
    lat, long = _one(form, "lat"), _one(form, "long")
    if (lat is None) != (long is None):
        raise Open311Error(400, "lat & long both need to be sent")
    if lat is None or long is None:
        return None
    return {"type": "Point", "coordinates": [_coordinate(long, "long", 180), _coordinate(lat, "lat", 90)]}


def _attributes(form: Form) -> dict[str, str]:
    answers: dict[str, str] = {}
    for name, values in form.items():
        match = _ATTRIBUTE.match(name)
        if not match:
            continue
        code, value = match.group(1), next((v.strip() for v in values if v.strip()), "")
        spec = _DEFINED.get(code)
        if spec is None:
            raise Open311Error(400, f"attribute[{code}] is not an attribute of {AUDIT_REQUEST}")
        keys = [v["key"] for v in spec["values"]]
        if keys and value and value not in keys:
            raise Open311Error(400, f"attribute[{code}] must be one of {', '.join(keys)}")
        if value:
            answers[code] = value
    for code, spec in _DEFINED.items():
        if spec["required"] and code not in answers:
            raise Open311Error(400, f"attribute[{code}] is required")
    return answers


def _requester(form: Form) -> dict[str, str]:
    name = " ".join(part for part in (_one(form, "first_name"), _one(form, "last_name")) if part)
    found = {"name": name, "email": _one(form, "email"), "phone": _one(form, "phone")}
    return {key: value for key, value in found.items() if value}


def _place(form: Form, attributes: Mapping[str, str], location: dict[str, Any] | None) -> str:
    place = attributes.get("place") or _one(form, "address_string")
    if place is None and location is not None:
        long, lat = location["coordinates"]
        place = f"{lat:.5f}, {long:.5f}"
    if place is None:
        if _one(form, "address_id"):
            raise Open311Error(400, "address_id is not used by this jurisdiction: send lat & long or address_string")
        raise Open311Error(400, "a location is required: lat & long, or address_string")
    return place


def parse_submission(form: Form) -> Submission:
    """A POST for ``cpted_audit_request``, checked field by field in the specification's terms."""
    check_service(form)
    location = _location(form)
    attributes = _attributes(form)
    description = _one(form, "description")
    if description is None:
        raise Open311Error(400, "description was not provided: say what makes the place feel unsafe")
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description is limited to {MAX_DESCRIPTION} characters")
    media_url = _one(form, "media_url")
    if media_url and not re.match(r"^https?://", media_url):
        raise Open311Error(400, "media_url must be an http(s) URL")
    place = _place(form, attributes, location)
    return Submission(place, description, location, attributes, media_url, _requester(form))
