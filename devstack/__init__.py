"""The local stack: the whole engine on one machine (moto, in-process handlers, pollers)."""
