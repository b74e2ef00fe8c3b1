"""Data access: small interfaces (``interfaces``) and their DynamoDB implementation."""
