"""A benchmark report: the data, then Markdown, JSON, CSV and one self-contained HTML page."""
