"""The one home of test plumbing: fixtures, builders and doubles shared by every test folder.

    fixtures.py      the shared pytest fixtures (`double`, `arena_factory`, ...), loaded by tests/conftest.py
    server.py        a real arena under uvicorn in a thread (`RunningArena`), NDJSON reading
    accounts.py      an arena in `users` mode with one account per role, logged-in clients
    process.py       a real `arena serve` in a child process
    llama_server.py  a real `python -m llama_cpp.server` (OpenAI-compatible)
    doubles/         protocol doubles: an Ollama server, one that judges
    builders.py      rows written through the storage layer: instances, turns, votes, verdicts
    db_fixtures.py   SQLite and PostgreSQL test databases
    fuzz_app.py      the app the OpenAPI fuzzer drives
    xss_payloads.py  the XSS corpus

Test modules take their plumbing from here rather than from one another.
"""
