"""Simulated evaluators: one streamed turn as a client sees it, and the database's side of it.

`stream_turn` sends one `/api/stream_chat?format=arena` request and records what came back —
whether it was accepted (200 and a start line), each instance's streamed text and done line,
the time to the first token, and, when something went wrong, what kind of wrong (`kind`).
`stored_problems` then reads the rows those turns wrote and says where one is not whole.
The load bench (bench/load.py) and the fault tests (tests/faults/) share them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from arena.storage.db import Database
from arena.storage.models import Response

MODEL = "ollama:llama3.2:1b"
STREAM_PATH = "/api/stream_chat?format=arena"


@dataclass
class Turn:
    """One turn as its client saw it."""

    url: str
    status_code: int | None = None
    retry_after: str | None = None
    conversation_id: str | None = None
    turn_id: int | None = None
    instances: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    ttft_s: float | None = None
    elapsed_s: float = 0.0
    kind: str | None = None  # None: accepted, every instance done "ok"
    detail: str = ""  # what a refusal said (its body), or the first error done line's error

    @property
    def accepted(self) -> bool:
        """The server took the turn: it answered 200 and wrote the start line."""
        return self.turn_id is not None

    @property
    def refused(self) -> bool:
        """Nothing reached a server (a process restarting): a load balancer would try another."""
        return self.kind == "refused"

    @property
    def unanswered(self) -> bool:
        """The connection closed before any response (see `stream_turn`)."""
        return self.kind is not None and self.kind.startswith("no response")

    @property
    def ended(self) -> bool:
        """Every instance of an accepted turn got its done line."""
        return self.accepted and set(self.done) >= set(self.instances)

    def statuses(self) -> list[str]:
        return sorted(str(line.get("status", "ok")) for line in self.done.values())


def turn_body(message: str, *, tokens: int | None = None, instances: int = 1, model: str = MODEL) -> dict[str, Any]:
    """A turn for `instances` instances of `model`; `tokens` caps each answer (num_predict)."""
    limit = {} if tokens is None else {"num_predict": tokens}
    return {"message": message, "model_instances": [{"model": model, "seed": n, **limit} for n in range(instances)]}


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def stream_turn(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    token: str | None = None,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
) -> Turn:
    """One turn, read to its end; never raises for what a server or the network does."""
    turn = Turn(url=url)
    started = time.perf_counter()
    try:
        async with client.stream(
            "POST",
            f"{url}{STREAM_PATH}",
            json=body,
            headers={**auth_headers(token), **(headers or {})},
            timeout=timeout,
        ) as response:
            turn.status_code = response.status_code
            turn.retry_after = response.headers.get("retry-after")
            if response.status_code != 200:
                turn.detail = (await response.aread()).decode(errors="replace")[:300]
                turn.kind = f"http {response.status_code}"
                return turn
            async for raw in response.aiter_lines():
                if raw.strip():
                    _read_line(turn, json.loads(raw), started)
    except httpx.ConnectError:
        turn.kind = "refused"
    except httpx.TimeoutException:
        turn.kind = "timeout"
    except httpx.TransportError as exc:
        # Before any response: the connection closed under a request that never began (a reused
        # keep-alive connection a reloading nginx was closing); browsers send those again.
        turn.kind = f"{'no response' if turn.status_code is None else 'cut'} ({type(exc).__name__})"
    finally:
        turn.elapsed_s = time.perf_counter() - started
    if turn.kind is None:
        turn.kind = _outcome(turn)
    return turn


def _read_line(turn: Turn, line: dict[str, Any], started: float) -> None:
    if "turn_id" in line:
        turn.conversation_id = line["conversation_id"]
        turn.turn_id = int(line["turn_id"])
        turn.instances = [i["instance_id"] for i in line["instances"]]
        turn.texts = dict.fromkeys(turn.instances, "")
        return
    instance = line.get("instance_id")
    if instance is None:
        return
    if line.get("done"):
        turn.done[instance] = line
        if line.get("error") and not turn.detail:
            turn.detail = str(line["error"])[:300]
        return
    token = line.get("token", "")
    if token and turn.ttft_s is None:
        turn.ttft_s = time.perf_counter() - started
    turn.texts[instance] = turn.texts.get(instance, "") + token


def _outcome(turn: Turn) -> str | None:
    if not turn.accepted:
        return "no start line"
    if not turn.ended:
        return "no done line"
    bad = sorted({s for s in turn.statuses() if s != "ok"})
    return f"done {'/'.join(bad)}" if bad else None


def stored_rows(database: Database, turn: Turn) -> dict[str, Response]:
    """The turn's stored answers by instance id (detached: read them after the session)."""
    with database.session() as session:
        rows = session.scalars(select(Response).where(Response.turn_id == turn.turn_id)).all()
        session.expunge_all()
    return {row.instance_id: row for row in rows}


def stored_problems(database: Database, turns: Iterable[Turn], *, whole_text: bool = True) -> list[str]:
    """Every accepted turn is stored whole: one row per instance, none left `streaming`, the
    done line's status, and (`whole_text`) exactly the text the client read. A turn cut off
    mid-stream is checked for its row being closed and holding what the client read, at least."""
    problems: list[str] = []
    for turn in turns:
        if not turn.accepted:
            continue
        rows = stored_rows(database, turn)
        for instance in turn.instances:
            row = rows.get(instance)
            where = f"turn {turn.turn_id} instance {instance}"
            if row is None:
                problems.append(f"{where}: no row")
                continue
            if row.status == "streaming":
                problems.append(f"{where}: still streaming")
            done = turn.done.get(instance)
            streamed = turn.texts.get(instance, "")
            if done is not None and row.status != done.get("status", "ok"):
                problems.append(f"{where}: stored {row.status}, streamed {done.get('status', 'ok')}")
            if done is not None and whole_text and row.text != streamed:
                problems.append(f"{where}: stored {len(row.text)} characters, streamed {len(streamed)}")
            elif done is None and not (row.text.startswith(streamed) or streamed.startswith(row.text)):
                problems.append(f"{where}: stored text is not what was streamed")
    return problems
