"""End-to-end tests use the session-wide ``engine`` (the local stack) and ``target`` fixtures."""
