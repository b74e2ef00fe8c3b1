"""Pydantic models of the domain: flows, triggers, runs, steps, attempts."""
