"""The HTTP API's blueprints: one module per resource, HTTP only (the work is elsewhere)."""
