"""Business logic: recording triggers, the run lifecycle, running nodes, reacting to table changes.

May import: ``automations.errors``, ``automations.observability``, ``automations.domain``,
``automations.nodes``, ``automations.flows`` and ``automations.ports`` (storage and workflows
arrive as arguments). Never boto3, ``automations.adapters``, ``automations.settings`` or
``automations.api``.
"""
