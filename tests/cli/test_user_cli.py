"""`arena user add|list|role|passwd|remove`: the first admin is made from the shell."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from arena import accounts
from arena.cli import app
from arena.storage import audit, oidc
from arena.storage.db import Database

runner = CliRunner()
ENV = {"COLUMNS": "200"}


def _database(data_dir: Path) -> Database:
    return Database(url=f"sqlite:///{data_dir / 'arena.db'}")


def test_the_first_admin_is_made_and_managed_from_the_shell(isolated_environment: Path) -> None:
    added = runner.invoke(
        app, ["user", "add", "root", "--role", "admin", "--password-stdin"], input="s3cret-enough\n", env=ENV
    )
    assert added.exit_code == 0, added.output
    assert "added root (admin)" in added.output
    assert "s3cret-enough" not in added.output

    runner.invoke(app, ["user", "add", "amy", "--password-stdin"], input="another-secret\n", env=ENV)
    listed = runner.invoke(app, ["user", "list"], env=ENV)
    assert "root" in listed.output and "admin" in listed.output
    assert "amy" in listed.output and "evaluator" in listed.output

    assert runner.invoke(app, ["user", "role", "amy", "viewer"], env=ENV).exit_code == 0
    assert (
        runner.invoke(app, ["user", "passwd", "amy", "--password-stdin"], input="changed-secret\n", env=ENV).exit_code
        == 0
    )
    database = _database(isolated_environment)
    try:
        assert accounts.verify_password(database, username="amy", password="another-secret") is None
        amy = accounts.verify_password(database, username="amy", password="changed-secret")
        assert amy is not None and amy.role == "viewer"
        with database.session() as session:
            actions = [e.action for e in audit.list_entries(session, limit=50).entries]
        assert {audit.USER_ADD, audit.USER_ROLE, audit.USER_PASSWD} <= set(actions)
    finally:
        database.dispose()

    assert runner.invoke(app, ["user", "remove", "amy"], env=ENV).exit_code == 0
    assert "amy" not in runner.invoke(app, ["user", "list"], env=ENV).output


def test_mistakes_exit_with_a_clear_message_and_change_nothing(isolated_environment: Path) -> None:
    runner.invoke(app, ["user", "add", "root", "--role", "admin", "--password-stdin"], input="s3cret-enough\n", env=ENV)
    cases = [
        (["user", "add", "root", "--password-stdin"], "s3cret-enough\n", "already exists"),
        (["user", "add", "shorty", "--password-stdin"], "short\n", "at least 8"),
        (["user", "add", "bad name", "--password-stdin"], "s3cret-enough\n", "username must be"),
        (["user", "add", "x", "--role", "boss", "--password-stdin"], "s3cret-enough\n", "role must be one of"),
        (["user", "role", "root", "viewer"], None, "last admin"),
        (["user", "remove", "root"], None, "last admin"),
        (["user", "remove", "ghost"], None, "does not exist"),
        (["user", "add", "ROOT", "--password-stdin"], "s3cret-enough\n", "already exists as 'root'"),
        (["user", "unlock", "ghost"], None, "does not exist"),
    ]
    for args, stdin, message in cases:
        result = runner.invoke(app, args, input=stdin, env=ENV)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    listed = runner.invoke(app, ["user", "list"], env=ENV).output
    assert "root" in listed and "shorty" not in listed and "admin" in listed


def test_a_new_password_or_role_from_the_shell_ends_the_users_api_tokens(isolated_environment: Path) -> None:
    runner.invoke(app, ["user", "add", "root", "--role", "admin", "--password-stdin"], input="s3cret-enough\n", env=ENV)
    runner.invoke(app, ["user", "add", "amy", "--password-stdin"], input="another-secret\n", env=ENV)
    database = _database(isolated_environment)
    try:
        amy = accounts.verify_password(database, username="AMY", password="another-secret")
        assert amy is not None and amy.username == "amy"  # any case logs in to the one account
        for command in (["user", "passwd", "Amy", "--password-stdin"], ["user", "role", "amy", "viewer"]):
            token, _ = accounts.issue_api_token(database, account=amy, name="script")
            assert accounts.resolve_api_token(database, token=token) is not None
            assert runner.invoke(app, command, input="changed-secret\n", env=ENV).exit_code == 0
            assert accounts.resolve_api_token(database, token=token) is None, command
    finally:
        database.dispose()


def test_an_sso_account_gets_no_password_from_the_shell_and_is_listed_as_sso(isolated_environment: Path) -> None:
    """A local password on an SSO account would skip the provider and its required group."""
    runner.invoke(app, ["user", "add", "root", "--role", "admin", "--password-stdin"], input="s3cret-enough\n", env=ENV)
    database = _database(isolated_environment)
    try:
        with database.session() as session:
            oidc.add_user(
                session,
                issuer="https://idp.example",
                subject="sub-bob",
                wanted_name="bob",
                role="evaluator",
                password_hash=accounts.hash_password("unusable-random-secret"),
            )
        refused = runner.invoke(app, ["user", "passwd", "bob", "--password-stdin"], input="local-secret\n", env=ENV)
        assert refused.exit_code == 2, refused.output
        assert "single sign-on" in refused.output and "identity provider" in refused.output
        assert accounts.verify_password(database, username="bob", password="local-secret") is None
        with database.session() as session:
            assert audit.USER_PASSWD not in [e.action for e in audit.list_entries(session, limit=50).entries]
    finally:
        database.dispose()

    listed = runner.invoke(app, ["user", "list", "--json"], env=ENV)
    assert {u["username"]: u["sso"] for u in json.loads(listed.output)} == {"bob": True, "root": False}
    rows = {line.split()[0]: line.split() for line in runner.invoke(app, ["user", "list"], env=ENV).output.splitlines()}
    assert rows["bob"][:3] == ["bob", "evaluator", "yes"] and rows["root"][2] != "yes"
