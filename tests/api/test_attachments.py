"""Attachments: which files the server accepts, and how they reach the model and the record."""

from __future__ import annotations

import httpx
import pytest

from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.server import RunningArena, ndjson_lines

LLAMA = "ollama:llama3.2:1b"
LIMIT = 2048


# One double for the whole module: its arena and its tests see the same one.
double = module_double


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url], max_upload_bytes=LIMIT)


def upload(client: httpx.Client, filename: str, data: bytes) -> httpx.Response:
    return client.post("/api/attachments", files={"file": (filename, data, "application/octet-stream")})


def test_a_text_file_is_accepted_with_its_text(client: httpx.Client) -> None:
    source = "def área(r):\n    return 3.14 * r * r\n"
    response = upload(client, "geometry.py", source.encode())
    assert response.status_code == 200
    assert response.json() == {"filename": "geometry.py", "size": len(source.encode()), "text": source}
    # A path from a Windows browser is cut to the file's own name; a UTF-8 BOM is dropped.
    windows = upload(client, "C:\\Users\\me\\notes.md", b"\xef\xbb\xbf# Notes\n")
    assert windows.json()["filename"] == "notes.md" and windows.json()["text"] == "# Notes\n"
    exact = upload(client, "big.log", b"x" * LIMIT)
    assert exact.status_code == 200 and exact.json()["size"] == LIMIT


REFUSED = [
    ("huge.txt", b"x" * (LIMIT + 1), 413, f"at most {LIMIT:,} bytes"),
    ("tool.exe", b"MZ\x90\x00", 415, "is not a text file"),
    ("photo.png", b"\x89PNG\r\n", 415, "(.png)"),
    ("no-extension", b"hello", 415, "no extension"),
    ("sneaky.txt", b"hello\x00world", 415, "NUL bytes"),
    ("latin.txt", "café".encode("latin-1"), 415, "not UTF-8"),
]


@pytest.mark.parametrize(("filename", "data", "status", "words"), REFUSED)
def test_files_that_are_not_small_utf8_text_are_refused(
    client: httpx.Client, filename: str, data: bytes, status: int, words: str
) -> None:
    response = upload(client, filename, data)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]
    assert set(response.json()) == {"error"}


def test_a_missing_file_field_is_422(client: httpx.Client) -> None:
    response = client.post("/api/attachments", data={"other": "x"})
    assert response.status_code == 422 and "file" in response.json()["error"]


def test_attachments_reach_the_model_as_fenced_blocks_and_are_stored_by_name(
    client: httpx.Client, double: OllamaDouble
) -> None:
    code = "print('```')\n"
    body = {
        "message": "Review these files.",
        "model_instances": [{"model": LLAMA}],
        "attachments": [{"filename": "app.py", "text": code}, {"filename": "notes.txt", "text": "short"}],
    }
    with client.stream("POST", "/api/stream_chat", json=body) as response:
        assert response.status_code == 200
        lines = list(ndjson_lines(response))
    conversation_id = lines[0]["conversation_id"]
    assert lines[-1]["done"] and "error" not in lines[-1]
    expected = "Review these files.\n\n````app.py\nprint('```')\n````\n\n```notes.txt\nshort\n```"
    assert double.bodies("/api/chat")[-1]["messages"] == [{"role": "user", "content": expected}]

    detail = client.get(f"/api/conversations/{conversation_id}").json()
    [turn] = detail["turns"]
    assert turn["user_text"] == "Review these files."
    assert turn["attachments"] == [{"filename": "app.py", "size": len(code)}, {"filename": "notes.txt", "size": 5}]

    # The files stay in the context of the next turn.
    with client.stream("POST", "/api/stream_chat", json={"conversation_id": conversation_id, "message": "Thanks"}) as r:
        list(ndjson_lines(r))
    assert double.bodies("/api/chat")[-1]["messages"][0] == {"role": "user", "content": expected}


BAD_CHAT_ATTACHMENTS = [
    ({"filename": "evil.exe", "text": "x"}, "is not a text file"),
    ({"filename": "nul.txt", "text": "a\u0000b"}, "NUL"),
    ({"filename": "big.txt", "text": "é" * LIMIT}, "bytes"),
]


@pytest.mark.parametrize(("attachment", "words"), BAD_CHAT_ATTACHMENTS)
def test_stream_chat_checks_attachments_before_writing_anything(
    client: httpx.Client, attachment: dict, words: str
) -> None:
    before = len(client.get("/api/conversations").json()["conversations"])
    body = {"message": "Look", "model_instances": [{"model": LLAMA}], "attachments": [attachment]}
    response = client.post("/api/stream_chat", json=body)
    assert 400 <= response.status_code < 500 and words in response.json()["error"]
    assert len(client.get("/api/conversations").json()["conversations"]) == before


# "invoice\u202etxt.exe" reads as "invoiceexe.txt": a name must not disguise what the file is.
DISGUISING_NAMES = [
    "invoice\u202etxt.py",
    "notes\u2066.md",
    "a\u200fb.txt",
    "a\u061cb.txt",
    "a\u202ab.txt",
    "a\u2069b.txt",
    "a\x7fb.txt",
    "a\x85b.txt",
    "a\u2028b.txt",
]


@pytest.mark.parametrize("filename", DISGUISING_NAMES)
def test_names_with_bidi_or_control_characters_are_refused(client: httpx.Client, filename: str) -> None:
    code = f"U+{next(ord(ch) for ch in filename if not (ch.isalnum() or ch == '.')):04X}"
    uploaded = upload(client, filename, b"hello\n")
    assert uploaded.status_code == 400, uploaded.text
    assert code in uploaded.json()["error"] and "file name" in uploaded.json()["error"]
    chat = client.post(
        "/api/stream_chat",
        json={"message": "Look", "model_instances": [{"model": LLAMA}], "attachments": [{"filename": filename, "text": "hi"}]},
    )
    assert chat.status_code == 400 and code in chat.json()["error"], chat.text
