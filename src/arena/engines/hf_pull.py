"""`arena pull hf:<org>/<repo>[:<quant or file>]`: a GGUF from the Hugging Face hub into ARENA_MODELS_DIR.

The hub is a management-only engine (kind `hf`): the router sends it pulls and deletes of `hf:`
ids, as it sends Ollama's to Ollama, so the web route's admin check and audit entry and the
CLI's progress bar are the same for both. What it pulls is served by the embedded engine as
`local:<file name>`. Steps: the repo's file list with each file's size and sha256 (huggingface_hub,
through the egress guard), the file chosen (hf_repo), room on the disk checked, the download
into `<file>.part` (hf_download: resumed, hashed), the digest compared with the hub's, and only
then the record and the rename. A wrong digest discards the part; any other failure keeps it
for the next pull to resume.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx2
from filelock import FileLock
from filelock import Timeout as Locked
from huggingface_hub import HfApi, hf_hub_url
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from arena.engines import hf_http
from arena.engines.base import Chunk, Engine, EngineHealth, GenerationRequest, ModelInfo, PullProgress
from arena.engines.egress import EgressPolicy
from arena.engines.gguf_check import check_loadable
from arena.engines.gguf_metadata import NotGguf
from arena.engines.hf_download import Cancelled, Digests, download
from arena.engines.hf_repo import HfRef, RepoFile, choose_file, default_of, parse_hf_name, quant_of
from arena.engines.pulled_models import (
    LOCK_SUFFIX,
    PulledRecord,
    local_name,
    part_path,
    pulled,
    read_record,
    remove,
    write_record,
)
from arena.errors import (
    ArenaError,
    Conflict,
    EngineProtocolError,
    EngineRejected,
    EngineUnavailable,
    ModelNotAvailable,
    TooLarge,
)

DISK_MARGIN = 64 * 1024 * 1024  # left free beyond the file itself


class HuggingFaceHub(Engine):
    kind = "hf"
    can_pull = True
    can_delete = True

    def __init__(
        self,
        *,
        endpoint: str,
        models_dir: Path,
        egress: EgressPolicy | None = None,
        download_origins: list[str] | None = None,
    ) -> None:
        super().__init__(endpoint=endpoint.rstrip("/"))
        self.models_dir = models_dir
        urls = [self.endpoint, *(download_origins or [])]
        self.policy = hf_http.guarded_for(urls, egress if egress is not None else EgressPolicy.of_urls(urls))
        # Told the local:<name> of a file it deleted, so the embedded engine unloads it (EmbeddedEngine.forget).
        self.on_removed: Callable[[str], Awaitable[None]] | None = None

    async def list_models(self) -> list[ModelInfo]:
        return []  # what it pulled is the embedded engine's to list and run

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        raise ModelNotAvailable(f"hf:{request.model} runs as a local: model once pulled: see GET /api/models")
        yield  # pragma: no cover - an async generator

    async def health(self) -> EngineHealth:
        # Never surveyed (the router holds the hub apart from its engines): the hub is contacted only to pull.
        return EngineHealth(engine=self.kind, endpoint=self.endpoint, reachable=True, detail="contacted only to pull")

    # -- pull ---------------------------------------------------------------------------------

    async def pull(self, name: str) -> AsyncIterator[PullProgress]:
        # Everything that can refuse the pull happens before its first line: then the web route
        # answers a wrong name or a full disk with a plain HTTP error, not a stream.
        ref = parse_hf_name(name)
        hf_http.install(self.policy)
        revision, files = await asyncio.to_thread(self._listing, ref)
        chosen = choose_file(ref, files)
        target = self.models_dir / chosen.name
        if self._already_pulled(ref, chosen, target):
            yield PullProgress(
                status=f"already pulled: local:{local_name(target)}", completed=chosen.size, total=chosen.size
            )
            return
        lock = _take_lock(chosen, target)  # refused before any progress line when another pull has it
        try:
            have = await asyncio.to_thread(self._check_room, chosen, target)
            yield PullProgress(status=f"pulling {chosen.path} from {ref.repo}", completed=have, total=chosen.size)
            url = hf_hub_url(ref.repo, chosen.path, revision=revision, endpoint=self.endpoint)
            record = PulledRecord(
                repo=ref.repo,
                file=chosen.path,
                revision=revision,
                sha256=chosen.sha256,
                size=chosen.size or 0,
                quantization=quant_of(chosen.name),
                endpoint=self.endpoint,
            )
            async for progress in self._download(url, chosen, target, record):
                yield progress
        finally:
            _drop_lock(lock)
        yield PullProgress(
            status=f"success: ready as local:{local_name(target)}", completed=chosen.size, total=chosen.size
        )

    def _listing(self, ref: HfRef) -> tuple[str, list[RepoFile]]:
        """The repo's commit and files, each with its size and digests (one API call)."""
        try:
            info = HfApi(endpoint=self.endpoint).model_info(ref.repo, files_metadata=True, token=False)
        except ArenaError:  # the egress guard's refusal
            raise
        except Exception as exc:
            raise self._translate(exc, ref) from exc
        files = [
            RepoFile(
                path=s.rfilename,
                size=s.lfs.size if s.lfs else s.size,
                sha256=s.lfs.sha256 if s.lfs else None,
                git_sha1=None if s.lfs else s.blob_id,
            )
            for s in info.siblings or []
        ]
        if not info.sha:
            raise EngineProtocolError(f"{self.endpoint} did not say which commit hf:{ref.repo} is at")
        return info.sha, files

    def _already_pulled(self, ref: HfRef, chosen: RepoFile, target: Path) -> bool:
        if not target.exists():
            return False
        record = read_record(target)
        if record is not None and record.repo == ref.repo and record.file == chosen.path:
            return record.sha256 == chosen.sha256 or chosen.sha256 is None
        origin = f"from hf:{record.repo}" if record else "put there by hand"
        raise Conflict(f"{target.name} is already in {self.models_dir} ({origin}): delete it first (arena rm)")

    def _check_room(self, chosen: RepoFile, target: Path) -> int:
        """The bytes a part file already holds; TooLarge when the rest does not fit."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        part = part_path(target)
        have = part.stat().st_size if part.exists() else 0
        needed = max((chosen.size or 0) - have, 0)
        free = shutil.disk_usage(self.models_dir).free
        if needed + DISK_MARGIN > free:
            raise TooLarge(
                f"{chosen.name} needs {_mb(needed)} more on the disk of {self.models_dir}, which has {_mb(free)} free"
            )
        return have

    async def _download(
        self, url: str, chosen: RepoFile, target: Path, record: PulledRecord
    ) -> AsyncIterator[PullProgress]:
        """The transfer on a worker thread; its byte counts arrive here as progress lines."""
        loop = asyncio.get_running_loop()
        counts: asyncio.Queue[int | None] = asyncio.Queue()
        cancel = threading.Event()

        def on_bytes(count: int) -> None:
            loop.call_soon_threadsafe(counts.put_nowait, count)

        def work() -> Digests:
            try:
                return self._fetch(url, chosen, target, record, cancel, on_bytes)
            finally:
                loop.call_soon_threadsafe(counts.put_nowait, None)

        future = loop.run_in_executor(None, work)
        try:
            status = f"pulling {chosen.path}"
            while (count := await counts.get()) is not None:
                yield PullProgress(status=status, completed=count, total=chosen.size)
            await future
        finally:
            cancel.set()  # a client that left: the thread stops at its next write, the part stays
            future.add_done_callback(lambda done: done.cancelled() or done.exception())  # nobody awaits it then

    def _fetch(
        self,
        url: str,
        chosen: RepoFile,
        target: Path,
        record: PulledRecord,
        cancel: threading.Event,
        on_bytes: Callable[[int], None],
    ) -> Digests:
        part = part_path(target)
        try:
            digests = download(url, part, size=chosen.size, cancel=cancel, on_bytes=on_bytes)
        except Cancelled:
            raise EngineUnavailable("the pull was cancelled; pull again to resume it") from None
        except OSError as exc:
            if exc.errno is None:  # http_get's size check: these bytes are not the hub's file
                part.unlink(missing_ok=True)
            raise EngineProtocolError(f"{chosen.name}: {exc}") from exc
        except Exception as exc:
            if part.exists() and part.stat().st_size == 0:  # nothing came: no part to resume
                part.unlink()
            if isinstance(exc, ArenaError):
                raise
            raise self._translate(exc, None, kept=part) from exc
        self._verify(chosen, digests, part)
        try:
            check_loadable(part, chosen.name)
        except NotGguf as exc:
            part.unlink(missing_ok=True)  # the hub's bytes, checked: pulling again gives the same
            raise EngineRejected(f"{exc}: not pulled") from None
        write_record(target, record)  # first: a model without its record would look put there by hand
        part.replace(target)
        return digests

    def _verify(self, chosen: RepoFile, digests: Digests, part: Path) -> None:
        if chosen.sha256 is not None:
            expected, got, kind = chosen.sha256, digests.sha256.hexdigest(), "sha256"
        elif chosen.git_sha1 is not None:
            expected, got, kind = chosen.git_sha1, digests.git_sha1.hexdigest(), "git sha1"
        else:
            part.unlink(missing_ok=True)
            raise EngineProtocolError(f"{self.endpoint} states no checksum for {chosen.path}: not pulled")
        if got.lower() != expected.lower():
            part.unlink(missing_ok=True)  # never resumed: the bytes already there are wrong
            raise EngineProtocolError(
                f"{chosen.name} does not match the hub's {kind} ({expected[:12]}…, the download has {got[:12]}…): "
                "the file was discarded; pull it again"
            )

    def _translate(self, exc: Exception, ref: HfRef | None, *, kept: Path | None = None) -> ArenaError:
        """huggingface_hub's and httpx2's errors as the arena's, saying what a user can do."""
        what = f"hf:{ref.repo}" if ref else "the file"
        resume = " (the part downloaded so far is kept: pull again to resume)" if kept and kept.exists() else ""
        if isinstance(exc, GatedRepoError):
            return EngineRejected(
                f"{what} is gated (its licence must be accepted with an account): the arena pulls public repos only"
            )
        if isinstance(exc, RepositoryNotFoundError):
            return ModelNotAvailable(f"{what} is not a model repo on {self.endpoint} (or it is private)")
        if isinstance(exc, RevisionNotFoundError | RemoteEntryNotFoundError):
            return ModelNotAvailable(f"{what} is not on {self.endpoint} any more")
        if isinstance(exc, HfHubHTTPError):
            status = exc.response.status_code if exc.response is not None else 0
            kind = EngineUnavailable if status >= 500 or status == 429 else EngineRejected
            return kind(f"{self.endpoint} answered HTTP {status} for {what}{resume}")
        if isinstance(exc, httpx2.TimeoutException):
            return EngineUnavailable(f"{self.endpoint} did not answer in time{resume}")
        if isinstance(exc, httpx2.HTTPError):
            return EngineUnavailable(f"the hub at {self.endpoint} is not reachable ({type(exc).__name__}){resume}")
        return EngineProtocolError(f"pulling {what} failed: {exc}")

    # -- delete -------------------------------------------------------------------------------

    async def delete(self, name: str) -> None:
        """`arena rm hf:<org>/<repo>[:<quant or file>]`: the pulled file of that repo."""
        ref = parse_hf_name(name)
        mine = [(model, record) for model, record in pulled(self.models_dir) if record.repo == ref.repo]
        if ref.file:
            mine = [(m, r) for m, r in mine if ref.file in (r.file, m.name)]
        elif ref.quant:
            mine = [(m, r) for m, r in mine if (r.quantization or "").upper() == ref.quant.upper()]
        elif len(mine) > 1:  # no quant: the file a pull of hf:<org>/<repo> would pick, among those pulled
            default = default_of([RepoFile(path=r.file, size=r.size, sha256=r.sha256, git_sha1=None) for _, r in mine])
            mine = [(m, r) for m, r in mine if default is not None and r.file == default.path] or mine
        if not mine:
            raise ModelNotAvailable(f"nothing pulled from {ref} is in {self.models_dir}")
        if len(mine) > 1:
            names = ", ".join(f"local:{local_name(m)}" for m, _ in mine)
            raise Conflict(f"{ref} matches {names}: name one")
        await asyncio.to_thread(remove, mine[0][0])
        if self.on_removed is not None:
            await self.on_removed(local_name(mine[0][0]))


def _take_lock(chosen: RepoFile, target: Path) -> FileLock:
    """One pull of a file at a time (across processes too: the CLI beside the server). Taken on
    the event loop and dropped wherever the pull ends, so not tied to a thread."""
    lock = FileLock(str(target.with_name(target.name + LOCK_SUFFIX)), timeout=0, thread_local=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire()
    except Locked:
        raise Conflict(f"{chosen.name} is being pulled already (by another pull, here or from the CLI)") from None
    return lock


def _drop_lock(lock: FileLock) -> None:
    Path(lock.lock_file).unlink(missing_ok=True)  # ours to remove: we hold it
    lock.release()


def _mb(count: int) -> str:
    return f"{count / 1e6:,.0f} MB"
