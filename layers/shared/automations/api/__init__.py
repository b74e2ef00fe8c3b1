"""The HTTP API: Powertools REST resolver routes, request/response schemas, error mapping."""
