"""The lookup in any chat (Telegram's inline mode): a question's top answers as short items, each
with a title, where it comes from (framework and stage), and the message it sends.

Composition is plain (tested without a database); :func:`asker_of` reads the asker's framework
and stage in one small query, so a known user's answers come at their stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flows.core.replies import Identity
from flows.store.models import User
from flows.talks.answers import Asker, at_asker_stage, describe
from flows.talks.common import short, stage_label
from frameworks.catalogue import Entry
from frameworks.lookup import LookupIndex, quoted_stage

MAX_ITEMS = 8
MAX_MESSAGE = 4096
_WHOLE_ITEMS = ("competency", "element")


@dataclass(frozen=True)
class InlineItem:
    id: str  # the entry's id: at most 64 bytes, unique within an answer
    title: str
    description: str  # framework and stage, then the start of the text
    text: str  # the message sent (HTML)


async def asker_of(sessionmaker: async_sessionmaker[AsyncSession], who: Identity) -> Asker | None:
    """The asker's framework and stage if they have been through /start; None for anyone else."""
    query = select(User.framework, User.stage).where(
        User.channel == who.channel, User.external_id == who.external_id, User.onboarded.is_(True)
    )
    async with sessionmaker() as db:
        row = (await db.execute(query)).first()
    return Asker(row.framework, row.stage) if row is not None else None


def inline_items(index: LookupIndex, question: str, asker: Asker | None, limit: int = MAX_ITEMS) -> list[InlineItem]:
    """The best answers to a question as inline items; none for chat words or off-topic questions."""
    if not question.strip():
        return []
    shown = asker or Asker("mlf2025", "fundamental", stage_is_theirs=False)
    hits = index.search(question, limit=limit, prefer=asker.framework if asker else None)
    items: list[InlineItem] = []
    seen: set[str] = set()
    for hit in hits:
        entry = hit.entry
        if entry.kind in _WHOLE_ITEMS:  # a whole item is quoted at one stage: the asker's, else its first
            entry, _ = at_asker_stage(index.catalogue, entry, shown)
        item = entry.id.split("@", 1)[0]
        if item not in seen:  # one stage of an item: the best one
            seen.add(item)
            items.append(_item(index, entry, shown))
    return items


def _item(index: LookupIndex, entry: Entry, asker: Asker) -> InlineItem:
    cat = index.catalogue
    fw = cat.framework(entry.framework).short_title
    stage = quoted_stage(entry)
    where = f"{fw} · {stage_label(cat, entry.framework, stage)}" if stage and entry.kind != "stage" else fw
    title = (
        f"{entry.code} {entry.title}" if entry.code and entry.kind not in ("stage", "value", "area") else entry.title
    )
    text = describe(index, entry, asker).text
    if len(text) > MAX_MESSAGE:  # no framework text is this long; a cut in the middle of a tag would fail
        text = f"<b>{escape(title)}</b>\n<i>{escape(where)}</i>\n\n{escape(short(entry.text, 3800))}"
    return InlineItem(entry.id[:64], short(title, 100), short(f"{where}: {entry.text}", 200), text)
