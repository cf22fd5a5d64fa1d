"""Chat words and comparisons in the free-text lookup: greetings and thanks say what I can do, "what
should I reflect on" gets the reflection's suggestion, sums, dates and clinical questions get no answer
and a pointer to /help; two stages, or two frameworks, side by side."""

from __future__ import annotations

from flows.talks.answers import GREETING, OFF_TOPIC, THANKS, Asker, answer_question
from frameworks.compare import compare
from frameworks.lookup import LookupIndex
from tests.client import FakeClient
from tests.test_flows import onboard

MLF = Asker("mlf2025", "2")


def test_greetings_and_thanks_say_what_i_can_do(index: LookupIndex) -> None:
    for text in ("hi", "Good morning!", "what can you do?"):
        answer = answer_question(index, text, MLF)
        assert answer.text == GREETING
        assert "Reflect now" in [b.label for row in answer.buttons for b in row]
    assert answer_question(index, "thanks!", MLF).text == THANKS


def test_sums_dates_and_clinical_questions_get_no_answer(index: LookupIndex) -> None:
    for text in ("17 times 23", "what's the date today", "paracetamol dose", "symptoms of sepsis"):
        answer = answer_question(index, text, MLF)
        assert answer.text == OFF_TOPIC and "/help" in answer.text, text
        assert index.search(text) == []


def test_two_stages_side_by_side(index: LookupIndex) -> None:
    answer = answer_question(index, "difference between stage 1 and stage 2 on conflict", MLF)
    first, second = answer.text.index("Stage 1: New"), answer.text.index("Stage 2: Mid-Level")
    assert first < second
    assert "I remain calm and respectful" in answer.text[first:second]  # the Stage 1 statement
    assert "I de-escalate conflict promptly" in answer.text[second:]  # the Stage 2 statement
    assert [b.label for row in answer.buttons for b in row] == [
        "Stage 1: New and First-Line Managers and Leaders",
        "Stage 2: Mid-Level Managers and Leaders",
    ]


def test_one_topic_across_frameworks_through_the_crosswalk(index: LookupIndex) -> None:
    c = compare(index, "the 2011 framework vs the new MLF on patient safety")
    assert c is not None and c.linked
    assert [(s.framework, s.entry.id) for s in c.sides] == [
        ("LF 2011", "lf2011.4.1"),
        ("MLF 2025 (draft)", "mlf2025.7.1"),
    ]
    text = answer_question(index, "the 2011 framework vs the new MLF on patient safety", MLF).text
    assert "(LF 2011)" in text and "(MLF 2025 (draft))" in text and "crosswalk" in text


def test_a_question_that_does_not_compare_is_looked_up(index: LookupIndex) -> None:
    assert compare(index, "stage 2 conflict") is None
    assert compare(index, "relationships between teams") is None


async def test_what_should_i_reflect_on_gets_the_suggestion(client: FakeClient) -> None:
    await onboard(client)
    replies = await client.send("What should I reflect on this week?")
    assert "How about" in replies[-1].text
    started = await client.click("Reflect now")
    assert started  # the reflection starts on the same suggestion


def test_chat_words_with_a_few_words_around_them(index: LookupIndex) -> None:
    assert index.chat_kind("cheers mate") == "thanks"
    assert index.chat_kind("hi there coach") == "greeting"
    assert index.chat_kind("give me a reflection idea") == "reflect"
    assert index.chat_kind("hi stage 2") is None  # a question after the greeting is looked up
    assert index.chat_kind("hello what does stage 2 look like") is None
