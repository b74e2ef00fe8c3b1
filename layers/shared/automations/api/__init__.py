"""The HTTP API: Powertools REST resolver routes, request/response schemas, error mapping.

May import everything below it: logic, ports, flows, domain, errors, settings, observability,
and the adapters (only in ``dependencies``, which wires them in).
"""
