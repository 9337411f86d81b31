"""A removed user's things fall to the admins and never to the next account: user ids are never
reused (SQLite would otherwise give the newest user's id to the next one), and removing a user
hands their conversations, bench runs and judge runs to the admins."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select, update

from arena.evaluation.bench.plan import create_run
from arena.evaluation.bench.prompt_sets import parse_prompt_set
from arena.evaluation.bench.spec import BenchSpec
from arena.evaluation.conversation.instances import ModelInstance
from arena.storage import judgments as judgment_store
from arena.storage.auth_models import User
from arena.storage.bench_models import BenchRun
from arena.storage.models import Conversation, Judgment
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


def test_a_removed_users_bench_and_judge_runs_fall_to_the_admins(tmp_path: Path) -> None:
    with ollama_double() as double, users_arena(
        tmp_path / "data", embedded_enabled=False, ollama_hosts=[double.url]
    ) as arena, login(arena, "ada") as ada:
        made = ada.request("POST", "/api/users", json={"username": "dora", "password": PASSWORD, "role": "evaluator"})
        assert made.status_code == 201, made.text
        judge_run = uuid.uuid4().hex
        with arena.database() as database:
            with database.session() as session:
                dora_id = session.scalar(select(User.id).where(User.username == "dora"))
            bench_run = create_run(
                database=database,
                spec=BenchSpec(instances=[ModelInstance(model="ollama:llama3.2:1b")]),
                prompt_set=parse_prompt_set(b"my secret question\n", filename="secret.txt"),
                owner_id=dora_id,
            )
            with database.session() as session:
                session.execute(update(BenchRun).where(BenchRun.id == bench_run).values(status="done"))
                judgment_store.add_judgment(
                    session, run_id=judge_run, owner_id=dora_id, judge_model="ollama:llama3.2:1b",
                    mode="single", key_a="mine", raw_ab="my secret answer [[7]]", score=7.0,
                )  # fmt: skip
        assert ada.request("POST", f"/api/bench/runs/{bench_run}/resume", json={}).status_code == 404  # dora's

        assert ada.request("DELETE", "/api/users/dora").status_code == 204
        made = ada.request("POST", "/api/users", json={"username": "newbie", "password": PASSWORD, "role": "evaluator"})
        assert made.status_code == 201, made.text
        with login(arena, "newbie") as newbie:
            newbie_runs = newbie.request("GET", "/api/bench/runs").json()["runs"]
            newbie_judged = newbie.request("GET", "/api/judge", params={"run_id": judge_run}).json()["judgments"]
        admin_resume = ada.request("POST", f"/api/bench/runs/{bench_run}/resume", json={})
        admin_judged = ada.request("GET", "/api/judge", params={"run_id": judge_run}).json()["judgments"]
        with arena.database() as database, database.session() as session:
            owners = {
                session.scalar(select(BenchRun.owner_id).where(BenchRun.id == bench_run)),
                session.scalar(select(Judgment.owner_id).where(Judgment.run_id == judge_run)),
            }

    assert owners == {None}  # handed to the admins: now theirs to change, too
    assert newbie_runs == [] and newbie_judged == []
    assert admin_resume.status_code == 409, admin_resume.text  # past ownership: the run has finished
    assert [row["orders"][0]["raw"] for row in admin_judged] == ["my secret answer [[7]]"]
