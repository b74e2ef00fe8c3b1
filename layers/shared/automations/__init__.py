"""The automation engine's shared package: domain models, logic and data access.

Built as a Lambda layer (``layers/shared``) and installed into the project's virtualenv
for tests and the local stack. Nothing in here reads the environment at import time.
"""
