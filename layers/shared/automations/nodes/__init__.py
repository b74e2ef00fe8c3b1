"""Node types: one module each (model, executor, output rules, Task state), and their registry.

May import: ``automations.errors``, ``automations.domain`` and third-party clients passed in as
``NodeServices`` (requests). Never ``automations.flows``, ``logic``, ``adapters`` or ``api``:
they read this package, not the other way round.

Importing the package registers the built-in types; ``REGISTRY`` is the one list. To add a
type, add a module here and import it below (``tests/unit/test_node_registry.py`` fails for a
module that is not registered, and for a type whose Task state or function is missing).
"""

from automations.nodes import condition, delay, http_request, send_email, set_variables
from automations.nodes.base import REGISTRY

__all__ = ["REGISTRY", "condition", "delay", "http_request", "send_email", "set_variables"]
