"""Who may do what: API keys and scopes, OIDC tokens, the keys API, the audit trail, the create-by-id rule."""
