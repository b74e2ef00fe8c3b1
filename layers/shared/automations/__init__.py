"""The automation engine's shared package, built as a Lambda layer (``layers/shared``) and
installed into the project's virtualenv for tests and the local stack.

Layers, each importing only those before it (every package's docstring states its rule, and
``tests/unit/test_layers.py`` enforces them): ``errors`` -> ``domain`` (pure) -> ``nodes`` (the
node registry) -> ``flows`` -> ``ports`` -> ``logic`` (business rules, no AWS) and ``adapters``
(AWS) -> ``api``. Nothing in here reads the environment at import time, but ``cold_start``
(imported first by each handler module, imports nothing of ours): in a Lambda sandbox, it pauses
the garbage collector until the first invocation ends.
"""
