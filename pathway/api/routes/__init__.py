"""The routes, one module per area; each only translates HTTP to ``pathway.auth.Access``."""
