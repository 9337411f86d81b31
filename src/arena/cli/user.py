"""`arena user add|remove|passwd|role|unlock|list`: accounts for ARENA_AUTH_MODE=users, from the shell.

The first admin is made here (the web API needs an admin to make users). Passwords are asked
twice without echo, or read from standard input with --password-stdin, never from an argument.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from arena import accounts
from arena.cli._common import console, exit_on_error, opened_database, os_user
from arena.cli._tables import Column, print_table
from arena.storage import audit
from arena.storage.db import Database

user_app = typer.Typer(help="Manage accounts (ARENA_AUTH_MODE=users).", no_args_is_help=True)

RoleOption = Annotated[str, typer.Option("--role", help="admin, evaluator or viewer")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _audit(database: Database, action: str, target: str, **detail: object) -> None:
    detail = {**detail, "via": "cli"}
    audit.record(database, actor_id=None, actor=os_user(), action=action, target=target, ip=None, detail=detail)


@user_app.command("add")
def add(username: str, role: RoleOption = "evaluator", password_stdin: PasswordStdin = False) -> None:
    """Create an account."""
    with opened_database() as database, exit_on_error():
        account = accounts.add_user(database, username=username, password=_password(password_stdin), role=role)
        _audit(database, audit.USER_ADD, account.username, role=account.role)
    console.print(f"added {account.username} ({account.role})", highlight=False)


@user_app.command("remove")
def remove(username: str) -> None:
    """Remove an account with its sessions and tokens (its conversations pass to the admins)."""
    with opened_database() as database, exit_on_error():
        accounts.remove_user(database, username=username)
        _audit(database, audit.USER_REMOVE, username)
    console.print(f"removed {username}", highlight=False)


@user_app.command("passwd")
def passwd(username: str, password_stdin: PasswordStdin = False) -> None:
    """Set a new password; the user's browser sessions and API tokens end. Refused for an
    account that signs in through single sign-on (its provider decides who gets in)."""
    with opened_database() as database, exit_on_error():
        accounts.set_password(database, username=username, password=_password(password_stdin))
        _audit(database, audit.USER_PASSWD, username)
    console.print(f"password changed for {username}", highlight=False)


@user_app.command("role")
def role(
    username: str, new_role: Annotated[str, typer.Argument(metavar="ROLE", help="admin, evaluator or viewer")]
) -> None:
    """Change a user's role (the last admin stays admin); their API tokens end."""
    with opened_database() as database, exit_on_error():
        account = accounts.set_role(database, username=username, role=new_role)
        _audit(database, audit.USER_ROLE, username, role=account.role)
    console.print(f"{account.username} is now {account.role}", highlight=False)


@user_app.command("unlock")
def unlock(username: str) -> None:
    """Forget the failed logins counted against an account, so no wait is left (the server
    reads the counts from the database: it need not be stopped)."""
    with opened_database() as database, exit_on_error():
        account = accounts.unlock(database, username=username)
        _audit(database, audit.USER_UNLOCK, account.username)
    console.print(f"unlocked {account.username}: its failed logins are forgotten", highlight=False)


USER_COLUMNS = (
    Column(header="username", keep=True),
    Column(header="role", priority=2),
    Column(header="sso", priority=2),
    Column(header="created", priority=1),
)


@user_app.command("list")
def list_users(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Every account with its role, and whether it signs in through single sign-on."""
    with opened_database() as database:
        listed = accounts.list_accounts(database)
        sso = accounts.sso_user_ids(database)
    if as_json:
        data = [
            {
                "username": account.username,
                "role": account.role,
                "sso": account.id in sso,
                "created_at": created_at.isoformat(),
            }
            for account, created_at in listed
        ]
        console.print_json(json.dumps(data))
        return
    rows = [
        [account.username, account.role, "yes" if account.id in sso else "", created_at.strftime("%Y-%m-%d %H:%M UTC")]
        for account, created_at in listed
    ]
    print_table(console, USER_COLUMNS, rows)
