"""The single DynamoDB table: its key schema (``keys``) and the repository implementing the stores."""
