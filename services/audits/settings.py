"""Settings of the audits service's public interfaces (Open311 GeoReport v2, OGC API - Features).

Built once by the app factory and kept on ``app.state.audits_settings``.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth.keys import Principal
from shared.contracts.vocabulary import RecommendationCategory


class AuditsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CPTED_", extra="ignore")

    # Recommendations of these categories describe a site's weaknesses, so they are left out of what
    # Open311 and OGC API clients see without a key; a reader (or admin) key sees everything.
    hidden_categories: frozenset[RecommendationCategory] = frozenset(
        {RecommendationCategory.target_hardening, RecommendationCategory.surveillance}
    )
    # One jurisdiction per deployment: the parameter is optional, and any other value is "not found".
    open311_jurisdiction_id: str = "cpted.example.org"
    open311_agency: str = "CPTED police-community partnerships"
    open311_contact: str = "Ask the partnership coordinators of your police service."
    open311_key_service: str = "API keys are issued by the programme's administrators (cpted keys create)."
    ogc_default_limit: int = 100
    ogc_max_limit: int = 1000

    def visible_categories(self, principal: Principal | None) -> list[RecommendationCategory]:
        """Everything for a reader or admin key; without one, the categories that describe no weakness."""
        if principal is not None and principal.sees_all():
            return list(RecommendationCategory)
        return [c for c in RecommendationCategory if c not in self.hidden_categories]
