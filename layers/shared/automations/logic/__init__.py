"""Business logic. Takes storage and engines as arguments (see ``repository.interfaces``)."""
