"""A command or menu button during a flow with unsaved work: continue it, put it aside, or discard it.
The engine's own step: held in the flow's session with what was asked for (``pending``)."""

from __future__ import annotations

from flows.core.flow import INTERRUPT_STEP, Ctx
from flows.core.replies import Button

STEP = INTERRUPT_STEP


def hold(ctx: Ctx, pending: dict[str, str]) -> None:
    """Stop at the interrupt step, remembering what was asked for and the step the flow was at."""
    step = (ctx.pending or {}).get("step", "") if ctx.step == STEP else ctx.step or ""  # asked again: same step
    ctx.pending, ctx.step = {**pending, "step": step}, STEP


def prompt(ctx: Ctx) -> str:
    flow = ctx.engine.flows[ctx.flow or ""]
    if (ctx.pending or {}).get("confirm") == "restart":
        return f"Start again? The answers so far in your {flow.label} will be deleted."
    return f"You have an unfinished {flow.label} ({ctx.engine.work(ctx)}). What would you like to do?"


def buttons(ctx: Ctx) -> list[list[Button]]:
    flow = ctx.engine.flows[ctx.flow or ""]
    pending = ctx.pending or {}
    keep = [[Button("Keep it for later", "park")]] if flow.parkable else []
    if pending.get("confirm") == "restart":
        return [[Button("Yes, start again", "restart")], [Button(f"No, continue my {flow.label}", "continue")], *keep]
    rows = [[Button(f"Continue my {flow.label}", "continue")]]
    if _same(ctx, pending):
        return [*rows, [Button("Start again", "confirm")], *keep, [Button("Discard it", "discard")]]
    return [*rows, *keep, [Button("Discard it", "discard")]]


def _same(ctx: Ctx, pending: dict[str, str]) -> bool:
    """Was the flow's own command asked for again (/reflect during a reflection)?"""
    flow = ctx.engine.flows[ctx.flow or ""]
    return pending.get("kind") == "command" and pending.get("name") == flow.resume_command


async def choose(ctx: Ctx, action: str) -> None:
    flow = ctx.engine.flows[ctx.flow or ""]
    pending = ctx.pending or {}
    if action == "confirm":  # "Start again" deletes answers: asked once more, with a way to keep them
        ctx.pending = {**pending, "confirm": "restart"}
        await ctx.engine.ask(ctx)
        return
    same = _same(ctx, pending)
    step = pending.get("step")
    if action == "continue" and step in flow.steps:
        ctx.pending = None
        await ctx.go(step)
        return
    if action == "park" and flow.parkable:
        ctx.park()
        ctx.say(f"I've kept your {flow.label} for later: /{flow.resume_command} picks it up.")
    else:
        ctx.pending = None
        ctx.finish()
        ctx.say(f"Discarded your unfinished {flow.label}.")
        if same and action != "restart":
            await ctx.engine.run_command(ctx, "menu")
            return
    await ctx.engine.resume_pending(ctx, {k: v for k, v in pending.items() if k != "confirm"})
