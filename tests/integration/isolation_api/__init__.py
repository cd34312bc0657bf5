"""Isolation HTTP API against a database holding the small demo city."""
