"""Exports (JSON, CSV, Markdown), masked while blind, and a JSON export imported back."""

from __future__ import annotations

import copy
import csv
import io
import json
from typing import Any

import httpx
import pytest

from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.server import RunningArena, ndjson_lines

LLAMA = "ollama:llama3.2:1b"
QWEN = "ollama:qwen2.5:0.5b"
LLAMA_ID = "ollama_llama3.2_1b__0.2_0.9_40_1.1_-1_5"
QWEN_ID = "ollama_qwen2.5_0.5b__0.7_0.9_20_1.1_64_0"
INSTANCES = [{"model": LLAMA, "temperature": 0.2, "seed": 5}, {"model": QWEN, "top_k": 20, "num_predict": 64}]
CSV_HEADER = [
    "turn", "prompt", "label", "model", "temperature", "top_p", "top_k", "repeat_penalty", "num_predict", "seed",
    "answer", "status", "prompt_tokens", "tokens", "ttft_s", "duration_s", "tokens_per_sec", "up", "down",
    "cached_prompt_tokens", "prompt_s", "finish_reason", "generation_round", "contended", "judge_verdicts",
]  # fmt: skip


@pytest.fixture(scope="module")
def double(module_double_factory: DoubleFactory) -> OllamaDouble:
    started = module_double_factory()
    started.reply = ["- first", "\n- =SUM(A1)"]
    return started


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url])


def stream_turn(client: httpx.Client, body: dict) -> list[dict]:
    with client.stream("POST", "/api/stream_chat", json=body) as response:
        assert response.status_code == 200, response.read()
        return list(ndjson_lines(response))


def vote(client: httpx.Client, conversation_id: str, body: dict) -> None:
    response = client.post(f"/api/conversations/{conversation_id}/votes", json=body)
    assert response.status_code == 201, response.text


def export(client: httpx.Client, conversation_id: str, fmt: str) -> httpx.Response:
    response = client.get(f"/api/conversations/{conversation_id}/export", params={"format": fmt})
    assert response.status_code == 200, response.text
    return response


def filename(response: httpx.Response) -> str:
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; ")
    return disposition.split('filename="')[1].rstrip('"')


@pytest.fixture
def voted_conversation(client: httpx.Client) -> str:
    """Two turns, a file, a regenerated answer, thumbs and a pairwise vote."""
    first = stream_turn(
        client,
        {
            "message": "List two things.",
            "system": "Be brief.",
            "model_instances": INSTANCES,
            "attachments": [{"filename": "list.md", "text": "- a\n- b\n"}],
        },
    )
    conversation_id, turn_id = first[0]["conversation_id"], first[0]["turn_id"]
    stream_turn(client, {"conversation_id": conversation_id, "regenerate": {"turn_id": turn_id, "key": QWEN_ID}})
    second = stream_turn(client, {"conversation_id": conversation_id, "message": "And a third?"})
    vote(client, conversation_id, {"turn_id": turn_id, "kind": "thumb", "key": LLAMA_ID, "value": "up"})
    vote(client, conversation_id, {"turn_id": turn_id, "kind": "thumb", "key": QWEN_ID, "value": "down"})
    vote(client, conversation_id, {"turn_id": second[0]["turn_id"], "kind": "pairwise", "value": "B"})
    return conversation_id


def test_json_export_holds_the_whole_conversation(client: httpx.Client, voted_conversation: str) -> None:
    response = export(client, voted_conversation, "json")
    assert filename(response) == f"conversation-{voted_conversation[:8]}.json"
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert (data["format"], data["version"]) == ("local-llm-arena/conversation", 1) and data["exported_at"]
    assert data["conversation"]["id"] == voted_conversation and data["conversation"]["title"] == "List two things."
    assert [(i["key"], i["label"], i["model"], i["top_k"]) for i in data["instances"]] == [
        (LLAMA_ID, "Model A", LLAMA, 40),
        (QWEN_ID, "Model B", QWEN, 20),
    ]
    first, second = data["turns"]
    assert (first["system"], first["user_text"]) == ("Be brief.", "List two things.")
    assert first["attachments"] == [{"filename": "list.md", "size": 8, "text": "- a\n- b\n"}]
    # Every answer, the regenerated one too, oldest first.
    assert [(r["label"], r["votes"]) for r in first["responses"]] == [
        ("Model A", {"up": 1, "down": 0}),
        ("Model B", {"up": 0, "down": 0}),
        ("Model B", {"up": 0, "down": 1}),
    ]
    assert second["pairwise_votes"] == [{"a": "Model A", "b": "Model B", "value": "B"}]


def test_csv_export_has_one_row_per_answer(client: httpx.Client, voted_conversation: str) -> None:
    response = export(client, voted_conversation, "csv")
    assert filename(response) == f"conversation-{voted_conversation[:8]}.csv"
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == CSV_HEADER
    body = [dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]]
    assert [(r["turn"], r["label"], r["model"], r["up"], r["down"]) for r in body] == [
        ("1", "Model A", LLAMA, "1", "0"),
        ("1", "Model B", QWEN, "0", "1"),
        ("2", "Model A", LLAMA, "0", "0"),
        ("2", "Model B", QWEN, "0", "0"),
    ]
    llama = body[0]
    assert (llama["temperature"], llama["top_k"], llama["num_predict"], llama["seed"]) == ("0.2", "40", "-1", "5")
    assert llama["prompt"] == "List two things." and llama["status"] == "ok"
    # A leading "-" is defused even before a Markdown list: spreadsheets parse "- x" as a formula too.
    assert llama["answer"] == "'- first\n- =SUM(A1)"
    assert int(llama["tokens"]) == 2 and float(llama["duration_s"]) >= 0


def test_csv_cells_cannot_start_a_spreadsheet_formula(client: httpx.Client) -> None:
    lines = stream_turn(client, {"message": '=HYPERLINK("http://evil.example")', "model_instances": INSTANCES[:1]})
    rows = list(csv.DictReader(io.StringIO(export(client, lines[0]["conversation_id"], "csv").text)))
    assert rows[0]["prompt"] == '\'=HYPERLINK("http://evil.example")'


def test_markdown_export_reads_as_a_document(client: httpx.Client, voted_conversation: str) -> None:
    response = export(client, voted_conversation, "markdown")
    assert filename(response) == f"conversation-{voted_conversation[:8]}.md"
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# List two things.\n")
    parts = [
        "## Turn 1",
        "## Turn 2",
        "**System:** Be brief.",
        "Attached: `list.md` (8 bytes)",
        f"### Model A — `{LLAMA}`",
        "votes: 1 up, 0 down",
        "Pairwise vote (Model A vs Model B): **B**",
    ]
    for part in parts:
        assert part in text


def test_exports_hide_the_models_until_the_reveal(client: httpx.Client) -> None:
    created = client.post("/api/conversations", json={"blind": True, "model_instances": INSTANCES}).json()
    conversation_id = created["id"]
    stream_turn(client, {"conversation_id": conversation_id, "message": "Hello"})
    for fmt, extension in (("json", "json"), ("csv", "csv"), ("markdown", "md")):
        masked = export(client, conversation_id, fmt)
        assert filename(masked) == f"conversation-{conversation_id[:8]}_blind.{extension}"
        for word in ("llama", "qwen", "ollama"):
            assert word not in masked.text.lower(), (fmt, word)
        assert "Model A" in masked.text and "Model B" in masked.text
    assert export(client, conversation_id, "json").json()["instances"] == [
        {"key": "Model A", "label": "Model A"},
        {"key": "Model B", "label": "Model B"},
    ]
    for row in csv.DictReader(io.StringIO(export(client, conversation_id, "csv").text)):
        assert [row[name] for name in CSV_HEADER[3:10]] == [""] * 7, "no model, no settings"
    assert "| Model A | hidden |  |  |  |  |  |  |" in export(client, conversation_id, "markdown").text

    mapping = client.post(f"/api/conversations/{conversation_id}/reveal").json()["mapping"]
    full = export(client, conversation_id, "json")
    assert filename(full) == f"conversation-{conversation_id[:8]}.json"
    assert [(i["label"], i["model"]) for i in full.json()["instances"]] == [(m["label"], m["model"]) for m in mapping]
    rows = list(csv.DictReader(io.StringIO(export(client, conversation_id, "csv").text)))
    assert {r["model"] for r in rows} == {LLAMA, QWEN}
    assert "Blind comparison, revealed on" in export(client, conversation_id, "markdown").text


class Alternating(list):
    """Replies for the double that take turns, one per request: the judge asks once per order."""

    def __init__(self, *replies: str) -> None:
        super().__init__([replies[0]])
        self.replies, self.calls = replies, 0

    def __iter__(self):  # the double reads its reply once per request
        self.calls += 1
        return iter([self.replies[(self.calls - 1) % len(self.replies)]])


def judge(client: httpx.Client, double: OllamaDouble, conversation_id: str, turn_id: int, mode: str, reply: str) -> None:
    """One judge run by QWEN, which answers `reply` to every call (both orders alike)."""
    chat_reply, double.reply = double.reply, [reply]
    try:
        body = {"conversation_id": conversation_id, "turn_id": turn_id, "judge_model": QWEN, "mode": mode}
        response = client.post("/api/judge", json=body)
    finally:
        double.reply = chat_reply
    assert response.status_code == 200, response.text


def test_every_export_carries_the_judges_verdicts(client: httpx.Client, double: OllamaDouble) -> None:
    first = stream_turn(client, {"message": "Name a colour.", "model_instances": INSTANCES})[0]
    conversation_id, turn_id = first["conversation_id"], first["turn_id"]
    judge(client, double, conversation_id, turn_id, "pairwise", '{"verdict": "tie", "explanation": "Both fine."}')
    judge(client, double, conversation_id, turn_id, "single", '{"score": 8, "explanation": "=Good enough."}')

    [turn] = export(client, conversation_id, "json").json()["turns"]
    pairwise, *grades = turn["judgments"]
    assert (pairwise["mode"], pairwise["judge_model"], pairwise["cloud"]) == ("pairwise", QWEN, False)
    assert (pairwise["key_a"], pairwise["key_b"], pairwise["label_a"], pairwise["label_b"]) == (
        LLAMA_ID, QWEN_ID, "Model A", "Model B",
    )  # fmt: skip
    assert (pairwise["winner"], pairwise["winner_label"], pairwise["consistent"]) == ("tie", None, True)
    assert [(o["shown_as_a"], o["verdict"], o["explanation"]) for o in pairwise["orders"]] == [
        ("Model A", "tie", "Both fine."),
        ("Model B", "tie", "Both fine."),
    ]
    assert [(g["mode"], g["label_a"], g["score"]) for g in grades] == [("single", "Model A", 8), ("single", "Model B", 8)]
    assert pairwise["created_at"] and pairwise["run_id"] != grades[0]["run_id"] == grades[1]["run_id"]

    rows = list(csv.DictReader(io.StringIO(export(client, conversation_id, "csv").text)))
    cells = [row["judge_verdicts"].split("\n") for row in rows]
    assert [[line.split(" — ")[0] for line in cell] for cell in cells] == [
        ["vs Model B: tie", "8/10"],
        ["vs Model A: tie", "8/10"],
    ]
    assert cells[0][0].split(" — ")[1].startswith(f"{QWEN}, pairwise, ")

    text = export(client, conversation_id, "markdown").text
    verdicts = text.split("### Judge verdicts", 1)[1]
    for part in (
        f"- **Model A vs Model B: tie** — `{QWEN}`, pairwise, ",
        "  - Both fine.",
        f"- **Model A: 8/10** — `{QWEN}`, grade, ",
        "- **Model B: 8/10**",
        "  - =Good enough.",
    ):
        assert part in verdicts, part


def test_a_blind_export_names_no_model_through_a_verdict(client: httpx.Client, double: OllamaDouble) -> None:
    created = client.post("/api/conversations", json={"blind": True, "model_instances": INSTANCES}).json()
    turn_id = stream_turn(client, {"conversation_id": created["id"], "message": "Hello"})[0]["turn_id"]
    judge(client, double, created["id"], turn_id, "pairwise", '{"verdict": "tie", "explanation": "Same."}')

    for fmt, verdict_text in (("json", '"label_b": "Model B"'), ("csv", "vs Model B: tie"), ("markdown", "Model A vs")):
        masked = export(client, created["id"], fmt).text
        assert verdict_text in masked, fmt
        # The judge (QWEN here) is named; the contestants' models and instance ids are not.
        for secret in ("llama3.2", LLAMA_ID, QWEN_ID):
            assert secret not in masked, (fmt, secret)
    [verdict] = export(client, created["id"], "json").json()["turns"][0]["judgments"]
    assert (verdict["key_a"], verdict["key_b"]) == ("Model A", "Model B")

    client.post(f"/api/conversations/{created['id']}/reveal")
    [verdict] = export(client, created["id"], "json").json()["turns"][0]["judgments"]
    assert {verdict["key_a"], verdict["key_b"]} == {LLAMA_ID, QWEN_ID}


def test_an_imported_export_brings_its_verdicts_back_off_the_leaderboard(client: httpx.Client, double: OllamaDouble) -> None:
    first = stream_turn(client, {"message": "Name a colour.", "model_instances": INSTANCES})[0]
    conversation_id, turn_id = first["conversation_id"], first["turn_id"]
    chat_reply, double.reply = double.reply, Alternating('{"verdict": "A", "explanation": "Red."}', '{"verdict": "B"}')
    try:
        response = client.post("/api/judge", json={"conversation_id": conversation_id, "turn_id": turn_id, "judge_model": QWEN})
    finally:
        double.reply = chat_reply
    assert response.status_code == 200, response.text
    judge(client, double, conversation_id, turn_id, "single", '{"score": 6, "explanation": "Fair."}')
    exported = export(client, conversation_id, "json").json()

    imported = client.post("/api/conversations/import", json=exported)
    assert imported.status_code == 201, imported.text
    new_id = imported.json()["id"]
    again = export(client, new_id, "json").json()
    [before], [after] = exported["turns"], again["turns"]
    assert [v.pop("run_id") for v in before["judgments"]] != [v.pop("run_id") for v in after["judgments"]]
    assert after["judgments"] == before["judgments"]  # labels, winner, orders, times: all as exported
    shown = client.get("/api/judge", params={"conversation_id": new_id}).json()["judgments"]
    assert [(j["mode"], j["winner_key"], j["score"]) for j in shown] == [
        ("pairwise", LLAMA_ID, None), ("single", None, 6.0), ("single", None, 6.0),
    ]  # fmt: skip
    assert len({j["run_id"] for j in shown}) == 2, "the runs keep their grouping"
    # The copy's verdicts are data, not battles: the leaderboard counts the original's only.
    board = client.get("/api/leaderboard", params={"source": "judge", "judge_model": QWEN}).json()
    with_copy = client.get(
        "/api/leaderboard", params={"source": "judge", "judge_model": QWEN, "include_imported": "true"}
    ).json()
    wins = {row["model"]: row["wins"] for row in board["rows"]}
    assert wins[LLAMA] >= 1 and {row["model"]: row["wins"] for row in with_copy["rows"]}[LLAMA] == wins[LLAMA] + 1


def test_an_import_with_a_bad_verdict_is_400_naming_it(client: httpx.Client) -> None:
    data = minimal_export([{"label": "Model A", "model": LLAMA}, {"label": "Model B", "model": QWEN}])
    verdict = {"run_id": "r", "judge_model": QWEN, "mode": "pairwise", "label_a": "Model A", "label_b": "Model Z",
               "winner": "a", "consistent": True, "orders": [{"verdict": "A"}, {"verdict": "B"}]}  # fmt: skip
    data["turns"][0]["judgments"] = [verdict]
    unknown = client.post("/api/conversations/import", json=data)
    assert unknown.status_code == 400 and "turns[0].judgments[0]: 'Model Z' is not the label" in unknown.json()["error"]
    data["turns"][0]["judgments"] = [verdict | {"label_b": "Model B", "orders": [{"verdict": "A"}]}]
    half = client.post("/api/conversations/import", json=data)
    assert half.status_code == 400 and "turns[0].judgments[0]: a pairwise judgment needs" in half.json()["error"]


def without_ids(detail: dict[str, Any]) -> dict[str, Any]:
    """A detail without what a new conversation cannot share: ids, times of creation, the imported mark."""
    detail = copy.deepcopy(detail)
    for key in ("id", "created_at", "updated_at", "imported"):
        detail.pop(key)
    for turn in detail["turns"]:
        turn.pop("id")
        for response in turn["responses"]:
            response.pop("id")
    for vote_row in detail["pairwise_votes"]:
        vote_row.pop("turn_id")
    return detail


def test_an_imported_export_round_trips(client: httpx.Client, voted_conversation: str) -> None:
    original = client.get(f"/api/conversations/{voted_conversation}").json()
    exported = export(client, voted_conversation, "json").json()
    response = client.post("/api/conversations/import", json=exported)
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported["id"] != voted_conversation
    assert imported["imported"] is True and original["imported"] is False  # the page marks it (votes off the board)
    assert without_ids(imported) == without_ids(original)
    again = export(client, imported["id"], "json").json()
    for data in (exported, again):
        data.pop("exported_at")
        data["conversation"] = {k: v for k, v in data["conversation"].items() if k in ("title", "blind", "revealed_at")}
    assert again == exported

    # The imported conversation goes on like any other: the next turn sees the stored context.
    stream_turn(client, {"conversation_id": imported["id"], "message": "One more?"})
    assert len(client.get(f"/api/conversations/{imported['id']}").json()["turns"]) == 3


def test_an_imported_revealed_blind_conversation_stays_revealed_and_closed(client: httpx.Client) -> None:
    created = client.post("/api/conversations", json={"blind": True, "model_instances": INSTANCES}).json()
    turn_id = stream_turn(client, {"conversation_id": created["id"], "message": "Hi"})[0]["turn_id"]
    vote(client, created["id"], {"turn_id": turn_id, "kind": "pairwise", "value": "tie"})
    revealed = client.post(f"/api/conversations/{created['id']}/reveal").json()
    # Multipart upload works too, as a browser sends a chosen file.
    data = export(client, created["id"], "json").content
    response = client.post("/api/conversations/import", files={"file": ("conversation.json", data, "application/json")})
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported["blind"] is True and imported["revealed_at"] == revealed["revealed_at"]
    assert imported["pairwise_votes"][0]["value"] == "tie"
    closed = client.post(
        f"/api/conversations/{imported['id']}/votes",
        json={"turn_id": imported["turns"][0]["id"], "kind": "pairwise", "value": "A"},
    )
    assert closed.status_code == 409


def broken(exported: dict, change: Any) -> dict:
    data = copy.deepcopy(exported)
    change(data)
    return data


def test_a_malformed_export_is_400_naming_the_problem(client: httpx.Client, voted_conversation: str) -> None:
    good = export(client, voted_conversation, "json").json()
    blind = client.post("/api/conversations", json={"blind": True, "model_instances": INSTANCES}).json()
    masked = export(client, blind["id"], "json").json()
    before = len(client.get("/api/conversations", params={"limit": 200}).json()["conversations"])
    cases = [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (json.dumps({**good, "format": "something-else"}).encode(), "format"),
        (json.dumps({**good, "version": 7}).encode(), "version"),
        (json.dumps(masked).encode(), "hides its models"),
        (json.dumps(broken(good, lambda d: d["instances"][0].update(temperature=9))).encode(), "temperature"),
        (json.dumps(broken(good, lambda d: d["instances"][1].update(label="Model A"))).encode(), "same label"),
        (json.dumps(broken(good, lambda d: d["turns"][0]["responses"][0].update(label="Model Q"))).encode(),
         "turns[0].responses[0].label: 'Model Q'"),
        (json.dumps(broken(good, lambda d: d["turns"][1]["responses"][0].update(status="error", error=None))).encode(),
         "turns[1].responses[0]"),
        (json.dumps(broken(good, lambda d: d["turns"][0]["attachments"][0].update(filename="x.exe"))).encode(),
         "x.exe"),
        (json.dumps(broken(good, lambda d: d.pop("turns"))).encode(), "turns: Field required"),
        (json.dumps(broken(good, lambda d: d["conversation"].update(blind=True, revealed_at="2024-05-01T12:00:00"))).encode(),
         "conversation.revealed_at: Input should have timezone info"),
    ]  # fmt: skip
    for raw, words in cases:
        response = client.post("/api/conversations/import", content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 400, (words, response.text)
        assert words in response.json()["error"], (words, response.text)
    after = len(client.get("/api/conversations", params={"limit": 200}).json()["conversations"])
    assert after == before, "nothing half-written"


def test_export_of_an_unknown_conversation_or_format(client: httpx.Client, voted_conversation: str) -> None:
    missing = client.get(f"/api/conversations/{'0' * 32}/export")
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]
    odd = client.get(f"/api/conversations/{voted_conversation}/export", params={"format": "pdf"})
    assert odd.status_code == 422 and "format" in odd.json()["error"]


# --- imports are bounded data, not votes (issue 10, findings 6, 7 and 12) ------------------


def minimal_export(instances: list[dict], *, turns: int = 1, pairwise: int = 0, thumbs: int = 0) -> dict:
    labels = [i["label"] for i in instances]
    turn = {
        "user_text": "Which is better?",
        "responses": [{"label": label, "status": "ok", "text": "An answer.", "votes": {"up": thumbs}} for label in labels],
        "pairwise_votes": [{"a": labels[0], "b": labels[1], "value": "A"}] * pairwise,
    }
    return {
        "format": "local-llm-arena/conversation",
        "version": 1,
        "conversation": {"title": "Imported"},
        "instances": instances,
        "turns": [turn] * turns,
    }


def test_an_import_nested_too_deep_or_with_a_huge_number_is_400_not_500(client: httpx.Client) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    huge = '{"format": "local-llm-arena/conversation", "version": ' + "7" * 5000 + "}"
    for raw, words in ((deep, "nested more than 64 levels deep"), (huge, "more than 100 digits")):
        as_body = client.post("/api/conversations/import", content=raw, headers={"content-type": "application/json"})
        as_text = client.post("/api/conversations/import", content=raw, headers={"content-type": "text/plain"})
        as_file = client.post("/api/conversations/import", files={"file": ("c.json", raw.encode(), "application/json")})
        for response in (as_body, as_text, as_file):
            assert response.status_code == 400, response.text[:300]
            assert words in response.json()["error"]


def test_an_import_is_capped_in_votes_and_turns(client: httpx.Client) -> None:
    pair = [{"label": "Model A", "model": "ollama:cap-a:1b"}, {"label": "Model B", "model": "ollama:cap-b:1b"}]
    before = len(client.get("/api/conversations", params={"limit": 200}).json()["conversations"])
    cases = [
        (minimal_export(pair, pairwise=20_000), "20000 votes; an import holds at most 1000 (ARENA_MAX_IMPORT_VOTES)"),
        (minimal_export(pair, turns=3, pairwise=300, thumbs=50), "1200 votes"),
        (minimal_export(pair, turns=501), "501 turns; an import holds at most 500 (ARENA_MAX_IMPORT_TURNS)"),
    ]
    for data, words in cases:
        response = client.post("/api/conversations/import", json=data)
        assert response.status_code == 413, response.text
        assert words in response.json()["error"]
    after = len(client.get("/api/conversations", params={"limit": 200}).json()["conversations"])
    assert after == before, "nothing written"
    assert client.post("/api/conversations/import", json=minimal_export(pair, pairwise=1000)).status_code == 201


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("ollama:gpt-5\u202e(best)", "U+202E"),
        ("ollama:line\nbreak", "U+000A"),
        (" ollama:padded", "start or end with a space"),
        ("openai:no-endpoint", "openai:<endpoint>/<model>"),
    ],
)
def test_imported_model_ids_must_be_well_formed(client: httpx.Client, model: str, words: str) -> None:
    instances = [{"label": "Model A", "model": model}, {"label": "Model B", "model": LLAMA}]
    response = client.post("/api/conversations/import", json=minimal_export(instances, pairwise=1))
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]
    chat = client.post("/api/stream_chat", json={"message": "hi", "models": [model, LLAMA]})
    assert 400 <= chat.status_code < 500 and words in chat.json()["error"], chat.text  # as a chat refuses it


def test_imported_votes_stay_off_the_leaderboard_unless_asked_for(client: httpx.Client) -> None:
    poison, victim = "ollama:poison:1b", "ollama:victim:1b"
    instances = [{"label": "Model A", "model": poison}, {"label": "Model B", "model": victim}]
    imported = client.post("/api/conversations/import", json=minimal_export(instances, pairwise=900))
    assert imported.status_code == 201, imported.text
    assert imported.json()["pairwise_votes"][0]["value"] == "A"  # still the conversation's own data

    board = client.get("/api/leaderboard", params={"rounds": 0}).json()
    assert poison not in board["models"] and victim not in board["models"]
    assert board["filters"]["include_imported"] is False
    asked = client.get("/api/leaderboard", params={"rounds": 0, "include_imported": "true"}).json()
    assert asked["filters"]["include_imported"] is True
    poisoned = asked["models"].index(poison)
    assert asked["counts"][poisoned][asked["models"].index(victim)] == 900


def test_an_imported_instance_cannot_squat_a_later_chat_with_another_model(
    client: httpx.Client, double: OllamaDouble
) -> None:
    from tests.support.doubles.ollama import DoubleModel

    double.models["tiny:1b"] = DoubleModel(name="tiny:1b")
    # Another user imports "ollama:tiny_1b" first: the old id folded ":" and "_" alike.
    squat = [{"label": "Model A", "model": "ollama:tiny_1b"}, {"label": "Model B", "model": LLAMA}]
    imported = client.post("/api/conversations/import", json=minimal_export(squat)).json()
    chat = stream_turn(client, {"message": "Hi", "model_instances": [{"model": "ollama:tiny:1b"}, {"model": LLAMA}]})
    detail = client.get(f"/api/conversations/{chat[0]['conversation_id']}").json()
    assert [i["model"] for i in detail["instances"]] == ["ollama:tiny:1b", LLAMA]
    assert [i["model"] for i in imported["instances"]] == ["ollama:tiny_1b", LLAMA]
    assert detail["instances"][0]["key"] != imported["instances"][0]["key"]
    assert detail["instances"][0]["key"] == "ollama_tiny_1b__0.7_0.9_40_1.1_-1_0"  # common ids read as before


def test_votes_cast_later_on_an_imported_conversation_stay_off_the_leaderboard_too(client: httpx.Client) -> None:
    # The pen test's repro: import made-up answers, then vote on them one turn at a time.
    fake, real = "ollama:FAKE-WINNER", "ollama:tiny:latest"
    instances = [{"label": "Model A", "model": fake}, {"label": "Model B", "model": real}]
    imported = client.post("/api/conversations/import", json=minimal_export(instances, turns=4))
    assert imported.status_code == 201, imported.text
    conversation = imported.json()
    for turn in conversation["turns"]:
        vote(client, conversation["id"], {"turn_id": turn["id"], "kind": "pairwise", "value": "A"})
        fake_key = turn["responses"][0]["key"]
        vote(client, conversation["id"], {"turn_id": turn["id"], "kind": "thumb", "key": fake_key, "value": "up"})
    assert len(client.get(f"/api/conversations/{conversation['id']}").json()["pairwise_votes"]) == 4  # still shown

    board = client.get("/api/leaderboard", params={"rounds": 0}).json()
    assert fake not in board["models"] and real not in board["models"], board["models"]
    asked = client.get("/api/leaderboard", params={"rounds": 0, "include_imported": "true"}).json()
    assert asked["counts"][asked["models"].index(fake)][asked["models"].index(real)] >= 4
