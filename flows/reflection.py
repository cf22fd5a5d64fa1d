"""/reflect: pick a focus, read your stage statement, answer the prompts, rate, log minutes, save."""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Any

from sqlalchemy import func, select

from flows.common import (
    FOLLOW_UP,
    PROMPTS,
    RATING_LABELS,
    SHORT_ANSWER_WORDS,
    menu_buttons,
    nhs_numbers,
    remove_identifiers,
    short,
    stage_label,
    statement_for,
)
from flows.engine import Ctx, Engine, Flow
from flows.models import Reflection
from flows.replies import Button
from flows.templating import render
from flows.texts import LATER

LATER_BUTTON = Button("Later", "later")
MINUTES = ["5", "10", "15", "30"]


def _item_kind(framework: str) -> str:
    """What one reflects on: an MLF competency or an LF element."""
    return "competency" if framework == "mlf2025" else "element"


def _items(ctx: Ctx) -> list[str]:
    return [e.id for e in ctx.catalogue.of_kind(ctx.user.framework, _item_kind(ctx.user.framework))]


async def suggestion(ctx: Ctx) -> str:
    """An item not covered recently: never reflected on first, then the longest ago."""
    rows = await ctx.db.execute(
        select(Reflection.item_id, func.max(Reflection.created_at))
        .where(Reflection.user_id == ctx.user.id)
        .group_by(Reflection.item_id)
    )
    last = {item: when for item, when in rows.all()}
    items = _items(ctx)
    fresh = [i for i in items if i not in last]
    if fresh:
        return fresh[(ctx.user.id + len(last)) % len(fresh)]
    return min(items, key=lambda i: last[i])


async def begin(ctx: Ctx, args: str) -> None:
    ctx.goto("reflect", "focus", suggested=await suggestion(ctx))
    if args:
        await on_text(ctx, args)
        return
    await ask_focus(ctx)


async def ask_focus(ctx: Ctx) -> None:
    ctx.state.step = "focus"
    entry = ctx.catalogue.get(ctx.state.data["suggested"])
    ctx.say(
        "What would you like to reflect on this week?",
        [
            [Button(f"Suggested: {short(entry.title, 36)}", "pick", entry.id)],
            [Button("Browse", "browse"), Button("Search", "search")],
            [LATER_BUTTON],
        ],
    )


async def browse(ctx: Ctx, group: str | None) -> None:
    fw = ctx.user.framework
    if group is None:
        kind = "standard" if fw == "mlf2025" else "domain"
        groups = ctx.catalogue.of_kind(fw, kind)
        ctx.say(
            "Choose an area:",
            [[Button(f"{g.code} {short(g.title, 44)}", "group", g.id)] for g in groups]
            + [[Button("Back", "back"), LATER_BUTTON]],
        )
        return
    items = [e for e in ctx.catalogue.of_kind(fw, _item_kind(fw)) if e.parent == group]
    ctx.say(
        "Choose one:",
        [[Button(f"{e.code} {short(e.title, 44)}", "pick", e.id)] for e in items]
        + [[Button("Back", "browse"), LATER_BUTTON]],
    )


async def pick(ctx: Ctx, item_id: str) -> None:
    item = ctx.catalogue.get(item_id)
    stage = ctx.user.stage
    statement = statement_for(ctx.catalogue, item_id, stage)
    ctx.goto(
        "reflect",
        "answer",
        item=item_id,
        stage=statement.stage if statement else stage,
        model=ctx.user.prompt_model,
        answers=[],
        followed=False,
        extras=[],
    )
    fw = ctx.catalogue.framework(item.framework).short_title
    text = statement.text if statement else item.text
    ctx.say(
        render(
            "item",
            code=item.code,
            title=item.title,
            framework=fw,
            stage_label=stage_label(ctx.catalogue, item.framework, ctx.state.data["stage"]),
            text=text,
        )
        + "\n\nThink of one moment from the last week or two that relates to this."
    )
    await ask_prompt(ctx)


def _prompt(data: dict[str, Any]) -> tuple[str, bool]:
    return PROMPTS[data["model"]][len(data["answers"])]


async def ask_prompt(ctx: Ctx) -> None:
    ctx.state.step = "answer"
    prompt, _ = _prompt(ctx.state.data)
    n, total = len(ctx.state.data["answers"]) + 1, len(PROMPTS[ctx.state.data["model"]])
    ctx.say(f"<b>{n}/{total}</b> {escape(prompt)}", [[Button("Skip this one", "skipq"), LATER_BUTTON]])


def _pii_buttons() -> list[list[Button]]:
    return [[Button("Remove it", "pii", "remove")], [Button("It isn't patient information — keep it", "pii", "keep")]]


async def take_answer(ctx: Ctx, text: str, *, checked: bool = False) -> None:
    """Record an answer: warn first about an apparent NHS number (unless already warned)."""
    data = ctx.state.data
    if not checked and nhs_numbers(text):
        ctx.state.step = "pii"
        data["pending"] = text
        ctx.say(
            "⚠️ That looks like it contains an NHS number. Please don't store patient-identifiable "
            "information here. Shall I remove it before saving?",
            _pii_buttons(),
        )
        return
    ctx.state.step = "answer"
    if data.get("following"):
        data["answers"][-1]["answer"] += "\n\n" + text
        data["following"] = False
        await next_prompt(ctx)
        return
    prompt, follow_up = _prompt(data)
    data["answers"].append({"prompt": prompt, "answer": text})
    if follow_up and len(text.split()) < SHORT_ANSWER_WORDS and not data.get("followed"):
        data["followed"] = True
        data["following"] = True
        ctx.say(FOLLOW_UP, [[Button("That's all for this one", "nofollow")]])
        return
    await next_prompt(ctx)


async def next_prompt(ctx: Ctx) -> None:
    data = ctx.state.data
    if len(data["answers"]) < len(PROMPTS[data["model"]]):
        await ask_prompt(ctx)
        return
    ctx.state.step = "rating"
    labels = [f"{i} {lab}" for i, lab in enumerate(RATING_LABELS, 1)]
    ctx.say(
        "How would you rate yourself against this statement now?",
        [[Button(labels[i], "rate", str(i + 1))] for i in range(5)] + [[Button("Skip", "rate", "")]],
    )


async def ask_minutes(ctx: Ctx) -> None:
    ctx.state.step = "minutes"
    ctx.say(
        "Log this as CPD? Tap the minutes you spent, type a number, or skip.",
        [[Button(f"{m} min", "mins", m) for m in MINUTES], [Button("Skip", "mins", "")]],
    )


async def ask_extras(ctx: Ctx) -> None:
    data = ctx.state.data
    links = ctx.catalogue.related(data["item"])[:6]
    if not links:
        await confirm(ctx)
        return
    ctx.state.step = "extras"
    chosen = set(data["extras"])
    rows = [
        [Button(("✅ " if link.target in chosen else "") + _label(ctx, link.target), "tag", link.target)]
        for link in links
    ]
    ctx.say(
        "Does it also count as evidence for any of these? Tap to tick, then Done.", [*rows, [Button("Done", "tagged")]]
    )


def _label(ctx: Ctx, item_id: str) -> str:
    e = ctx.catalogue.get(item_id)
    return short(f"{ctx.catalogue.framework(e.framework).short_title}: {e.title}", 48)


async def confirm(ctx: Ctx) -> None:
    ctx.state.step = "confirm"
    ctx.say(summary_text(ctx, ctx.state.data), [[Button("Save", "save"), Button("Discard", "discard")]])


def summary_text(ctx: Ctx, data: dict[str, Any]) -> str:
    item = ctx.catalogue.get(data["item"])
    rating = data.get("rating")
    return render(
        "summary",
        code=item.code or "",
        title=item.title,
        stage_label=stage_label(ctx.catalogue, item.framework, data["stage"]),
        answers=data["answers"],
        rating=f"{rating} {RATING_LABELS[rating - 1]}" if rating else "not rated",
        minutes=data.get("minutes") or "not logged",
        extras=[_label(ctx, x) for x in data.get("extras", [])],
    )


async def save(ctx: Ctx) -> None:
    data = ctx.state.data
    item = ctx.catalogue.get(data["item"])
    ctx.db.add(
        Reflection(
            user_id=ctx.user.id,
            framework=item.framework,
            item_id=item.id,
            stage=data["stage"],
            extra_items=list(data.get("extras", [])),
            prompt_model=data["model"],
            answers_enc=ctx.cipher.encrypt_json(data["answers"]),
            rating=data.get("rating"),
            minutes=data.get("minutes"),
            created_at=ctx.now,
            updated_at=ctx.now,
        )
    )
    await ctx.db.flush()
    week_start = ctx.now - timedelta(days=7)
    total = await ctx.db.scalar(select(func.count()).select_from(Reflection).where(Reflection.user_id == ctx.user.id))
    recent = await ctx.db.scalar(
        select(func.count())
        .select_from(Reflection)
        .where(Reflection.user_id == ctx.user.id, Reflection.created_at >= week_start)
    )
    ctx.finish()
    ctx.say(
        f"Saved. That's {total} reflection{'s' if total != 1 else ''} in all, {recent} in the last 7 days. "
        "Well done for making the time.",
        menu_buttons(),
    )


async def on_click(ctx: Ctx, action: str, arg: str) -> None:
    data = ctx.state.data
    if action == "later":
        ctx.say(LATER)
    elif action == "pick" and arg in ctx.catalogue.by_id:
        await pick(ctx, arg)
    elif action == "browse":
        ctx.state.step = "browse"
        await browse(ctx, None)
    elif action == "group":
        await browse(ctx, arg)
    elif action == "back":
        await ask_focus(ctx)
    elif action == "search":
        ctx.state.step = "search"
        ctx.say("Type a few words about what you want to reflect on, for example <i>difficult conversation</i>.")
    elif action == "skipq":
        data["answers"].append({"prompt": _prompt(data)[0], "answer": "(skipped)"})
        await next_prompt(ctx)
    elif action == "nofollow":
        data["following"] = False
        await next_prompt(ctx)
    elif action == "pii":
        pending = data.pop("pending", "")
        await take_answer(ctx, remove_identifiers(pending) if arg == "remove" else pending, checked=True)
    elif action == "rate":
        data["rating"] = int(arg) if arg.isdigit() and 1 <= int(arg) <= 5 else None
        await ask_minutes(ctx)
    elif action == "mins":
        data["minutes"] = int(arg) if arg.isdigit() else None
        await ask_extras(ctx)
    elif action == "tag":
        extras = data["extras"]
        if arg in extras:
            extras.remove(arg)
        elif arg in ctx.catalogue.by_id:
            extras.append(arg)
        await ask_extras(ctx)
    elif action == "tagged":
        await confirm(ctx)
    elif action == "save":
        await save(ctx)
    elif action == "discard":
        ctx.finish()
        ctx.say("Discarded. Nothing was saved.", menu_buttons())


async def on_text(ctx: Ctx, text: str) -> None:
    step = ctx.state.step
    data = ctx.state.data
    if step == "answer":
        await take_answer(ctx, text)
    elif step in ("focus", "search", "browse"):
        kind = _item_kind(ctx.user.framework)
        hits = [h.entry for h in ctx.index.search(text, framework=ctx.user.framework, limit=12)]
        items: list[str] = []
        for e in hits:
            item = (
                e.id
                if e.kind == kind
                else (e.parent if e.parent and e.kind in ("statement", "indicator", "descriptor") else None)
            )
            if item and item not in items:
                items.append(item)
        if not items:
            ctx.say(
                "I couldn't find anything for that. Try other words, or browse.",
                [[Button("Browse", "browse"), LATER_BUTTON]],
            )
            return
        ctx.state.step = "search"
        ctx.say(
            "Which one?",
            [
                [Button(short(f"{ctx.catalogue.get(i).code} {ctx.catalogue.get(i).title}", 50), "pick", i)]
                for i in items[:5]
            ]
            + [[Button("Browse", "browse"), LATER_BUTTON]],
        )
    elif step == "minutes":
        digits = text.strip().split()[0] if text.strip() else ""
        if digits.isdigit() and 0 < int(digits) <= 600:
            data["minutes"] = int(digits)
            await ask_extras(ctx)
        else:
            ctx.say("Please type the minutes as a number, like 20, or tap Skip.")
    elif step == "pii":
        ctx.say("Please tap one of the buttons above first, so I know what to do with that number.")
    else:
        ctx.say("Please use the buttons above, or send /cancel to stop.")


async def resume(ctx: Ctx) -> None:
    step = ctx.state.step
    data = ctx.state.data
    if step == "answer":
        await ask_prompt(ctx)
    elif step == "rating":
        await next_prompt(ctx)
    elif step == "minutes":
        await ask_minutes(ctx)
    elif step == "extras":
        await ask_extras(ctx)
    elif step == "confirm":
        await confirm(ctx)
    elif step == "pii":
        ctx.say("Shall I remove the number before saving?", _pii_buttons())
    else:
        data.setdefault("suggested", await suggestion(ctx))
        await ask_focus(ctx)


def register(engine: Engine) -> None:
    engine.flow(Flow("reflect", on_text, on_click, resume))
    engine.command("reflect", begin)
