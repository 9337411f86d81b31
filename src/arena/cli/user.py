"""`arena user add|remove|passwd|role|list`: accounts for ARENA_AUTH_MODE=users, from the shell.

The first admin is made here (the web API needs an admin to make users). Passwords are asked
twice without echo, or read from standard input with --password-stdin, never from an argument.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from arena import accounts
from arena import cli as cli_main
from arena.errors import ArenaError
from arena.storage import audit
from arena.storage.db import Database

user_app = typer.Typer(help="Manage accounts (ARENA_AUTH_MODE=users).", no_args_is_help=True)

RoleOption = Annotated[str, typer.Option("--role", help="admin, evaluator or viewer")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input")]


def _database() -> Database:
    return cli_main.ready_database(cli_main.load_settings())


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _audit(database: Database, action: str, target: str, **detail: object) -> None:
    detail = {**detail, "via": "cli"}
    audit.record(
        database, actor_id=None, actor=cli_main.os_user(), action=action, target=target, ip=None, detail=detail
    )


@user_app.command("add")
def add(username: str, role: RoleOption = "evaluator", password_stdin: PasswordStdin = False) -> None:
    """Create an account."""
    database = _database()
    try:
        account = accounts.add_user(database, username=username, password=_password(password_stdin), role=role)
        _audit(database, audit.USER_ADD, account.username, role=account.role)
    except ArenaError as exc:
        raise cli_main.fail(exc) from None
    cli_main.console.print(f"added {account.username} ({account.role})", highlight=False)


@user_app.command("remove")
def remove(username: str) -> None:
    """Remove an account with its sessions and tokens (its conversations pass to the admins)."""
    database = _database()
    try:
        accounts.remove_user(database, username=username)
        _audit(database, audit.USER_REMOVE, username)
    except ArenaError as exc:
        raise cli_main.fail(exc) from None
    cli_main.console.print(f"removed {username}", highlight=False)


@user_app.command("passwd")
def passwd(username: str, password_stdin: PasswordStdin = False) -> None:
    """Set a new password; the user's browser sessions end."""
    database = _database()
    try:
        accounts.set_password(database, username=username, password=_password(password_stdin))
        _audit(database, audit.USER_PASSWD, username)
    except ArenaError as exc:
        raise cli_main.fail(exc) from None
    cli_main.console.print(f"password changed for {username}", highlight=False)


@user_app.command("role")
def role(
    username: str, new_role: Annotated[str, typer.Argument(metavar="ROLE", help="admin, evaluator or viewer")]
) -> None:
    """Change a user's role (the last admin stays admin)."""
    database = _database()
    try:
        account = accounts.set_role(database, username=username, role=new_role)
        _audit(database, audit.USER_ROLE, username, role=account.role)
    except ArenaError as exc:
        raise cli_main.fail(exc) from None
    cli_main.console.print(f"{account.username} is now {account.role}", highlight=False)


@user_app.command("list")
def list_users() -> None:
    """Every account with its role."""
    table = Table("username", "role", "created")
    for account, created_at in accounts.list_accounts(_database()):
        table.add_row(account.username, account.role, created_at.strftime("%Y-%m-%d %H:%M UTC"))
    cli_main.console.print(table)
