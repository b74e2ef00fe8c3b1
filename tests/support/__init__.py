"""Test support: a scripted HTTP target and a client for the local stack."""
