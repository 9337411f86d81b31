"""`arena models | pull | rm`: what the engines offer, and models fetched or deleted (Ollama's, Hugging Face GGUFs)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from arena.cli._common import console, fail, load_settings, opened_database, os_user
from arena.cli._tables import Column, print_table
from arena.errors import ArenaError

if TYPE_CHECKING:
    from arena.engines.router import Inventory, Router


@asynccontextmanager
async def _router() -> AsyncIterator[Router]:
    """Every engine the settings name, closed when the block ends."""
    from arena.engines.factory import build_router

    router = build_router(load_settings())
    try:
        yield router
    finally:
        await router.aclose()


def _manage(call: Callable[[Router], Awaitable[None]], *, audited: tuple[str, str] | None = None, started: Callable[[], bool] = lambda: True) -> None:
    """Run one model-management call on the router; an engine's refusal ends in one clear line.
    `audited` (action, model id): the audit log gets an entry saying how it ended, as the web
    route's: refused (nothing started), succeeded, failed or interrupted."""

    async def run() -> None:
        async with _router() as router:
            await call(router)

    try:
        asyncio.run(run())
    except ArenaError as exc:
        if audited:
            _audit(*audited, outcome="failed" if started() else "refused", error=str(exc))
        raise fail(exc) from None
    except KeyboardInterrupt:
        if audited:
            _audit(*audited, outcome="interrupted")
        raise
    if audited:
        _audit(*audited, outcome="succeeded")


def _audit(action: str, target: str, **detail: str) -> None:
    """An entry by the OS user who ran the command (as `arena user` records its changes)."""
    from arena.storage import audit

    with opened_database() as database:
        audit.record(
            database, actor_id=None, actor=os_user(), action=action, target=target, ip=None, detail={**detail, "via": "cli"}
        )


def _managed_id(name: str) -> str:
    """A bare name is an Ollama model; `hf:<org>/<repo>` a Hugging Face repo, `local:` a pulled GGUF."""
    return name if name.startswith(("ollama:", "hf:", "local:")) else f"ollama:{name}"


MODEL_COLUMNS = (
    Column(header="model", keep=True),
    Column(header="engine", priority=5),
    Column(header="size", justify="right", priority=4),
    Column(header="memory", justify="right", priority=3),
    Column(header="family", priority=2),
    Column(header="parameters", priority=3),
    Column(header="quantization", priority=1),
)


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (models and engines) instead of a table")] = False,
) -> None:
    """List every engine's models (the ids `-m` takes, never cut), and which engines answer."""

    async def survey() -> Inventory:
        async with _router() as router:
            return await router.inventory()

    inventory = asyncio.run(survey())
    if as_json:
        data = {
            "models": [dataclasses.asdict(m) for m in inventory.models],
            "engines": [dataclasses.asdict(h) for h in inventory.health],
        }
        console.print_json(json.dumps(data))
        return
    rows = [
        [
            m.id,
            f"{m.engine} · base" if m.base_model else m.engine,  # as the web marks it: continues text, does not chat
            f"{m.size / 1e6:,.0f} MB" if m.size else "",
            f"{m.resident_bytes / 1e6:,.0f} MB" if m.resident_bytes else "",
            m.family or "",
            m.parameter_size or "",
            m.quantization or "",
        ]
        for m in inventory.models
    ]
    print_table(console, MODEL_COLUMNS, rows)
    if any(m.base_model for m in inventory.models):
        console.print("base: a base model, not chat-tuned; it continues text rather than answering", soft_wrap=True)
    if any(m.resident_bytes for m in inventory.models):
        # This command loads nothing: which models a server has loaded is on its /api/models and models page.
        console.print("memory: what a model holds once loaded (ARENA_EMBEDDED_MAX_MEMORY)", soft_wrap=True)
    for h in inventory.health:
        state = "[green]up[/green]" if h.reachable else f"[yellow]down[/yellow] {escape(h.detail or '')}"
        console.print(f"{h.engine} {escape(h.endpoint)}: {state}", highlight=False, soft_wrap=True)


PULL_HELP = (
    "Model to pull: llama3.2:3b (Ollama), or hf:<org>/<repo>[:<quant or file.gguf>] "
    "(a GGUF from Hugging Face into ARENA_MODELS_DIR, run by the embedded engine; default quant Q4_K_M)"
)


def pull(name: Annotated[str, typer.Argument(help=PULL_HELP)]) -> None:
    """Pull a model into Ollama, or a GGUF from Hugging Face (hf:…), with a progress bar.
    An interrupted Hugging Face pull resumes where it stopped when run again."""
    last: list[str] = []

    async def fetch(router: Router) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("starting", total=None)
            async with aclosing(router.pull(_managed_id(name))) as updates:
                async for update in updates:
                    last[:] = [update.status]
                    progress.update(
                        task, description=escape(update.status), completed=update.completed or 0, total=update.total
                    )

    from arena.storage import audit

    _manage(fetch, audited=(audit.MODEL_PULL, _managed_id(name)), started=lambda: bool(last))
    done = last[0] if last and name.startswith("hf:") else ""
    console.print(f"pulled {escape(name)}" + (f" ({escape(done)})" if done else ""), soft_wrap=True)


def rm(
    name: Annotated[
        str, typer.Argument(help="Model to delete: llama3.2:3b (Ollama), local:<name> or hf:<org>/<repo>[:<quant>] (pulled)")
    ],
) -> None:
    """Delete a model from Ollama, or a GGUF the arena pulled from Hugging Face."""

    async def delete(router: Router) -> None:
        await router.delete(_managed_id(name))

    from arena.storage import audit

    _manage(delete, audited=(audit.MODEL_DELETE, _managed_id(name)))
    console.print(f"deleted {name}")
