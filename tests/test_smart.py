"""Draft SMART objectives (flows/smart.py): specific to the area and the statement for the user's stage,
one level up, evidenced, and dated."""

from __future__ import annotations

from datetime import date

import pytest

from flows.rules.smart import Priority, draft_objective, target_level

REVIEW = date(2027, 6, 30)


@pytest.mark.parametrize(("score", "level"), [(None, 3), (1.0, 3), (2.4, 3), (3.0, 4), (3.9, 4), (4.5, 5), (5.0, 5)])
def test_one_level_up_at_least_proficient(score: float | None, level: int) -> None:
    assert target_level(score) == level


def test_a_draft_names_the_area_the_level_the_evidence_and_the_date() -> None:
    p = Priority("mlf2025.6", "Maximising Resources and Financial Value", 2.4, "Manage budgets responsibly.")
    assert draft_objective(p, REVIEW) == (
        "By 30 June 2027, move my self-rating for Maximising Resources and Financial Value from 2.4 to 3 "
        "(Proficient), showing that I manage budgets responsibly; evidence it in at least 3 reflections and one "
        "piece of feedback, and review progress with my line manager halfway."
    )


def test_without_a_score_or_statement_it_still_reads() -> None:
    text = draft_objective(Priority("lf2011.3", "Managing Services", None, ""), REVIEW, reflections=2)
    assert text.startswith("By 30 June 2027, move my self-rating for Managing Services to 3 (Proficient);")
    assert "at least 2 reflections" in text


def test_a_course_chosen_in_develop_is_named_with_its_date() -> None:
    p = Priority(
        "mlf2025.6", "Maximising Resources and Financial Value", 2.4, "", "Mary Seacole programme", date(2027, 3, 1)
    )
    text = draft_objective(p, REVIEW)
    assert "; complete the Mary Seacole programme by 1 March 2027 and use one thing I learn from it at work;" in text
