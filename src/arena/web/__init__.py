"""The HTTP entry point: JSON and NDJSON under /api, pages and static files."""
