"""The chat's answers to look-up questions, composed without a database."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from flows.talks.answers import NOTHING, Answer, Asker, answer_question, describe
from frameworks.lookup import LookupIndex, programme_facts
from frameworks.schema import Programme

MLF_2 = Asker("mlf2025", "2")
LF_3 = Asker("lf2011", "3")


def ask(index: LookupIndex, question: str, asker: Asker = MLF_2) -> Answer:
    return answer_question(index, question, asker)


def targets(answer: Answer) -> list[str]:
    """The item each button opens."""
    return [b.arg for row in answer.buttons for b in row]


def labels(answer: Answer) -> list[str]:
    return [b.label for row in answer.buttons for b in row]


@pytest.mark.parametrize(
    "question",
    ["what is the capital of France", "best lasagne recipe", "who won the football last night", "asdfghjkl"],
)
def test_off_topic_gets_nothing_and_places_to_start(index: LookupIndex, question: str) -> None:
    answer = ask(index, question)
    assert answer.text == NOTHING
    assert targets(answer) == ["mlf2025.overview", "mlf2025.stages", "mlf2025.values"]
    assert "4.4.6" not in answer.text  # not the GMTS competency about capital finance


def test_nothing_found_starts_an_lf_user_from_the_lf(index: LookupIndex) -> None:
    answer = ask(index, "weather in leeds tomorrow", LF_3)
    assert answer.text == NOTHING
    assert labels(answer) == ["LF domains", "LF stages", "Programmes"]
    assert targets(answer) == ["lf2011.overview", "lf2011.stages", "programmes.overview"]
    for entry_id in targets(answer):  # every suggestion opens
        assert index.entry(entry_id) is not None


def test_a_whole_competency_is_shown_at_the_askers_stage_and_says_so(index: LookupIndex) -> None:
    answer = ask(index, "managing conflict")
    assert "<b>5.3 Manage conflict and sensitive conversations</b>" in answer.text
    assert "MLF 2025 (draft) · Stage 2: Mid-Level Managers and Leaders" in answer.text
    assert "I de-escalate conflict promptly" in answer.text
    assert "Shown at your stage" in answer.text
    stage_buttons = [b.label for b in answer.buttons[0] + answer.buttons[1]]
    assert stage_buttons == ["Fundamental", "Stage 1", "Stage 3", "Stage 4"]


def test_before_onboarding_the_stage_shown_is_named_as_a_default(index: LookupIndex) -> None:
    answer = ask(index, "managing conflict", Asker("mlf2025", "1", stage_is_theirs=False))
    assert "Stage 1: New and First-Line Managers and Leaders" in answer.text
    assert "Shown at Stage 1: New and First-Line Managers and Leaders. Set your own stage in /settings" in answer.text
    assert "your stage" not in answer.text


def test_an_lf_element_described_at_stage_4_only_says_so(index: LookupIndex) -> None:
    answer = describe(index, index.catalogue.get("lf2011.6.1"), Asker("lf2011", "1"))
    assert "LF 2011 · Stage 4: Whole organisation/healthcare system" in answer.text
    assert "This element is described at Stage 4: Whole organisation/healthcare system only." in answer.text


def test_a_question_naming_a_stage_keeps_it(index: LookupIndex) -> None:
    answer = ask(index, "stage 3 budget")
    assert "6.2 Manage public money effectively" in answer.text
    assert "Stage 3: Senior Managers and Leaders" in answer.text and "your stage" not in answer.text


def test_fundamental_text_is_labelled(index: LookupIndex) -> None:
    answer = ask(index, "fundamental communicate")
    assert "MLF 2025 (draft) · Fundamental Stage" in answer.text
    # a competency shown as itself quotes its Fundamental statement, and says so
    assert index.search("managing conflict", limit=1)[0].as_dict()["stage"] == "fundamental"


def test_gmts_text_is_printed_once_and_says_core_or_specialist(index: LookupIndex) -> None:
    core = ask(index, "2.4.1")
    sentence = "Visibly understands the responsibilities of the department"
    assert core.text.count(sentence) == 1
    assert "<b>2.4.1 Working with others</b>" in core.text
    assert "GMTS General Management v2.1 · Core competency" in core.text
    assert "Example activities:" in core.text
    specialist = ask(index, "gmts recruitment")
    assert specialist.text.count("Involvement within a recruitment process") == 1
    assert "· Specialist competency" in specialist.text


def test_programmes_show_eligibility_duration_and_cost(index: LookupIndex) -> None:
    seacole = ask(index, "mary seacole")
    assert "<b>Mary Seacole programme</b>" in seacole.text
    assert "Eligibility" not in seacole.text  # the source says nothing on it: nothing is claimed
    assert "<b>Duration:</b> Six months" in seacole.text
    jenner = ask(index, "edward jenner")
    assert "<b>Cost:</b> Free" in jenner.text
    stepping_up = ask(index, "stepping up")
    assert "<b>Eligibility:</b> Aspiring black, Asian and minority ethnic (BAME) leaders" in stepping_up.text


def test_programme_facts_read_fields_by_name_whatever_their_shape() -> None:
    bare = SimpleNamespace(audience="Anyone")  # a programme before the data has eligibility, cost, duration
    assert programme_facts(bare) == [("Who it is for", "Anyone")]  # type: ignore[arg-type]
    richer = SimpleNamespace(
        eligibility=["Band 7 and above", "NHS employers in England"],
        cost={"amount": "£1,200", "funded": True},
        duration="12 months",
        positive_action=True,
    )
    assert programme_facts(richer) == [  # type: ignore[arg-type]
        ("Eligibility", "Band 7 and above; NHS employers in England"),
        ("Positive action", "yes: a programme for under-represented groups"),
        ("Duration", "12 months"),
        ("Cost", "amount: £1,200; funded: yes"),
    ]


def test_every_programme_answer_is_complete(index: LookupIndex) -> None:
    for p in index.catalogue.programmes.entries:
        assert isinstance(p, Programme)
        answer = describe(index, index.catalogue.get(f"programmes.{p.code}"), MLF_2)
        shown = f"<b>Eligibility:</b> {p.eligibility}" in answer.text.replace("&#39;", "'")
        assert shown if p.eligibility else "Eligibility" not in answer.text
        for value in (p.duration, p.cost):
            assert value is None or value in answer.text


def test_overviews_answer_with_their_parts(index: LookupIndex) -> None:
    hlm = ask(index, "the nine dimensions")
    assert "<b>Healthcare Leadership Model: dimensions</b>" in hlm.text
    assert targets(hlm) == [f"hlm.{n}" for n in range(1, 10)]
    values = ask(index, "what are the values in the code")
    assert "Compassion:" in values.text and "Integrity:" in values.text
    assert len(targets(values)) == 6


def test_an_exact_name_wins_over_the_askers_framework(index: LookupIndex) -> None:
    answer = ask(index, "Engaging the team")
    assert "<b>6 Engaging the team</b>" in answer.text and "<i>HLM</i>" in answer.text
    assert "hlm.overview" in targets(answer)


def test_the_askers_framework_comes_first(index: LookupIndex) -> None:
    assert "<b>3.2 Managing resources</b>" in ask(index, "3.2", LF_3).text
    assert "<b>3.2 Be visible, transparent and present</b>" in ask(index, "3.2", MLF_2).text
    assert "<b>4.1 Ensuring patient safety</b>" in ask(index, "patient safety", LF_3).text


def test_see_also_is_only_for_close_runners_up(index: LookupIndex) -> None:
    answer = ask(index, "stepping up")
    assert not [label for label in labels(answer) if label.startswith("See also")]
    budget = ask(index, "stage 3 budget")
    assert "See also: 6.1 Allocate and optimise resources" in labels(budget)


def test_answers_are_telegram_html(index: LookupIndex) -> None:
    questions = ["king's fund", "hlm", "2.4.1", "managing conflict", "what are the 7 domains", "standard 5", "area 2"]
    for q in questions:
        text = ask(index, q).text
        assert len(text) < 4096
        assert set(re.findall(r"</?([a-z]+)", text)) <= {"b", "i"}, q
        assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#\d+;)", text), q
        for row in ask(index, q).buttons:
            for b in row:
                assert len(b.label) <= 48 and len(f"s:{b.arg}".encode()) <= 48


def test_a_statement_found_at_another_stage_offers_the_askers_own(index: LookupIndex) -> None:
    answer = ask(index, "stage 3 budget", Asker("mlf2025", "1"))
    assert "Stage 1 (yours)" in labels(answer)
    assert "Stage 1 (yours)" not in labels(ask(index, "stage 3 budget", Asker("mlf2025", "1", stage_is_theirs=False)))
