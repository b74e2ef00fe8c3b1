"""Flow definitions and their rules: the saved model, the control-flow graph, save-time validation.

May import: ``automations.errors``, ``automations.domain`` and ``automations.nodes`` (every
node-specific rule is read from the node registry). No I/O.
"""
