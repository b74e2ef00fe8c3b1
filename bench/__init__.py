"""Benchmarks and load scripts: they print figures; nothing here is a test."""
