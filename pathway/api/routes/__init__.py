"""The routes, one module per area; each only translates HTTP to ``pathway.services.auth.Access``."""
