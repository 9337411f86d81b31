"""`arena`: the command line. This module only assembles it; each command lives in its own module.

Shared pieces (consoles, exit codes, settings, the database) are in ``arena.cli._common``, which the
command modules import; none of them imports this package back, so any may be loaded first.
"""

from __future__ import annotations

import sys

import typer

from arena.cli import audit, bench, bench_compare, bench_worker, db, judges, leaderboard, models, serve, user
from arena.cli._help import drop_flag_types

drop_flag_types()

app = typer.Typer(help="Local LLM Arena: compare language models privately, on your own machine.", no_args_is_help=True)

# Registered in the order `arena --help` lists them.
app.command("serve")(serve.serve)
app.command("models")(models.models)
app.command("pull")(models.pull)
app.command("rm")(models.rm)
app.command("leaderboard")(leaderboard.leaderboard)
app.command("judges")(judges.judges)
bench.bench_app.command("worker")(bench_worker.bench_worker)
bench.bench_app.command("compare")(bench_compare.bench_compare)
app.add_typer(bench.bench_app, name="bench")
app.add_typer(db.db_app, name="db")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(user.user_app, name="user")


def main() -> None:
    """The `arena` entry point: Ctrl-C ends quietly with the shell's usual 130."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
