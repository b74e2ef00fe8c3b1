"""End-to-end tests use the session-wide ``stack`` (the local stack) and ``target`` fixtures."""
