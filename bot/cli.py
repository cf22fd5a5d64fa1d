"""The ``leadcoach`` command line."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the commands that use them: `leadcoach run` starts without them
    from frameworks.catalogue import Catalogue, Entry

_FRAMEWORK_IDS = ("mlf2025", "lf2011", "gmts-gm", "hlm", "programmes", "guidance")


def _cmd_frameworks(args: argparse.Namespace) -> int:
    from frameworks.catalogue import default_catalogue

    cat = default_catalogue()
    rows: list[dict[str, Any]] = [
        {"id": f.id, "title": f.title, "year": f.year, "counts": cat.counts(f.id)} for f in cat.files
    ]
    if args.json:
        print(json.dumps({"frameworks": rows}, indent=2, ensure_ascii=False))
        return 0
    for f, row in zip(cat.files, rows, strict=True):
        counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in row["counts"].items())
        draft = " (draft)" if f.draft else ""
        dated = f", {f.year}" if f.year else ""
        print(f"{f.id:<11} {f.title}{draft}{dated}\n{'':<11} {counts}\n{'':<11} Source: {f.source.publisher}")
    return 0


def _cmd_lookup(args: argparse.Namespace) -> int:
    from frameworks.catalogue import default_catalogue
    from frameworks.lookup import LookupIndex

    cat = default_catalogue()
    hits = LookupIndex(cat).search(args.query, framework=args.framework, limit=args.limit)
    if args.json:
        print(json.dumps({"query": args.query, "results": [h.as_dict() for h in hits]}, indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print('Nothing good found. Try a code like 3.2, a stage ("stage 2") or a topic word ("conflict").')
        return 1
    for h in hits:
        print(_describe(cat, h.entry), end="\n\n")
    return 0


def _describe(cat: Catalogue, e: Entry) -> str:
    """A hit as plain text: code and title, then [framework · stage, or core/specialist], then the text."""
    from frameworks.lookup import programme_facts, quoted_stage

    label = cat.framework(e.framework).short_title
    stage = quoted_stage(e)
    if stage and e.kind != "stage":
        label += f" · {stage_entry.title}" if (stage_entry := cat.stage_entry(e.framework, stage)) else ""
    if e.framework == cat.gmts.id:
        kind = next((c.type for c in cat.gmts.competencies if f"{cat.gmts.id}.{c.key}" == e.id), None)
        label += f" · {kind}" if kind else ""
    lines = [f"{e.code} " if e.code and e.kind not in ("area", "overview") else "", e.title, f"  [{label}]"]
    body = [] if e.text == e.title else e.text.splitlines()  # a GMTS title is its text: printed once
    if e.kind == "programme":
        programme = next((p for p in cat.programmes.entries if f"{cat.programmes.id}.{p.code}" == e.id), None)
        facts = programme_facts(programme) if programme is not None else []
        body += [f"{name}: {value}" for name, value in facts if name in ("Eligibility", "Duration", "Cost")]
    text = "\n".join(textwrap.fill(line, 88, subsequent_indent="  " if line.startswith(" ") else "") for line in body)
    return "".join(lines) + ("\n" + textwrap.indent(text, "  ") if text else "")


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.main import run

    return run(terminal=False)


def _cmd_chat(args: argparse.Namespace) -> int:
    from bot.main import chat

    return chat(user=args.user)


def _cmd_purge(args: argparse.Namespace) -> int:
    from bot.main import purge

    return purge()


def _cmd_rotate_key(args: argparse.Namespace) -> int:
    from bot.main import rotate_key

    return rotate_key()


def _when(text: str) -> datetime:
    """An ISO time for --at; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r} (e.g. 2026-03-30T07:30:00Z)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _cmd_nudges_due(args: argparse.Namespace) -> int:
    from bot.main import nudges_due

    return nudges_due(args.at, args.json)


def _cmd_nudges_send(args: argparse.Namespace) -> int:
    from bot.main import nudges_send_due

    return nudges_send_due(args.at)


def _cmd_start(args: argparse.Namespace) -> int:
    from bot.main import run

    return run(terminal=None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadcoach", description="LeadCoach: a pocket leadership coach.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("frameworks", help="list the frameworks and what they contain")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_frameworks)
    p = sub.add_parser("lookup", help="look something up in the frameworks")
    p.add_argument("query")
    p.add_argument("--framework", choices=_FRAMEWORK_IDS)
    p.add_argument("--limit", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_lookup)
    p = sub.add_parser("run", help="run the Telegram bot (long polling, or a webhook if configured)")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("chat", help="talk to the coach in this terminal")
    p.add_argument("--user", default="me", help="whose coach this is (default: me)")
    p.set_defaults(func=_cmd_chat)
    p = sub.add_parser("purge", help="erase what is past its retention (old updates, expired conversations)")
    p.set_defaults(func=_cmd_purge)
    p = sub.add_parser("rotate-key", help="re-encrypt stored text with the first key in LEADCOACH_ENCRYPTION_KEY")
    p.set_defaults(func=_cmd_rotate_key)
    p = sub.add_parser("nudges", help="the nudges due, or one dispatch pass (for cron)")
    nudges = p.add_subparsers(dest="nudges_command", required=True)
    p = nudges.add_parser("due", help="list the nudges due now (or --at a time)")
    p.add_argument("--at", type=_when, help="act as if it were this ISO time")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_nudges_due)
    p = nudges.add_parser("send-due", help="send the nudges due now (or --at a time) over Telegram, then exit")
    p.add_argument("--at", type=_when, help="act as if it were this ISO time")
    p.set_defaults(func=_cmd_nudges_send)
    p = sub.add_parser("start", help="Telegram if a token is configured, otherwise the terminal")
    p.set_defaults(func=_cmd_start)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from pydantic import ValidationError

    from bot.startup import StartupError, settings_error

    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except ValidationError as exc:
        print(f"leadcoach: {settings_error(exc)}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"leadcoach: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
