"""Questions as NHS managers type them on a phone, with the one answer that should come first.

Each case is (question, the asker's own framework or None for the command line, expected first hit).
The expected hit is an entry id, a tuple of equally right ids, or None when nothing should be found
(off-topic questions must get no results at all, not the least bad competency).
"""

from __future__ import annotations

import pytest

from frameworks.lookup import LookupIndex

Expected = str | tuple[str, ...] | None

QUESTIONS: list[tuple[str, str | None, Expected]] = [
    # guidance from Developing People – Improving Care (the 70/20/10 name is written in digits)
    ("what is 70/20/10", "mlf2025", "guidance.70-20-10"),
    ("the 70-20-10 model of learning", None, "guidance.70-20-10"),
    ("time to reflect", "mlf2025", "guidance.time-to-reflect"),
    ("regular appraisal conversations", "lf2011", "guidance.appraisal-conversations"),
    # overviews: the framework itself, its stages or values
    ("hlm", "mlf2025", "hlm.overview"),
    ("what are the values in the code", "mlf2025", "mlf2025.values"),
    ("the nine dimensions", "mlf2025", "hlm.overview"),
    ("what are the 7 domains", "lf2011", "lf2011.overview"),
    ("list the mlf standards", "lf2011", "mlf2025.overview"),
    ("what courses are there", "mlf2025", "programmes.overview"),
    ("what are the stages", "lf2011", "lf2011.stages"),
    # exact names win over the asker's framework
    ("engaging the team", "mlf2025", "hlm.6"),
    ("Holding to account", "mlf2025", "hlm.7"),
    ("leading with care", "mlf2025", "hlm.2"),
    ("mary seacole", "lf2011", "programmes.mary-seacole"),
    ("elizabeth garret anderson programme", "mlf2025", "programmes.elizabeth-garrett-anderson"),
    ("ready now", "mlf2025", "programmes.ready-now"),
    ("six sigma", "lf2011", "programmes.six-sigma"),
    ("Manage conflict and sensitive conversations", None, "mlf2025.5.3"),
    # word forms
    ("transformation", "mlf2025", "mlf2025.8.2"),
    ("transforming services", "lf2011", "lf2011.4.4"),
    ("prioritising my workload", "mlf2025", "mlf2025.1.1"),
    ("evaluating the impact of a project", "lf2011", "lf2011.5.4"),
    ("communication skills", "mlf2025", ("mlf2025.2.1", "mlf2025.2")),
    # codes, with and without the words around them
    ("element 3.2 managing resources", "mlf2025", "lf2011.3.2"),
    ("3.2", "lf2011", "lf2011.3.2"),
    ("3.2", "mlf2025", "mlf2025.3.2"),
    ("whats 5.3 at stage 3", "mlf2025", "mlf2025.5.3@3"),
    ("competency 6.2 public money", "lf2011", "mlf2025.6.2"),
    # plain questions, answered from the asker's own framework
    ("how do i deal with conflict in my team", "mlf2025", "mlf2025.5.3"),
    ("having difficult conversations with staff", "mlf2025", "mlf2025.5.3"),
    ("whats stage 3 for budgets", "mlf2025", "mlf2025.6.2@3"),
    ("looking after my own wellbeing", "mlf2025", "mlf2025.1.2"),
    ("patient safety", "lf2011", "lf2011.4.1"),
    ("patient safety", "mlf2025", "mlf2025.7.1"),
    ("self awareness", "lf2011", "lf2011.1.1"),
    ("being visible to my team", "mlf2025", "mlf2025.3.2"),
    ("managing upwards", "mlf2025", "mlf2025.2.3"),
    ("how to give feedback", "mlf2025", "mlf2025.2.2"),
    ("underperformance", "mlf2025", "mlf2025.5.2"),
    ("poor performance in my team", "lf2011", "lf2011.3.4"),
    ("recruitment", "gmts-gm", "gmts-gm.3.3.7"),
    ("i need a mentor", "mlf2025", "programmes.coaching-register"),
    ("governance and compliance", "mlf2025", "mlf2025.7.3"),
    # typos
    ("confilct with colleages", "mlf2025", "mlf2025.5.3"),
    ("finacial awarness stage 1", "mlf2025", "mlf2025.6.2@1"),
    ("continous improvment", "mlf2025", "mlf2025.8.1"),
    ("wellbeing stratergies", "mlf2025", "mlf2025.1.2"),
    ("self awarness", "lf2011", "lf2011.1.1"),
    ("workforce planing", "gmts-gm", "gmts-gm.3.3.6"),
    ("negociate", "mlf2025", "mlf2025.2.3"),
    # off-topic: nothing at all
    ("what is the capital of France", "mlf2025", None),
    ("what is the capital of France", None, None),
    ("best lasagne recipe", "mlf2025", None),
    ("how to cook rice", "mlf2025", None),
    ("who won the football last night", "mlf2025", None),
    ("weather in leeds tomorrow", "lf2011", None),
    ("premier league table", None, None),
    ("asdfghjkl", None, None),
    ("how do i book annual leave", "mlf2025", None),
    ("tell me a joke", "mlf2025", None),
    ("cheap flights to spain", None, None),
]


def first_hit(index: LookupIndex, question: str, prefer: str | None) -> str | None:
    hits = index.search(question, prefer=prefer, limit=3)
    return hits[0].entry.id if hits else None


def right(got: str | None, expected: Expected) -> bool:
    return got in expected if isinstance(expected, tuple) else got == expected


@pytest.mark.parametrize(("question", "prefer", "expected"), QUESTIONS)
def test_first_hit(index: LookupIndex, question: str, prefer: str | None, expected: Expected) -> None:
    got = first_hit(index, question, prefer)
    assert right(got, expected), f"{question!r} (a {prefer} user) -> {got}, expected {expected}"


def test_the_set_is_big_and_mixed() -> None:
    assert len(QUESTIONS) >= 50
    assert sum(e is None for _, _, e in QUESTIONS) >= 10
