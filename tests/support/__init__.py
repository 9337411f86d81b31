"""Helpers shared by test folders: a real arena server in a thread, NDJSON reading."""
