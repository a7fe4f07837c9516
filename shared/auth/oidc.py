"""Optional OIDC bearer tokens (JWT), verified against the issuer's JWKS.

Enabled when ``CPTED_OIDC_ISSUER``, ``CPTED_OIDC_AUDIENCE`` and
``CPTED_OIDC_JWKS_URL`` are set. The token's ``cpted_scope`` claim gives the
scope and ``cpted_partnerships`` the partnerships of an editor, so one
identity provider can hand out the same rights as API keys.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import jwt

from shared.auth.keys import Principal, Scope
from shared.errors import Unauthorized
from shared.settings import Settings

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
SUBJECTS = uuid.UUID("3f0e4c1a-6a6f-4e0e-9a59-7c2b7f3f3c11")


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(str(settings.oidc_jwks_url), cache_keys=True, lifespan=300, timeout=5)

    @staticmethod
    def accepts(token: str) -> bool:
        """A JWT has three dot-separated parts; API keys have none."""
        return token.count(".") == 2 and not token.startswith("cpted_")

    async def verify(self, token: str) -> Principal:
        try:
            # PyJWKClient fetches over blocking HTTP (cached): keep it off the event loop.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=ALGORITHMS,
                audience=self.settings.oidc_audience,
                issuer=self.settings.oidc_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, OSError) as exc:
            raise Unauthorized(f"the bearer token was refused: {exc}") from exc
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        scope = Scope(claims.get("cpted_scope", "reader"))
        partnerships = frozenset(uuid.UUID(p) for p in claims.get("cpted_partnerships", []))
    except (ValueError, TypeError) as exc:
        raise Unauthorized("the token's cpted_scope or cpted_partnerships claim is not valid") from exc
    subject = str(claims["sub"])
    principal_id = uuid.uuid5(SUBJECTS, f"{claims['iss']}|{subject}")
    return Principal(principal_id, f"oidc:{subject}", scope, partnerships, api_key=False)
