"""/history: list reflections, open one, edit an answer or delete it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from flows.common import menu_buttons, short
from flows.engine import Ctx, Engine, Flow, FlowError
from flows.models import Reflection
from flows.reflection import summary_text
from flows.replies import Button

PAGE = 8


async def list_entries(ctx: Ctx, args: str) -> None:
    rows = (
        await ctx.db.execute(
            select(Reflection)
            .where(Reflection.user_id == ctx.user.id)
            .order_by(Reflection.created_at.desc(), Reflection.id.desc())
            .limit(PAGE)
        )
    ).scalars()
    buttons = []
    for r in rows:
        item = ctx.catalogue.by_id.get(r.item_id)
        title = f"{item.code} {item.title}" if item else r.item_id
        buttons.append([Button(short(f"{r.created_at:%d %b} · {title}", 50), "h", str(r.id), scoped=False)])
    ctx.finish()
    if not buttons:
        ctx.say("You haven't saved any reflections yet. Send /reflect to make your first.")
        return
    ctx.say("Your latest reflections — tap one to read it:", buttons)


async def _owned(ctx: Ctx, arg: str) -> Reflection:
    row = await ctx.db.get(Reflection, int(arg)) if arg.isdigit() else None
    if row is None or row.user_id != ctx.user.id:
        raise FlowError("I can't find that reflection. It may have been deleted.")
    return row


def _data(ctx: Ctx, row: Reflection) -> dict[str, Any]:
    return {
        "item": row.item_id,
        "stage": row.stage,
        "answers": ctx.cipher.decrypt_json(row.answers_enc),
        "rating": row.rating,
        "minutes": row.minutes,
        "extras": row.extra_items,
    }


async def open_entry(ctx: Ctx, action: str, arg: str) -> None:
    row = await _owned(ctx, arg)
    ctx.goto("history", "open", id=row.id)
    ctx.say(
        f"<i>{row.created_at:%A %d %B %Y}</i>\n" + summary_text(ctx, _data(ctx, row)),
        [[Button("Edit an answer", "edit"), Button("Delete", "delete")], [Button("Back to list", "list")]],
    )


async def on_click(ctx: Ctx, action: str, arg: str) -> None:
    row = await _owned(ctx, str(ctx.state.data.get("id", "")))
    if action == "list":
        await list_entries(ctx, "")
    elif action == "edit":
        answers = ctx.cipher.decrypt_json(row.answers_enc)
        ctx.state.step = "edit"
        ctx.say(
            "Which answer would you like to replace?",
            [[Button(short(qa["prompt"], 48), "which", str(i))] for i, qa in enumerate(answers)],
        )
    elif action == "which" and arg.isdigit():
        ctx.state.step = "typing"
        ctx.state.data["which"] = int(arg)
        ctx.say("Type the new answer.")
    elif action == "delete":
        ctx.state.step = "confirm_delete"
        ctx.say("Delete this reflection for good?", [[Button("Yes, delete it", "really"), Button("No", "list")]])
    elif action == "really":
        await ctx.db.delete(row)
        ctx.finish()
        ctx.say("Deleted.", menu_buttons())


async def on_text(ctx: Ctx, text: str) -> None:
    if ctx.state.step != "typing":
        ctx.say("Please use the buttons above, or send /history.")
        return
    row = await _owned(ctx, str(ctx.state.data.get("id", "")))
    answers = ctx.cipher.decrypt_json(row.answers_enc)
    answers[ctx.state.data["which"]]["answer"] = text
    row.answers_enc = ctx.cipher.encrypt_json(answers)
    row.updated_at = ctx.now
    ctx.say("Updated.")
    await open_entry(ctx, "h", str(row.id))


async def resume(ctx: Ctx) -> None:
    await open_entry(ctx, "h", str(ctx.state.data.get("id", "")))


def register(engine: Engine) -> None:
    engine.flow(Flow("history", on_text, on_click, resume))
    engine.command("history", list_entries)
    engine.click("h", open_entry)
