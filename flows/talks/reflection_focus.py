"""Choosing what to reflect on: the suggestion (not covered recently, in the weakest areas of the last
self-assessment), browsing the framework, or searching it; then the statement for the user's stage."""

from __future__ import annotations

from html import escape

from sqlalchemy import bindparam, func, select

from flows.core.flow import Ctx, Rows
from flows.core.replies import Button
from flows.core.templating import render
from flows.rules.areas import unit_of
from flows.store.models import Reflection
from flows.talks.assess import latest_weak_units
from flows.talks.common import short, stage_label, statement_for
from flows.talks.reflection_state import LATER_BUTTON, R, ReflectState


def _item_kind(framework: str) -> str:
    """What one reflects on: an MLF competency or an LF element."""
    return "competency" if framework == "mlf2025" else "element"


_LAST_BY_ITEM = (
    select(Reflection.item_id, func.max(Reflection.created_at))
    .where(Reflection.user_id == bindparam("user_id"))
    .group_by(Reflection.item_id)
)  # built once, with a bind parameter (every /reflect reads it)


async def suggestion(ctx: Ctx) -> str:
    """An item not covered recently: never reflected on first, then the longest ago."""
    rows = await ctx.db.execute(_LAST_BY_ITEM, {"user_id": ctx.user.id})
    last = {item: when for item, when in rows.all()}
    items = [e.id for e in ctx.catalogue.of_kind(ctx.user.framework, _item_kind(ctx.user.framework))]
    # The weakest areas of their latest self-assessment come first.
    weak = await latest_weak_units(ctx.db, ctx.catalogue, ctx.user)
    aimed = [i for i in items if unit_of(ctx.catalogue, i) in weak]
    if aimed:
        items = aimed
    fresh = [i for i in items if i not in last]
    if fresh:
        return fresh[(ctx.user.id + len(last)) % len(fresh)]
    return min(items, key=lambda i: last[i])


# --- choosing a focus ---------------------------------------------------------------------


def focus_buttons(ctx: Ctx, s: ReflectState) -> Rows:
    entry = ctx.catalogue.get(s.suggested)
    return [
        [Button(f"Suggested: {short(entry.title, 36)}", "pick", entry.id)],
        [Button("Browse", "browse"), Button("Search", "search")],
        [LATER_BUTTON],
    ]


def browse_buttons(ctx: Ctx, s: ReflectState) -> Rows:
    fw = ctx.user.framework
    if s.group:
        items = [e for e in ctx.catalogue.of_kind(fw, _item_kind(fw)) if e.parent == s.group]
        rows = [[Button(f"{e.code} {short(e.title, 44)}", "pick", e.id)] for e in items]
    else:
        groups = ctx.catalogue.of_kind(fw, "standard" if fw == "mlf2025" else "domain")
        rows = [[Button(f"{g.code} {short(g.title, 44)}", "group", g.id)] for g in groups]
    return [*rows, [Button("Back", "back"), LATER_BUTTON]]


async def browse(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.group = ""
    await ctx.go(R.BROWSE)


async def group(ctx: Ctx, s: ReflectState, arg: str) -> None:
    if arg in ctx.catalogue.by_id:
        s.group = arg
    await ctx.go(R.BROWSE)


async def back(ctx: Ctx, s: ReflectState, arg: str) -> None:
    if ctx.step == R.BROWSE and s.group:
        s.group = ""
        await ctx.go(R.BROWSE)
        return
    await ctx.go(R.FOCUS)


def search_prompt(ctx: Ctx, s: ReflectState) -> str:
    if s.hits:
        return "Which one?"
    if s.searched:
        return f"I couldn't find anything for <i>{escape(short(s.searched, 60))}</i>. Try other words, or browse."
    return "Type a few words about what you want to reflect on, for example <i>difficult conversation</i>."


def search_buttons(ctx: Ctx, s: ReflectState) -> Rows:
    entries = [ctx.catalogue.get(i) for i in s.hits]
    rows = [[Button(short(f"{e.code} {e.title}", 50), "pick", e.id)] for e in entries]
    return [*rows, [Button("Browse", "browse"), LATER_BUTTON]]


async def open_search(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.hits, s.searched = [], ""
    await ctx.go(R.SEARCH)


async def search(ctx: Ctx, s: ReflectState, text: str) -> None:
    kind = _item_kind(ctx.user.framework)
    items: list[str] = []
    for hit in ctx.index.search(text, framework=ctx.user.framework, limit=12):
        e = hit.entry
        item = e.id if e.kind == kind else (e.parent if e.kind in ("statement", "indicator", "descriptor") else None)
        if item and item not in items:
            items.append(item)
    s.hits, s.searched = items[:5], "" if items else text
    await ctx.go(R.SEARCH)


async def pick(ctx: Ctx, s: ReflectState, item_id: str) -> None:
    item = ctx.catalogue.by_id.get(item_id)
    if item is None or item.kind != _item_kind(ctx.user.framework):
        await ctx.go(ctx.step or R.FOCUS)
        return
    statement = statement_for(ctx.catalogue, item_id, ctx.user.stage)
    fresh = ReflectState(suggested=s.suggested, item=item_id, model=ctx.user.prompt_model)
    fresh.stage = statement.stage if statement and statement.stage else ctx.user.stage
    ctx.state = fresh
    ctx.say(
        render(
            "item",
            code=item.code,
            title=item.title,
            framework=ctx.catalogue.framework(item.framework).short_title,
            stage_label=stage_label(ctx.catalogue, item.framework, fresh.stage),
            text=statement.text if statement else item.text,
        )
        + "\n\nThink of one moment from the last week or two that relates to this."
    )
    await ctx.go(R.ANSWER)
