"""``automations``: the operator CLI. It talks to the engine's public REST API only (never to AWS),
so it works the same against a deployment and against the local stack.

``client`` speaks HTTP and turns error answers into exit codes; ``render`` draws tables and
colours; ``views`` says what each answer looks like on a terminal; ``main`` holds the commands.
"""
