"""/lookup and free-text questions, answered from the frameworks with the source and stage.

The composing functions are plain: they take the lookup index and who is asking and return an
:class:`Answer` (text and buttons), so they are tested without a database. The handlers at the end
say it in the chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from html import escape

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, FlowState, Kind, Step
from flows.core.replies import Button
from flows.core.templating import render
from flows.talks.common import menu_buttons, short, stage_label, statement_for, valid_stage
from flows.talks.reflection_focus import suggestion
from frameworks.catalogue import Catalogue, Entry
from frameworks.compare import Comparison, compare
from frameworks.lookup import LookupIndex, programme_facts, quoted_stage
from frameworks.schema import GmtsCompetency

NOTHING = (
    "I couldn't find anything good for that in the frameworks, so I won't guess. Try a topic "
    "(<i>managing conflict</i>), a code (<i>3.2</i>) or a stage (<i>stage 2 budget</i>), or start here:"
)
_WHOLE_ITEMS = ("competency", "element")  # described stage by stage: shown at the asker's stage
_STAGE_KEYS = ("fundamental", "1", "2", "3", "4")
_SEE_ALSO = 0.4  # another hit is offered when it scores at least this share of the first
GREETING = (
    "Hello. I'm your pocket leadership coach: a five-minute weekly reflection, a self-assessment "
    "with a chart, your CPD and a countdown to your appraisal. Ask me about the frameworks any time, for "
    "example <i>stage 2 conflict</i> or <i>what is PDSA</i>. What would you like to do?"
)
THANKS = "You're welcome. Ask me anything else about the frameworks, or pick from the menu."
OFF_TOPIC = (
    "That isn't something the leadership frameworks cover, so I won't guess (I don't do sums, dates "
    "or clinical questions). Ask me about a topic, a stage or a programme, or see /help for what I can do."
)


@dataclass(frozen=True)
class Asker:
    framework: str
    stage: str
    stage_is_theirs: bool = True  # False before onboarding: the stage is only the default


@dataclass
class Answer:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)


def _show(entry: Entry, label: str | None = None) -> list[Button]:
    return [Button(short(label or f"{entry.code or ''} {entry.title}".strip(), 48), "s", entry.id, scoped=False)]


def answer_question(index: LookupIndex, question: str, asker: Asker) -> Answer:
    """The best answer to a question, from the asker's framework unless it names another; chat words
    answered as chat; two stages or two frameworks compared side by side."""
    kind = index.chat_kind(question)
    if kind in ("greeting", "thanks"):
        return Answer(GREETING if kind == "greeting" else THANKS, menu_buttons())
    if kind == "off_topic":  # sums, dates, clinical, pay and IT
        return Answer(OFF_TOPIC, [[Button("Help", "m", "help", scoped=False)]])
    if kind is not None:  # general knowledge; a reflection suggestion needs the asker's history (answer())
        return nothing_found(index, asker)
    comparison = compare(index, question, asker.framework)
    if comparison is not None:
        return compared(index, comparison)
    hits = index.search(question, limit=4, prefer=asker.framework)
    if not hits:
        return nothing_found(index, asker)
    top = hits[0].entry
    seen = {_item(top)}
    others: list[Entry] = []
    for h in hits[1:]:
        if h.score >= _SEE_ALSO * hits[0].score and _item(h.entry) not in seen:
            seen.add(_item(h.entry))
            others.append(h.entry)
    return describe(index, top, asker, others=others)


def compared(index: LookupIndex, comparison: Comparison) -> Answer:
    """Two stages of an item, or one topic in two frameworks, each text labelled with where it is from."""
    sides = []
    for side in comparison.sides:
        e = side.entry
        heading = "" if e.kind in ("statement", "indicator") else f"{_code(e)} {e.title}".strip()
        sides.append({"label": side.label, "framework": side.framework, "heading": heading, "text": e.text})
    text = render("compare", title=comparison.title, sides=sides, rationale=comparison.rationale)
    by_stage = len({s.entry.framework for s in comparison.sides}) == 1
    buttons = [_show(s.entry, s.label if by_stage else f"{s.framework}: {s.entry.title}") for s in comparison.sides]
    if any(s.entry.framework == "hlm" for s in comparison.sides):
        buttons.append(_show(index.overview("hlm"), "All nine dimensions"))
    return Answer(text, buttons)


def nothing_found(index: LookupIndex, asker: Asker) -> Answer:
    """No good match: say so, and offer the asker's framework from the top instead of a guess."""
    if asker.framework == "lf2011":
        starts = [("LF domains", "lf2011", "framework"), ("LF stages", "lf2011", "stages")]
    else:
        starts = [("MLF standards", "mlf2025", "framework"), ("MLF stages", "mlf2025", "stages")]
        starts.append(("MLF values", "mlf2025", "values"))
    starts.append(("Programmes", "programmes", "framework"))
    return Answer(NOTHING, [_show(index.overview(fw, what), label) for label, fw, what in starts[:3]])


def describe(index: LookupIndex, entry: Entry, asker: Asker, *, others: Sequence[Entry] = ()) -> Answer:
    """One framework item as a message: its text, where it comes from, and where to go next.

    A whole competency or element is shown at the asker's stage, and says so; a statement at the
    stage it was found at (the one the question named, or whose words matched).
    """
    cat = index.catalogue
    note = ""
    if entry.kind in _WHOLE_ITEMS:
        entry, note = at_asker_stage(cat, entry, asker)
    fw = cat.framework(entry.framework).short_title
    if entry.kind == "programme":
        answer = _programme(cat, entry, fw)
    elif entry.framework == "gmts-gm":
        answer = _gmts(cat, entry, fw)
    else:
        answer = _framework_item(index, entry, fw, note)
    answer.buttons += _stage_buttons(cat, entry, asker)
    for link in cat.related(entry.id)[:2]:
        target = cat.get(link.target)
        answer.buttons.append(_show(target, f"{cat.framework(target.framework).short_title}: {target.title}"))
    for other in others[:2]:
        answer.buttons.append(_show(other, f"See also: {other.code or ''} {other.title}"))
    if entry.kind == "dimension":
        answer.buttons.append(_show(index.overview("hlm"), "All nine dimensions"))
    return answer


def _framework_item(index: LookupIndex, entry: Entry, fw: str, note: str) -> Answer:
    """An MLF, LF or HLM item: its text at its stage, and its parts (an overview's, a standard's...)."""
    cat = index.catalogue
    stage = quoted_stage(entry)
    source = f"{fw} · {stage_label(cat, entry.framework, stage)}" if stage and entry.kind != "stage" else fw
    parts = index.children(entry.id)
    text = entry.text
    if entry.kind == "standard":  # its text is the competencies' titles
        text = "\n".join(f"• {c.code} {c.title}" for c in parts)
    elif entry.kind in ("domain", "area"):
        text += "\n" + "\n".join(f"• {c.code} {c.title}" for c in parts)
    elif entry.kind == "dimension" and entry.text == entry.title:  # no description in the data
        text = f"Dimension {entry.code} of the {cat.hlm.title} ({cat.hlm.year})."
    answer = Answer(
        render("answer", code=_code(entry), title=entry.title, source=source, text=text, facts=[], note=note)
    )
    answer.buttons += [_show(c) for c in parts[:9]]
    return answer


def _item(entry: Entry) -> str:
    return entry.id.split("@", 1)[0]


def _code(entry: Entry) -> str:
    return (entry.code or "") if entry.kind not in ("stage", "value", "overview", "area") else ""


def at_asker_stage(cat: Catalogue, entry: Entry, asker: Asker) -> tuple[Entry, str]:
    wanted = valid_stage(entry.framework, asker.stage)
    statement = statement_for(cat, entry.id, wanted)
    if statement is None or statement.stage is None:
        return entry, ""
    label = stage_label(cat, entry.framework, statement.stage)
    if statement.stage != wanted:
        return statement, f"This element is described at {label} only."
    if not asker.stage_is_theirs:
        return statement, f"Shown at {label}. Set your own stage in /settings; other stages are below."
    return statement, "Shown at your stage; other stages are below."


def _stage_buttons(cat: Catalogue, entry: Entry, asker: Asker) -> list[list[Button]]:
    """The item's other stages; the asker's own is marked, so a statement found at another stage
    is one tap from theirs."""
    if entry.kind not in ("statement", "indicator", "competency", "element"):
        return []
    item, yours = _item(entry), valid_stage(entry.framework, asker.stage) if asker.stage_is_theirs else None
    row = []
    for e in (cat.statement(item, s) for s in _STAGE_KEYS):
        if e is not None and e.id != entry.id:
            label = "Fundamental" if e.stage == "fundamental" else f"Stage {e.stage}"
            row.append(Button(f"{label} (yours)" if e.stage == yours else label, "s", e.id, scoped=False))
    return [row[i : i + 3] for i in range(0, len(row), 3)]


def _gmts(cat: Catalogue, entry: Entry, fw: str) -> Answer:
    """A GMTS competency: its text once (its title is the same sentence), core or specialist, examples."""
    comp = _gmts_competency(cat, entry.id)
    domains = {d.code: d.title for d in cat.gmts.domains}
    kind = f"{getattr(comp, 'type', '')} competency".strip().capitalize()
    text = entry.text  # the title is the same sentence: printed once
    examples: list[str] = list(getattr(comp, "examples", None) or [])
    if examples:
        text += "\n\nExample activities:\n" + "\n".join(f"• {e}" for e in examples[:3])
    title = domains.get((entry.code or "")[:1], "")
    return Answer(render("answer", code=entry.code, title=title, source=f"{fw} · {kind}", text=text, facts=[], note=""))


def _gmts_competency(cat: Catalogue, entry_id: str) -> GmtsCompetency | None:
    return next((c for c in cat.gmts.competencies if f"{cat.gmts.id}.{c.key}" == entry_id), None)


def _programme(cat: Catalogue, entry: Entry, fw: str) -> Answer:
    """A programme with who can go, and its format, duration and cost where the data has them."""
    p = next((p for p in cat.programmes.entries if f"{cat.programmes.id}.{p.code}" == entry.id), None)
    facts = programme_facts(p) if p is not None else []
    provider = getattr(p, "provider", None)
    source = f"{fw} · {provider}" if provider else fw
    answer = Answer(render("answer", code="", title=entry.title, source=source, text=entry.text, facts=facts, note=""))
    develops = [cat.by_id[i] for i in getattr(p, "develops", []) if i in cat.by_id]
    answer.buttons += [_show(e, f"Develops: {e.title}") for e in develops[:2]]
    return answer


# --- chat handlers --------------------------------------------------------------------


def _asker(ctx: Ctx) -> Asker:
    return Asker(ctx.user.framework, ctx.user.stage, ctx.user.onboarded)


def _say(ctx: Ctx, answer: Answer) -> None:
    ctx.say(answer.text, answer.buttons)


async def answer(ctx: Ctx, question: str) -> None:
    if ctx.index.chat_kind(question) == "reflect":
        await _suggest(ctx)
        return
    _say(ctx, answer_question(ctx.index, question, _asker(ctx)))


async def _suggest(ctx: Ctx) -> None:
    """'What should I reflect on?': the reflection's own suggestion, one tap from starting."""
    entry = ctx.catalogue.get(await suggestion(ctx))
    ctx.say(
        f"How about <b>{_code(entry)} {escape(entry.title)}</b>? It's the one you haven't reflected on for "
        "longest (or at all), weakest areas of your last self-assessment first.",
        [[Button("Reflect now", "m", "reflect", scoped=False)], _show(entry, "Read it first")],
    )


class LookupState(FlowState):
    pass


async def lookup_command(ctx: Ctx, args: str) -> None:
    if args:
        await answer(ctx, args)
    elif ctx.flow is None:
        await ctx.start("lookup", LookupState(), L.ASK)
    else:
        ctx.say("Type your question after /lookup, for example <i>/lookup stage 2 conflict</i>.")


async def typed_question(ctx: Ctx, s: LookupState, text: str) -> None:
    ctx.finish()
    await answer(ctx, text)


async def show_click(ctx: Ctx, arg: str) -> None:
    entry = ctx.index.entry(arg)
    if entry is None:
        ctx.notice = "That item is no longer in the frameworks."
        return
    _say(ctx, describe(ctx.index, entry, _asker(ctx)))


async def idle_text(ctx: Ctx, text: str) -> None:
    if not ctx.user.onboarded and ctx.flow is None and text.lower() in ("hi", "hello", "hey", "start"):
        await ctx.engine.run_command(ctx, "start")
        return
    await answer(ctx, text)


class L(StrEnum):
    ASK = "ask"


FLOW = Flow(
    name="lookup",
    label="look-up",
    state=LookupState,
    names=L,
    steps={
        L.ASK: Step(
            "What would you like to look up? For example <i>what does stage 2 look like for conflict?</i>",
            text=typed_question,
        )
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("lookup", lookup_command, Kind.OVERLAY)
    engine.click("s", show_click, Kind.OVERLAY)
    engine.idle_text = idle_text
