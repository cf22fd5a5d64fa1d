"""Prometheus metrics (prometheus-client) and the health endpoints: ``/healthz`` (the process is up),
``/readyz`` (the database answers and is at the head migration), ``/metrics``. The webhook server serves
them; in polling mode a small health server does (LEADCOACH_HEALTH_PORT)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select, text

from bot.db import head_revision
from bot.faults import describe
from bot.runtime import Runtime
from flows.store.models import InboxUpdate, Nudge

log = logging.getLogger(__name__)
REGISTRY = CollectorRegistry()
UPDATES = Counter("leadcoach_updates", "Updates handled, by result", ["result"], registry=REGISTRY)
LATENCY = Histogram(
    "leadcoach_update_seconds",
    "From an update stored to its replies sent",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
SENT = Counter("leadcoach_messages_sent", "Messages sent to Telegram, by kind", ["kind"], registry=REGISTRY)
RETRIES = Counter("leadcoach_telegram_retries", "Bot API calls tried again, by reason", ["reason"], registry=REGISTRY)
INBOX = Gauge("leadcoach_inbox_depth", "Stored updates not handled yet", registry=REGISTRY)
DUE = Gauge("leadcoach_nudges_due", "Nudges due now and not sent yet", registry=REGISTRY)


async def not_ready(runtime: Runtime) -> str:
    """Why this instance can't serve (the database unreachable, or not at the head migration), or ''."""
    try:
        async with runtime.db.connect() as conn:
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:
        return f"database unavailable ({describe(exc)})"
    return "" if version == head_revision() else f"database at migration {version}, not {head_revision()}"


async def _gauges(runtime: Runtime) -> None:
    async with runtime.coach.sessionmaker() as db:
        INBOX.set(
            await db.scalar(select(func.count()).select_from(InboxUpdate).where(InboxUpdate.done_at.is_(None))) or 0
        )
        now = datetime.now(UTC)
        DUE.set(await db.scalar(select(func.count()).select_from(Nudge).where(Nudge.due_at <= now)) or 0)


def add_routes(app: web.Application, runtime: Callable[[], Runtime | None]) -> None:
    """Add /healthz, /readyz and /metrics; ``runtime()`` is None while starting."""

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(request: web.Request) -> web.Response:
        found = runtime()
        problem = "starting" if found is None else await not_ready(found)
        return web.Response(status=503 if problem else 200, text=problem or "ready")

    async def metrics(request: web.Request) -> web.Response:
        found = runtime()
        if found is not None:
            try:
                await _gauges(found)
            except Exception as exc:
                log.warning("could not read the inbox depth or due nudges (%s)", describe(exc))
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
