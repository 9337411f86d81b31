"""A removed user's things fall to the admins and never to the next account: user ids are never
reused (SQLite would otherwise give the newest user's id to the next one), and removing a user
hands their conversations and bench runs to the admins."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from arena.storage.auth_models import User
from arena.storage.models import Conversation
from tests.support.accounts import PASSWORD, login, users_arena
from tests.support.doubles.ollama import ollama_double


def test_a_new_account_never_inherits_a_removed_users_conversations(tmp_path: Path) -> None:
    with ollama_double() as double, users_arena(
        tmp_path / "data", embedded_enabled=False, ollama_hosts=[double.url]
    ) as arena, login(arena, "ada") as ada:
        # The newest account is the one SQLite would hand on.
        made = ada.request("POST", "/api/users", json={"username": "dora", "password": PASSWORD, "role": "evaluator"})
        assert made.status_code == 201, made.text
        with login(arena, "dora") as dora:
            chat = dora.request("POST", "/api/chat", json={"models": ["ollama:llama3.2:1b"], "message": "my secret"})
            assert chat.status_code == 200, chat.text
            conversation_id = chat.json()["conversation_id"]
        with arena.database() as database, database.session() as session:
            dora_id = session.scalar(select(User.id).where(User.username == "dora"))

        assert ada.request("DELETE", "/api/users/dora").status_code == 204
        made = ada.request("POST", "/api/users", json={"username": "newbie", "password": PASSWORD, "role": "viewer"})
        assert made.status_code == 201, made.text

        with login(arena, "newbie") as newbie:
            listed = newbie.request("GET", "/api/conversations").json()
            opened = newbie.request("GET", f"/api/conversations/{conversation_id}")
        by_admin = ada.request("GET", f"/api/conversations/{conversation_id}")
        with arena.database() as database, database.session() as session:
            newbie_id = session.scalar(select(User.id).where(User.username == "newbie"))
            owner = session.scalar(select(Conversation.owner_id).where(Conversation.id == conversation_id))

    assert newbie_id != dora_id
    assert owner is None  # handed to the admins
    assert conversation_id not in {c["id"] for c in listed["conversations"]}
    assert opened.status_code == 404
    assert by_admin.status_code == 200 and "my secret" in by_admin.text
