"""OIDC bearer tokens signed by a local key pair, with the JWKS served by a local receiver."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.settings import get_settings
from tests import factories
from tests.integration.conftest import client_for

ISSUER, AUDIENCE = "https://login.windsor.example", "cpted-platform"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [jwk | {"kid": "test-key", "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


@pytest.fixture
async def audits_anonymous(jwks_url: str, clean: None) -> AsyncIterator[httpx.AsyncClient]:
    from services.audits.app import create_app

    settings = get_settings()
    settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url = ISSUER, AUDIENCE, jwks_url
    try:
        async for client in client_for(create_app(), None):
            yield client
    finally:
        settings.oidc_issuer = settings.oidc_audience = settings.oidc_jwks_url = None


def token(key: rsa.RSAPrivateKey, **claims: Any) -> dict[str, str]:
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "analyst@windsor", "exp": int(time.time()) + 300} | claims
    return {"Authorization": f"Bearer {jwt.encode(body, key, algorithm='RS256', headers={'kid': 'test-key'})}"}


async def test_a_valid_token_is_a_principal_with_its_scope(
    audits_anonymous: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    reader = token(signing_key, cpted_scope="reader")
    assert (await audits_anonymous.get("/v1/audits", headers=reader)).status_code == 200
    r = await audits_anonymous.post("/v1/neighbourhoods", json=factories.neighbourhood(), headers=reader)
    assert r.status_code == 403
    admin = token(signing_key, cpted_scope="admin")
    r = await audits_anonymous.post("/v1/neighbourhoods", json=factories.neighbourhood(), headers=admin)
    assert r.status_code == 201


async def test_editor_tokens_are_limited_to_their_partnerships(
    audits_anonymous: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    admin = token(signing_key, cpted_scope="admin")
    n = (await audits_anonymous.post("/v1/neighbourhoods", json=factories.neighbourhood(), headers=admin)).json()
    p = (await audits_anonymous.post("/v1/partnerships", json=factories.partnership([n["id"]]), headers=admin)).json()
    mine = token(signing_key, cpted_scope="editor", cpted_partnerships=[p["id"]])
    theirs = token(signing_key, cpted_scope="editor", cpted_partnerships=[str(uuid.uuid4())])
    body = factories.audit(p["id"], n["id"])
    assert (await audits_anonymous.post("/v1/audits", json=body, headers=theirs)).status_code == 403
    assert (await audits_anonymous.post("/v1/audits", json=body, headers=mine)).status_code == 201


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"iss": "https://evil.example"},
        {"exp": int(time.time()) - 10},
        {"cpted_scope": "superuser"},
    ],
    ids=["audience", "issuer", "expired", "unknown-scope"],
)
async def test_bad_tokens_are_401(
    audits_anonymous: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey, claims: dict[str, Any]
) -> None:
    r = await audits_anonymous.get("/v1/audits", headers=token(signing_key, **claims))
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_token_signed_by_another_key_is_401(audits_anonymous: httpx.AsyncClient) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert (await audits_anonymous.get("/v1/audits", headers=token(forger))).status_code == 401


async def test_the_open_standards_accept_tokens_too(
    audits_anonymous: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    reader = token(signing_key, cpted_scope="reader")
    assert (await audits_anonymous.get("/open311/v2/services.json", headers=reader)).status_code == 200
    forged = token(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    refused = await audits_anonymous.get("/open311/v2/services.json", headers=forged)
    assert refused.status_code == 403  # GeoReport's own answer to a refused credential
    assert refused.json()[0]["code"] == 403
