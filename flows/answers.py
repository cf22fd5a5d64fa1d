"""/lookup and free-text questions, answered from the frameworks with the source and stage."""

from __future__ import annotations

from flows.common import short, stage_label
from flows.engine import Engine
from flows.flow import Ctx, Flow, FlowState, Kind, Step
from flows.replies import Button
from flows.templating import render
from frameworks.catalogue import Entry

NOTHING = (
    "I couldn't find that in the frameworks. Try a code like <i>3.2</i>, a stage (<i>what does stage 2 "
    "look like</i>) or a topic (<i>stage 3 budget</i>)."
)


def show(ctx: Ctx, entry: Entry, others: list[Entry] | None = None) -> None:
    fw = ctx.catalogue.framework(entry.framework)
    label = stage_label(ctx.catalogue, entry.framework, entry.stage) if entry.stage else ""
    if entry.kind == "stage":
        label = ""
    text = render(
        "item",
        code=entry.code if entry.kind not in ("stage", "value") else "",
        title=entry.title,
        framework=fw.short_title,
        stage_label=label,
        text=entry.text,
    )
    buttons: list[list[Button]] = []
    base = entry.id.split("@", 1)[0]
    if entry.kind in ("statement", "indicator", "competency", "element"):
        stages = [e for e in (ctx.catalogue.statement(base, s) for s in ("fundamental", "1", "2", "3", "4")) if e]
        row = [
            Button("Fundamental" if e.stage == "fundamental" else f"Stage {e.stage}", "s", e.id, scoped=False)
            for e in stages
            if e.id != entry.id and e.stage
        ]
        buttons += [row[i : i + 3] for i in range(0, len(row), 3)]
    for link in ctx.catalogue.related(entry.id)[:2]:
        target = ctx.catalogue.get(link.target)
        buttons.append(
            [
                Button(
                    short(f"{ctx.catalogue.framework(target.framework).short_title}: {target.title}", 48),
                    "s",
                    target.id,
                    scoped=False,
                )
            ]
        )
    for other in (others or [])[:2]:
        buttons.append([Button(short(f"See also: {other.code or ''} {other.title}", 48), "s", other.id, scoped=False)])
    ctx.say(text, buttons)


async def answer(ctx: Ctx, question: str) -> None:
    hits = ctx.index.search(question, limit=4)
    if not hits:
        ctx.say(NOTHING)
        return
    top = hits[0].entry
    if top.kind == "competency" and top.framework == "mlf2025" and ctx.user.framework == "mlf2025":
        top = ctx.catalogue.statement(top.id, ctx.user.stage) or top  # your stage, unless you asked for another
    others = [h.entry for h in hits[1:] if h.entry.id.split("@")[0] != top.id.split("@")[0]]
    show(ctx, top, others)


class LookupState(FlowState):
    pass


async def lookup_command(ctx: Ctx, args: str) -> None:
    if args:
        await answer(ctx, args)
    elif ctx.flow is None:
        await ctx.start("lookup", LookupState(), "ask")
    else:
        ctx.say("Type your question after /lookup, for example <i>/lookup stage 2 conflict</i>.")


async def ask_question(ctx: Ctx, s: LookupState) -> None:
    ctx.say("What would you like to look up? For example <i>what does stage 2 look like for conflict?</i>")


async def typed_question(ctx: Ctx, s: LookupState, text: str) -> None:
    ctx.finish()
    await answer(ctx, text)


async def show_click(ctx: Ctx, arg: str) -> None:
    entry = ctx.catalogue.by_id.get(arg)
    if entry is None:
        ctx.notice = "That item is no longer in the frameworks."
        return
    show(ctx, entry)


async def idle_text(ctx: Ctx, text: str) -> None:
    if not ctx.user.onboarded and ctx.flow is None and text.lower() in ("hi", "hello", "hey", "start"):
        from flows.onboarding import start

        await start(ctx, "")
        return
    await answer(ctx, text)


FLOW = Flow(name="lookup", label="look-up", state=LookupState, steps={"ask": Step(ask_question, text=typed_question)})


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("lookup", lookup_command, Kind.OVERLAY)
    engine.click("s", show_click, Kind.OVERLAY)
    engine.idle_text = idle_text
