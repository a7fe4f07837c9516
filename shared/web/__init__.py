"""The HTTP side every service shares: app factory, middleware, errors' rendering, pagination, OpenAPI, documents."""
