"""A stand-in for the Hugging Face hub's two routes a pull uses, on a loopback port.

    with hf_hub_double() as hub:
        hub.add_repo("arena-test/SmolLM2-135M-Instruct-GGUF", {"SmolLM2-…-Q4_1.gguf": smollm2_path})
        settings = make_settings(tmp, hf_endpoint=hub.url)

Routes, as huggingface_hub calls them:
    GET /api/models/<org>/<repo>[/revision/<rev>]?blobs=true   the repo's commit and files, each
        with `size`, `blobId` and, for LFS files, `lfs: {size, sha256, pointerSize}`; an unknown
        repo is 404 with `X-Error-Code: RepoNotFound` (what the hub sends, public or private)
    GET /<org>/<repo>/resolve/<rev>/<path>   the file's bytes; honours `Range: bytes=N-` (206)

Knobs: `cut_after` (bytes): the next file response is cut after that many bytes, once (the
connection drops mid-body); `corrupt`: one byte of every file served is flipped (its stated
sha256 stays the true one); `redirect_to` (a URL): file requests are answered with a 302 to the
same path there, as huggingface.co sends downloads to its CDN (another double with the same repos);
`chunk_delay` (seconds): a pause after each MB sent, for a download still running when a test acts. `requests` records (method, path, Range header) of every request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

CHUNK = 1024 * 1024


class _Cut(Exception):
    """Raised mid-body on purpose: uvicorn then drops the connection."""


class _QuietCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _Cut))


logging.getLogger("uvicorn.error").addFilter(_QuietCuts())


def _chunks(source: Path | bytes, start: int) -> Iterator[bytes]:
    if isinstance(source, bytes):
        yield from (source[i : i + CHUNK] for i in range(start, len(source), CHUNK))
        return
    with source.open("rb") as handle:
        handle.seek(start)
        while data := handle.read(CHUNK):
            yield data


@dataclass(frozen=True)
class HubFile:
    path: str
    source: Path | bytes
    size: int
    sha256: str
    git_sha1: str
    lfs: bool


def _digests(source: Path | bytes) -> tuple[int, str, str]:
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    sha256, git = hashlib.sha256(), hashlib.sha1(f"blob {size}\0".encode())
    for piece in _chunks(source, 0):
        sha256.update(piece)
        git.update(piece)
    return size, sha256.hexdigest(), git.hexdigest()


_CACHE: dict[object, tuple[int, str, str]] = {}


class HfHubDouble:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, HubFile]] = {}
        self.cut_after: int | None = None
        self.corrupt = False
        self.redirect_to: str | None = None
        self.chunk_delay = 0.0
        self.requests: list[tuple[str, str, str | None]] = []
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def add_repo(self, repo: str, files: dict[str, Path | bytes | str]) -> None:
        """Files by path: a Path (served from disk, LFS), bytes (LFS) or str (kept in git, no sha256)."""
        entries = {}
        for path, source in files.items():
            raw: Path | bytes = source.encode() if isinstance(source, str) else source
            key = raw if isinstance(raw, bytes) else (str(raw), raw.stat().st_mtime_ns)
            if key not in _CACHE:
                _CACHE[key] = _digests(raw)
            size, sha256, git = _CACHE[key]
            entries[path] = HubFile(path, raw, size, sha256, git, lfs=not isinstance(source, str))
        self.repos[repo] = entries

    def file_requests(self) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if "/resolve/" in r[1]]

    # -- the routes -------------------------------------------------------------------------

    async def _info(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path, None))
        repo = f"{request.path_params['org']}/{request.path_params['repo']}"
        files = self.repos.get(repo)
        if files is None:
            return JSONResponse({"error": "Repository not found"}, status_code=401, headers={"X-Error-Code": "RepoNotFound"})
        siblings = []
        for f in files.values():
            sibling: dict[str, object] = {"rfilename": f.path, "size": f.size, "blobId": f.git_sha1}
            if f.lfs:
                sibling["lfs"] = {"size": f.size, "sha256": f.sha256, "pointerSize": 134}
            siblings.append(sibling)
        commit = hashlib.sha1(repo.encode()).hexdigest()
        return JSONResponse({"id": repo, "modelId": repo, "sha": commit, "private": False, "siblings": siblings})

    async def _resolve(self, request: Request) -> Response:
        wanted = request.headers.get("range")
        self.requests.append((request.method, request.url.path, wanted))
        repo = f"{request.path_params['org']}/{request.path_params['repo']}"
        found = self.repos.get(repo, {}).get(request.path_params["path"])
        if found is None:
            return JSONResponse({"error": "Entry not found"}, status_code=404, headers={"X-Error-Code": "EntryNotFound"})
        if self.redirect_to:
            return Response(status_code=302, headers={"Location": self.redirect_to + request.url.path})
        start = int(wanted.removeprefix("bytes=").split("-")[0]) if wanted else 0
        headers = {"Content-Length": str(found.size - start), "Accept-Ranges": "bytes", "ETag": f'"{found.sha256}"'}
        if wanted:
            headers["Content-Range"] = f"bytes {start}-{found.size - 1}/{found.size}"
        cut, self.cut_after = self.cut_after, None
        corrupt, delay = self.corrupt, self.chunk_delay

        async def body() -> AsyncIterator[bytes]:
            sent = 0
            for piece in _chunks(found.source, start):
                if corrupt and start + sent <= found.size // 2 < start + sent + len(piece):
                    at = found.size // 2 - start - sent
                    piece = piece[:at] + bytes([piece[at] ^ 0xFF]) + piece[at + 1 :]
                if cut is not None and sent + len(piece) > cut:
                    yield piece[: cut - sent]
                    raise _Cut
                sent += len(piece)
                yield piece
                if delay:
                    await asyncio.sleep(delay)

        if request.method == "HEAD":
            return Response(headers=headers, status_code=206 if wanted else 200)
        return StreamingResponse(body(), status_code=206 if wanted else 200, headers=headers, media_type="application/octet-stream")

    # -- running ----------------------------------------------------------------------------

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = Starlette(
            routes=[
                Route("/api/models/{org}/{repo}", self._info, methods=["GET"]),
                Route("/api/models/{org}/{repo}/revision/{rev}", self._info, methods=["GET"]),
                Route("/{org}/{repo}/resolve/{rev}/{path:path}", self._resolve, methods=["GET", "HEAD"]),
            ]
        )
        config = uvicorn.Config(app, http="h11", loop="asyncio", lifespan="off", log_config=None, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name="hf-double", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Hugging Face hub double did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None


@contextmanager
def hf_hub_double() -> Iterator[HfHubDouble]:
    hub = HfHubDouble()
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()
