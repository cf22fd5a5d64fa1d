"""/reflect: pick a focus, read your stage statement, answer the prompts, rate, log minutes, save."""

from __future__ import annotations

from datetime import timedelta
from html import escape

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from flows.common import (
    FOLLOW_UP,
    PROMPTS,
    RATING_LABELS,
    SHORT_ANSWER_WORDS,
    first_number,
    menu_buttons,
    short,
    stage_label,
    statement_for,
)
from flows.engine import Engine
from flows.flow import Ctx, Flow, Kind, Step
from flows.guard import GuardedState, identifier_step, intake
from flows.models import Reflection
from flows.replies import Button
from flows.templating import render

LATER_BUTTON = Button("Later", "later")
MINUTES = ["5", "10", "15", "30"]
SKIPPED = "(skipped)"


class Answer(BaseModel):
    prompt: str
    answer: str


class ReflectState(GuardedState):
    suggested: str = ""
    group: str = ""  # the area being browsed
    hits: list[str] = Field(default_factory=list)  # search results
    item: str = ""
    stage: str = ""
    model: str = "rolfe"
    answers: list[Answer] = Field(default_factory=list)
    following: bool = False  # the follow-up to a short answer is being asked
    followed: bool = False  # the follow-up has been asked once
    rating: int | None = None
    minutes: int | None = None
    extras: list[str] = Field(default_factory=list)


def _progress(s: ReflectState) -> str | None:
    if not s.item or not s.answers:
        return None
    return f"{len(s.answers)}/{len(PROMPTS[s.model])}"


def _item_kind(framework: str) -> str:
    """What one reflects on: an MLF competency or an LF element."""
    return "competency" if framework == "mlf2025" else "element"


async def suggestion(ctx: Ctx) -> str:
    """An item not covered recently: never reflected on first, then the longest ago."""
    rows = await ctx.db.execute(
        select(Reflection.item_id, func.max(Reflection.created_at))
        .where(Reflection.user_id == ctx.user.id)
        .group_by(Reflection.item_id)
    )
    last = {item: when for item, when in rows.all()}
    items = [e.id for e in ctx.catalogue.of_kind(ctx.user.framework, _item_kind(ctx.user.framework))]
    # The weakest areas of their latest self-assessment come first.
    from flows.assess import latest_weak_units
    from flows.cpd import unit_of

    weak = await latest_weak_units(ctx.db, ctx.catalogue, ctx.user)
    aimed = [i for i in items if unit_of(ctx.catalogue, i) in weak]
    if aimed:
        items = aimed
    fresh = [i for i in items if i not in last]
    if fresh:
        return fresh[(ctx.user.id + len(last)) % len(fresh)]
    return min(items, key=lambda i: last[i])


# --- /reflect, and the draft put aside ----------------------------------------------------


async def begin(ctx: Ctx, args: str) -> None:
    parked = ctx.parked_state("reflect")
    if isinstance(parked, ReflectState) and parked.item and not args:
        await ctx.start("reflect", ReflectState(), "offer")
        return
    await ctx.start("reflect", ReflectState(suggested=await suggestion(ctx)), "focus")
    if args:
        await search(ctx, _state(ctx), args)


def _state(ctx: Ctx) -> ReflectState:
    assert isinstance(ctx.state, ReflectState)
    return ctx.state


async def ask_offer(ctx: Ctx, s: ReflectState) -> None:
    parked = ctx.parked_state("reflect")
    if not isinstance(parked, ReflectState):
        await start_new(ctx, s, "")
        return
    item = ctx.catalogue.by_id.get(parked.item)
    what = f"on <b>{escape(item.code or '')} {escape(item.title)}</b> " if item else ""
    ctx.say(
        f"You have an unfinished reflection {what}({_progress(parked) or 'not started'}). Carry on with it?",
        [[Button("Continue it", "continue")], [Button("Start a new one", "new")]],
    )


async def continue_parked(ctx: Ctx, s: ReflectState, arg: str) -> None:
    await ctx.unpark()


async def start_new(ctx: Ctx, s: ReflectState, arg: str) -> None:
    ctx.parked = None
    s.suggested = await suggestion(ctx)
    await ctx.go("focus")


async def later(ctx: Ctx, s: ReflectState, arg: str) -> None:
    if s.item:
        ctx.park()
        ctx.say("No problem, I've kept your place. Send /reflect when you want to carry on.", menu_buttons())
    else:
        ctx.finish()
        ctx.say("No problem. Send /reflect whenever you're ready.", menu_buttons())


# --- choosing a focus ---------------------------------------------------------------------


async def ask_focus(ctx: Ctx, s: ReflectState) -> None:
    entry = ctx.catalogue.get(s.suggested)
    ctx.say(
        "What would you like to reflect on this week?",
        [
            [Button(f"Suggested: {short(entry.title, 36)}", "pick", entry.id)],
            [Button("Browse", "browse"), Button("Search", "search")],
            [LATER_BUTTON],
        ],
    )


async def ask_browse(ctx: Ctx, s: ReflectState) -> None:
    fw = ctx.user.framework
    if not s.group:
        groups = ctx.catalogue.of_kind(fw, "standard" if fw == "mlf2025" else "domain")
        ctx.say(
            "Choose an area:",
            [[Button(f"{g.code} {short(g.title, 44)}", "group", g.id)] for g in groups]
            + [[Button("Back", "back"), LATER_BUTTON]],
        )
        return
    items = [e for e in ctx.catalogue.of_kind(fw, _item_kind(fw)) if e.parent == s.group]
    ctx.say(
        "Choose one:",
        [[Button(f"{e.code} {short(e.title, 44)}", "pick", e.id)] for e in items]
        + [[Button("Back", "back"), LATER_BUTTON]],
    )


async def browse(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.group = ""
    await ctx.go("browse")


async def group(ctx: Ctx, s: ReflectState, arg: str) -> None:
    if arg in ctx.catalogue.by_id:
        s.group = arg
    await ctx.go("browse")


async def back(ctx: Ctx, s: ReflectState, arg: str) -> None:
    if ctx.step == "browse" and s.group:
        s.group = ""
        await ctx.go("browse")
        return
    await ctx.go("focus")


async def ask_search(ctx: Ctx, s: ReflectState) -> None:
    if not s.hits:
        ctx.say(
            "Type a few words about what you want to reflect on, for example <i>difficult conversation</i>.",
            [[Button("Browse", "browse"), LATER_BUTTON]],
        )
        return
    entries = [ctx.catalogue.get(i) for i in s.hits]
    ctx.say(
        "Which one?",
        [[Button(short(f"{e.code} {e.title}", 50), "pick", e.id)] for e in entries]
        + [[Button("Browse", "browse"), LATER_BUTTON]],
    )


async def open_search(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.hits = []
    await ctx.go("search")


async def search(ctx: Ctx, s: ReflectState, text: str) -> None:
    kind = _item_kind(ctx.user.framework)
    items: list[str] = []
    for hit in ctx.index.search(text, framework=ctx.user.framework, limit=12):
        e = hit.entry
        item = e.id if e.kind == kind else (e.parent if e.kind in ("statement", "indicator", "descriptor") else None)
        if item and item not in items:
            items.append(item)
    if not items:
        ctx.say("I couldn't find anything for that. Try other words, or browse.")
    s.hits = items[:5]
    await ctx.go("search")


async def pick(ctx: Ctx, s: ReflectState, item_id: str) -> None:
    item = ctx.catalogue.by_id.get(item_id)
    if item is None or item.kind != _item_kind(ctx.user.framework):
        await ctx.go(ctx.step or "focus")
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
    await ctx.go("answer")


# --- the prompts --------------------------------------------------------------------------


async def ask_answer(ctx: Ctx, s: ReflectState) -> None:
    if s.following:
        ctx.say(FOLLOW_UP, [[Button("That's all for this one", "nofollow")]])
        return
    prompts = PROMPTS[s.model]
    n = len(s.answers)
    if n >= len(prompts):
        await ctx.go("rating")
        return
    ctx.say(
        f"<b>{n + 1}/{len(prompts)}</b> {escape(prompts[n][0])}", [[Button("Skip this one", "skipq"), LATER_BUTTON]]
    )


async def type_answer(ctx: Ctx, s: ReflectState, text: str) -> None:
    await intake(ctx, s, text, record)


async def record(ctx: Ctx, s: ReflectState, text: str) -> None:
    if s.following:
        s.answers[-1].answer += "\n\n" + text
        s.following = False
        await next_prompt(ctx, s)
        return
    prompt, follow_up = PROMPTS[s.model][len(s.answers)]
    s.answers.append(Answer(prompt=prompt, answer=text))
    if follow_up and len(text.split()) < SHORT_ANSWER_WORDS and not s.followed:
        s.followed = s.following = True
        await ctx.go("answer")
        return
    await next_prompt(ctx, s)


async def skip_question(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.answers.append(Answer(prompt=PROMPTS[s.model][len(s.answers)][0], answer=SKIPPED))
    await next_prompt(ctx, s)


async def no_follow(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.following = False
    await next_prompt(ctx, s)


async def next_prompt(ctx: Ctx, s: ReflectState) -> None:
    await ctx.go("answer" if len(s.answers) < len(PROMPTS[s.model]) else "rating")


def _answer_screen(s: ReflectState) -> str:
    return f"{len(s.answers)}{'+' if s.following else ''}"


# --- rating, minutes, tags, save ----------------------------------------------------------


async def ask_rating(ctx: Ctx, s: ReflectState) -> None:
    ctx.say(
        "How would you rate yourself against this statement now?",
        [[Button(f"{i} {label}", "rate", str(i))] for i, label in enumerate(RATING_LABELS, 1)]
        + [[Button("Skip", "rate", "")]],
    )


async def rate(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.rating = int(arg) if arg.isdigit() and 1 <= int(arg) <= 5 else None
    await ctx.go("minutes")


async def ask_minutes(ctx: Ctx, s: ReflectState) -> None:
    ctx.say(
        "Log this as CPD? Tap the minutes you spent, type a number, or skip.",
        [[Button(f"{m} min", "mins", m) for m in MINUTES], [Button("Skip", "mins", "")]],
    )


async def minutes_tapped(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.minutes = int(arg) if arg.isdigit() else None
    await after_minutes(ctx, s)


async def minutes_typed(ctx: Ctx, s: ReflectState, text: str) -> None:
    minutes = first_number(text)
    if minutes is None or not 0 < minutes <= 600:
        ctx.say("Please type the minutes as a number, like 20, or tap Skip.")
        return
    s.minutes = minutes
    await after_minutes(ctx, s)


async def after_minutes(ctx: Ctx, s: ReflectState) -> None:
    await ctx.go("extras" if ctx.catalogue.related(s.item) else "confirm")


def tag_buttons(ctx: Ctx, item_id: str, ticked: list[str]) -> list[list[Button]]:
    """One button per item linked to ``item_id`` in other frameworks. Each says what it does (+tick or
    -untick), so a double tap can't undo itself."""
    rows = []
    for link in ctx.catalogue.related(item_id)[:6]:
        on = link.target in ticked
        label = ("✅ " if on else "") + _label(ctx, link.target)
        rows.append([Button(label, "tag", ("-" if on else "+") + link.target)])
    return rows


def toggle(ctx: Ctx, ticked: list[str], arg: str) -> list[str]:
    target = arg[1:]
    if arg.startswith("+") and target in ctx.catalogue.by_id and target not in ticked:
        return [*ticked, target]
    if arg.startswith("-"):
        return [x for x in ticked if x != target]
    return ticked


async def ask_extras(ctx: Ctx, s: ReflectState) -> None:
    ctx.say(
        "Does it also count as evidence for any of these? Tap to tick, then Done.",
        [*tag_buttons(ctx, s.item, s.extras), [Button("Done", "tagged")]],
    )


async def tag(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.extras = toggle(ctx, s.extras, arg)
    await ctx.go("extras")


async def tagged(ctx: Ctx, s: ReflectState, arg: str) -> None:
    await ctx.go("confirm")


def _label(ctx: Ctx, item_id: str) -> str:
    e = ctx.catalogue.get(item_id)
    return short(f"{ctx.catalogue.framework(e.framework).short_title}: {e.title}", 48)


def all_skipped(s: ReflectState) -> bool:
    return all(a.answer == SKIPPED for a in s.answers)


async def ask_confirm(ctx: Ctx, s: ReflectState) -> None:
    if all_skipped(s):
        ctx.say(
            "You skipped every question, so there's nothing to save yet. Even one line helps you at appraisal.",
            [[Button("Answer the questions", "again")], [Button("Discard", "discard")]],
        )
        return
    ctx.say(summary_text(ctx, s), [[Button("Save", "save"), Button("Discard", "discard")]])


async def answer_again(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.answers, s.followed, s.following = [], False, False
    await ctx.go("answer")


def summary_text(ctx: Ctx, s: ReflectState) -> str:
    item = ctx.catalogue.get(s.item)
    return render(
        "summary",
        code=item.code or "",
        title=item.title,
        stage_label=stage_label(ctx.catalogue, item.framework, s.stage),
        answers=[a.model_dump() for a in s.answers],
        rating=f"{s.rating} {RATING_LABELS[s.rating - 1]}" if s.rating else "not rated",
        minutes=s.minutes or "not logged",
        extras=[_label(ctx, x) for x in s.extras],
    )


async def save(ctx: Ctx, s: ReflectState, arg: str) -> None:
    if all_skipped(s):
        await ctx.go("confirm")
        return
    item = ctx.catalogue.get(s.item)
    ctx.db.add(
        Reflection(
            user_id=ctx.user.id,
            framework=item.framework,
            item_id=item.id,
            item_key=item.key,
            stage=s.stage,
            extra_items=list(s.extras),
            prompt_model=s.model,
            answers_enc=ctx.cipher.encrypt_json([a.model_dump() for a in s.answers]),
            rating=s.rating,
            minutes=s.minutes,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
    )
    await ctx.db.flush()
    mine = select(func.count()).select_from(Reflection).where(Reflection.user_id == ctx.user.id)
    total = await ctx.db.scalar(mine)
    recent = await ctx.db.scalar(mine.where(Reflection.created_at >= ctx.now - timedelta(days=7)))
    ctx.finish()
    ctx.say(
        f"Saved. That's {total} reflection{'s' if total != 1 else ''} in all, {recent} in the last 7 days. "
        "Well done for making the time.",
        menu_buttons(),
    )


async def discard(ctx: Ctx, s: ReflectState, arg: str) -> None:
    ctx.finish()
    ctx.say("Discarded. Nothing was saved.", menu_buttons())


FLOW = Flow(
    name="reflect",
    label="reflection",
    state=ReflectState,
    progress=_progress,
    parkable=True,
    resume_command="reflect",
    steps={
        "offer": Step(ask_offer, {"continue": continue_parked, "new": start_new}),
        "focus": Step(
            ask_focus,
            {"pick": pick, "browse": browse, "search": open_search, "later": later},
            text=search,
        ),
        "browse": Step(
            ask_browse,
            {"group": group, "pick": pick, "back": back, "later": later},
            text=search,
            screen=lambda s: s.group,
        ),
        "search": Step(
            ask_search,
            {"pick": pick, "browse": browse, "later": later},
            text=search,
            screen=lambda s: ",".join(s.hits),
        ),
        "answer": Step(
            ask_answer,
            {"skipq": skip_question, "later": later, "nofollow": no_follow},
            text=type_answer,
            screen=_answer_screen,
        ),
        "identifiers": identifier_step(record),
        "rating": Step(ask_rating, {"rate": rate}),
        "minutes": Step(ask_minutes, {"mins": minutes_tapped}, text=minutes_typed),
        "extras": Step(ask_extras, {"tag": tag, "tagged": tagged}),
        "confirm": Step(ask_confirm, {"save": save, "discard": discard, "again": answer_again}, keep=True),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("reflect", begin, Kind.SWITCH)
