"""A benchmark report: the typed data, then Markdown, JSON, CSV and one self-contained HTML page."""
