"""Pure domain code: the run/step/attempt records, statuses and their transition tables,
templates, expressions, redaction, signatures, time and ids; what a step or attempt item may record
(``item_budget``); what node executors may know of the deployment (``node_settings``).

May import: the standard library, pydantic, ``automations.errors`` and ``automations.domain``.
Nothing here does I/O, reads the environment or knows a node type (see ``automations.nodes``).
"""
