"""The one home of test plumbing: fixtures, builders and doubles shared by every test folder.

    fixtures.py      the shared pytest fixtures (`double`, `module_double`, `arena_factory`,
                     `arena_database`, ...), loaded by tests/conftest.py
    db_fixtures.py   SQLite and PostgreSQL test databases (`database`, ...), loaded by tests/conftest.py
    server.py        a real arena under uvicorn in a thread (`RunningArena`), NDJSON reading
    accounts.py      an arena in `users` mode with one account per role, logged-in clients
    process.py       a real `arena serve` in a child process
    llama_server.py  a real `python -m llama_cpp.server` (OpenAI-compatible)
    browser.py       driving the arena page in Chromium: `PageProblems`, `open_arena`, `add_instance`, ...
    doubles/         stand-ins for what the arena talks to (listed in doubles/__init__.py)
    builders.py      rows written through the storage layer: instances, turns, votes, verdicts
    encryption.py    a value in every encrypted column, and reading them all back
    models.py        model ids the tests name (`SMOL`)
    fuzz_app.py      the app the OpenAPI fuzzer drives
    xss_payloads.py  the XSS corpus

Test modules take their plumbing from here rather than from one another, and conftest.py files
hold only fixtures.
"""
