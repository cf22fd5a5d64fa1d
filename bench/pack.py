"""The appraisal pack for a year of weekly use (issue 16): 52 reflections (three answers each, a dated action
on every fourth, some followed up), 2 self-assessments a year apart, 40 CPD activities and two targets,
made the way a user makes it (/pack, then "Make the PDF" through the engine, the PDF drawn as the adapters
draw it), on SQLite.

Target: under 2 s of CPU and under 1 MB for the pack (PDF, Markdown and CSV), once the process is warm;
the first pack of a process also imports fpdf2 and matplotlib and reads the fonts (reported separately).
"""

from __future__ import annotations

import asyncio
import io
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from flows.core.crypto import Cipher
from flows.core.replies import ClickEvent, CommandEvent, Identity, Outcome
from flows.store.models import Action, Assessment, CpdActivity, CpdTarget, Reflection, User
from flows.talks.assess import items_for

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WHO = Identity("terminal", "bench", "Sam")
WHAT = (
    "On Tuesday the night team and the day team disagreed about the handover time again, and two of the "
    "band 5 nurses came to me upset. I met them together, let each say what the problem was for them, and "
    "we agreed to try a fifteen-minute overlap for a fortnight while I checked the rota cost with finance."
)
SO_WHAT = (
    "It showed me that I step in to fix things quickly; this time I listened first and the solution was "
    "theirs, which is why they both kept to it. Against the statement for my stage, I am getting better at "
    "creating the conditions for people to resolve things, but I still carry too much of it myself."
)
NOW_WHAT = "I will ask the two of them to present the overlap trial at the ward meeting by 18 Dec, and step back."


async def populate(runtime: Runtime) -> None:
    coach = runtime.coach
    coach.clock = lambda: NOW
    await coach.handle(WHO, CommandEvent("start"))
    cat, cipher = coach.catalogue, coach.cipher
    items = [e for e in cat.entries if e.framework == "mlf2025" and e.kind == "competency"]
    async with coach.transaction() as db:
        user = await db.scalar(select(User).where(User.external_id == WHO.external_id))
        assert user is not None
        user.onboarded, user.appraisal_date = True, date(2026, 12, 5)  # the year before it: all 52 weeks
        for week in range(52):
            at = NOW - timedelta(weeks=51 - week, hours=1)
            item = items[week % len(items)]
            answers = [
                {"prompt": "What?", "answer": WHAT},
                {"prompt": "So what?", "answer": SO_WHAT},
                {"prompt": "Now what?", "answer": NOW_WHAT},
            ]
            row = Reflection(
                user_id=user.id, framework="mlf2025", item_id=item.id, item_key=item.key, stage="2",
                extra_items=[], prompt_model="rolfe", answers_enc=cipher.encrypt_json(answers), rating=3 + week % 3,
                minutes=15, created_at=at, updated_at=at,
            )  # fmt: skip
            db.add(row)
            await db.flush()
            if week % 4 == 0:
                answered = week % 8 == 0
                note = cipher.encrypt_json("Presented it; the team adopted the overlap.") if answered else None
                due = (at + timedelta(days=14)).date()
                db.add(
                    Action(
                        user_id=user.id, reflection_id=row.id, due_on=due, outcome="done" if answered else "",
                        created_at=at, note_enc=note,
                    )
                )  # fmt: skip
        for n in range(40):
            day = (NOW - timedelta(days=9 * n + 3)).date()
            title = cipher.encrypt_json(f"Finance for non-finance managers, part {n + 1}")
            db.add(
                CpdActivity(
                    user_id=user.id, done_on=day, title_enc=title, minutes=90 + 30 * (n % 5),
                    participatory=n % 2 == 0, items=["mlf2025.6", "mlf2025.5"], created_at=NOW,
                )
            )  # fmt: skip
        db.add(CpdTarget(user_id=user.id, kind="hours", minutes=35 * 60, participatory_minutes=20 * 60,
                         starts_on=date(2025, 12, 1), ends_on=date(2028, 12, 1), created_at=NOW))  # fmt: skip
        db.add(CpdTarget(user_id=user.id, kind="reflections", count=4, starts_on=date(2025, 12, 1), created_at=NOW))
        ids = items_for(cat, "mlf2025")
        for year, shift in ((1, 0), (0, 1)):
            at = NOW - timedelta(days=365 * year + 10)
            ratings = {i: min(5, 2 + (n + shift) % 3 + shift) for n, i in enumerate(ids)}
            db.add(Assessment(user_id=user.id, framework="mlf2025", stage="2", items=ids, ratings=ratings,
                              position=len(ids), started_at=at, updated_at=at, finished_at=at))  # fmt: skip


def _press(outcome: Outcome, label: str) -> ClickEvent:
    return ClickEvent(next(b.data for r in outcome.replies for row in r.buttons for b in row if b.label == label))


async def make_pack(runtime: Runtime) -> tuple[float, dict[str, bytes]]:
    """/pack, then "Make the PDF": CPU seconds for the whole (engine, database, drawing) and the files."""
    start = time.process_time()
    home = await runtime.coach.handle(WHO, CommandEvent("pack"))
    made = await runtime.coach.handle(WHO, _press(home, "Make the PDF"))
    files = {r.attachment.filename: await r.attachment.data() for r in made.replies if r.attachment is not None}
    return time.process_time() - start, files


def pages(pdf: bytes) -> int:
    try:
        from pypdf import PdfReader
    except ImportError:  # pypdf is a dev dependency
        return pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page")
    return len(PdfReader(io.BytesIO(pdf)).pages)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite+aiosqlite:///{tmp}/b.db",
            data_dir=Path(tmp),
            encryption_key=Cipher.generate_key(),
        )
        runtime = await open_runtime(settings)
        try:
            await populate(runtime)
            cold, files = await make_pack(runtime)
            warm = [(await make_pack(runtime))[0] for _ in range(5)]
        finally:
            await runtime.close()
    pdf = next(v for k, v in files.items() if k.endswith(".pdf"))
    total = sum(len(v) for v in files.values())
    print("a year of weekly use: 52 reflections, 2 self-assessments, 40 CPD activities, 2 targets")
    print(f"first pack in a new process (imports fpdf2 and matplotlib): {cold * 1000:.0f} ms CPU")
    print(f"pack, warm: p50 {statistics.median(warm) * 1000:.0f} ms CPU, max {max(warm) * 1000:.0f} ms")
    print(f"PDF: {pages(pdf)} pages, {len(pdf):,} bytes; with Markdown and CSV {total:,} bytes")
    for name, content in sorted(files.items()):
        print(f"  {name}: {len(content):,} bytes")
    print("target: < 2 s CPU and < 1 MB")


if __name__ == "__main__":
    asyncio.run(main())
