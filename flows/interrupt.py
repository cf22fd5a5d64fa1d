"""A command or menu button during a flow with unsaved work: continue it, put it aside, or discard it."""

from __future__ import annotations

from flows.flow import INTERRUPT_STEP, Ctx
from flows.replies import Button

STEP = INTERRUPT_STEP


async def ask(ctx: Ctx, pending: dict[str, str]) -> None:
    flow = ctx.engine.flows[ctx.flow or ""]
    progress = ctx.engine.work(ctx)
    if ctx.step != STEP:
        pending = {**pending, "step": ctx.step or ""}
    ctx.pending, ctx.step = pending, STEP
    buttons = [[Button(f"Continue my {flow.label}", "continue")]]
    if _same(ctx, pending):
        buttons.append([Button("Start again", "restart"), Button("Discard it", "discard")])
    else:
        if flow.parkable:
            buttons.append([Button("Keep it for later", "park")])
        buttons.append([Button("Discard it", "discard")])
    ctx.say(f"You have an unfinished {flow.label} ({progress}). What would you like to do?", buttons)


def _same(ctx: Ctx, pending: dict[str, str]) -> bool:
    """Was the flow's own command asked for again (/reflect during a reflection)?"""
    flow = ctx.engine.flows[ctx.flow or ""]
    return pending.get("kind") == "command" and pending.get("name") == flow.resume_command


async def choose(ctx: Ctx, action: str) -> None:
    flow = ctx.engine.flows[ctx.flow or ""]
    pending = ctx.pending or {}
    same = _same(ctx, pending)
    ctx.pending = None
    ctx.step = pending.get("step") if pending.get("step") in flow.steps else None
    if action == "continue" and ctx.step is not None:
        await ctx.go(ctx.step)
        return
    if action == "park" and flow.parkable and ctx.step is not None:
        ctx.park()
        ctx.say(f"I've kept your {flow.label} for later: /{flow.resume_command} picks it up.")
    else:
        ctx.finish()
        ctx.say(f"Discarded your unfinished {flow.label}.")
        if same and action != "restart":
            await ctx.engine.run_command(ctx, "menu")
            return
    await ctx.engine.resume_pending(ctx, pending)
