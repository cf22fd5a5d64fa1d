"""/menu, /help, /cancel, /privacy, /export and /delete."""

from __future__ import annotations

import json

from sqlalchemy import delete, func, select

from flows.common import menu_buttons
from flows.engine import Ctx, Engine, Flow
from flows.models import ConversationSession, Reflection, User
from flows.replies import Attachment, Button
from flows.templating import render
from flows.texts import CANCELLED, NOTHING_TO_CANCEL


async def menu(ctx: Ctx, args: str) -> None:
    ctx.say("What would you like to do?", menu_buttons())


async def help_command(ctx: Ctx, args: str) -> None:
    sources = "; ".join(f"{f.short_title} ({f.source.publisher})" for f in ctx.catalogue.files[:4])
    ctx.say(render("help", sources=sources), menu_buttons())


async def cancel(ctx: Ctx, args: str) -> None:
    ctx.say(CANCELLED if ctx.state.flow else NOTHING_TO_CANCEL)
    ctx.finish()


async def privacy(ctx: Ctx, args: str) -> None:
    count = await ctx.db.scalar(select(func.count()).select_from(Reflection).where(Reflection.user_id == ctx.user.id))
    ctx.say(render("privacy", channel=ctx.user.channel.capitalize(), count=count, ttl=ctx.ttl_days))


async def export(ctx: Ctx, args: str) -> None:
    u = ctx.user
    rows = (
        await ctx.db.execute(select(Reflection).where(Reflection.user_id == u.id).order_by(Reflection.created_at))
    ).scalars()
    doc = {
        "exported_at": ctx.now.isoformat(),
        "user": {
            "channel": u.channel,
            "id": u.external_id,
            "first_name": u.first_name,
            "created_at": u.created_at.isoformat(),
            "framework": u.framework,
            "stage": u.stage,
            "reflection_day": u.reflect_day,
            "reflection_time": u.reflect_time,
            "timezone": u.timezone,
            "appraisal_date": u.appraisal_date.isoformat() if u.appraisal_date else None,
            "prompt_model": u.prompt_model,
        },
        "reflections": [
            {
                "id": r.id,
                "framework": r.framework,
                "item": r.item_id,
                "title": ctx.catalogue.by_id[r.item_id].title if r.item_id in ctx.catalogue.by_id else None,
                "stage": r.stage,
                "extra_items": r.extra_items,
                "prompt_model": r.prompt_model,
                "answers": ctx.cipher.decrypt_json(r.answers_enc),
                "rating": r.rating,
                "minutes": r.minutes,
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
            }
            for r in rows
        ],
    }
    content = json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")
    ctx.say(
        "Here is everything I hold about you.",
        attachment=Attachment("leadcoach-export.json", content, caption="Your LeadCoach data"),
    )


async def delete_command(ctx: Ctx, args: str) -> None:
    ctx.goto("erase", "confirm")
    ctx.say(
        "This erases your settings and every reflection, for good. Are you sure?",
        [[Button("Yes, erase everything", "erase")], [Button("No, keep my data", "keep")]],
    )


async def on_click(ctx: Ctx, action: str, arg: str) -> None:
    if action == "erase":
        uid = ctx.user.id
        await ctx.db.execute(delete(Reflection).where(Reflection.user_id == uid))
        await ctx.db.execute(delete(ConversationSession).where(ConversationSession.user_id == uid))
        await ctx.db.execute(delete(User).where(User.id == uid))
        ctx.erased = True
        ctx.say("Done. I've erased everything I held about you. Send /start if you ever want to begin again.")
    else:
        ctx.finish()
        ctx.say("Kept. Nothing was deleted.", menu_buttons())


async def on_text(ctx: Ctx, text: str) -> None:
    ctx.say("Please tap one of the buttons: erase everything, or keep your data.")


async def resume(ctx: Ctx) -> None:
    await delete_command(ctx, "")


def register(engine: Engine) -> None:
    engine.flow(Flow("erase", on_text, on_click, resume))
    for name, handler in (
        ("menu", menu),
        ("help", help_command),
        ("cancel", cancel),
        ("privacy", privacy),
        ("export", export),
        ("delete", delete_command),
    ):
        engine.command(name, handler)
