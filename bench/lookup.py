"""Lookup benchmark: load + index time, and p50/p99 latency of 1,000 mixed queries.

Targets (issues 2 and 15): load + index < 300 ms, p99 < 5 ms. The queries mix the command line's (no
preferred framework) with the chat's (the asker's framework preferred), and include off-topic
ones, which find nothing. Run with ``make bench`` or ``python bench/lookup.py``. A plain substring
scan over the same entries runs in the same process as the baseline, so the ratio holds on a
noisy machine; the CPU time of the benchmark's thread is shown too, as other processes on a shared
machine lengthen the wall-clock p99 but not that.
"""

from __future__ import annotations

import random
import statistics
import time

from frameworks.catalogue import Catalogue, load_catalogue
from frameworks.lookup import LookupIndex

QUERIES = [
    "what does stage 2 look like",
    "stage 3 budget",
    "fundamental communicate",
    "3.2",
    "2.4.1",
    "stage to managment",
    "conflcit",
    "what does stage 2 look like for managing conflict?",
    "LF stage 2",
    "senior wellbeing",
    "gmts 3.2.5",
    "hlm holding to account",
    "mary seacole",
    "executive civility",
    "how do I manage a budget at mid-level",
    "first-line managers prioritise tasks",
    "patient safety stage 3",
    "digital skills technology",
    "old framework managing resources",
    "graduate trainee budget setting",
    "coaching register",
    "speaking up and feedback",
    "2011 creating the vision",
    "stage 1 data and evidence",
    # overviews, whole titles, codes among words, typos and off-topic questions (which find nothing)
    "the nine dimensions",
    "what are the values in the code",
    "engaging the team",
    "element 3.2 managing resources",
    "transformation",
    "confilct with colleages",
    "having difficult conversations with staff",
    "what is the capital of France",
    "who won the football last night",
    "cheap flights to spain",
    # as NHS staff talk (issue 15): roles and bands, abbreviations, everyday words, comparisons, chat
    "band 7 ward sister how do i handle conflict between two nurses",
    "exec on staff wellbeing",
    "matron difficult conversations",
    "PDSA cycles",
    "is there a programme for BAME staff",
    "stakeholder engagement",
    "what is meant by patient",
    "difference between stage 1 and stage 2 on conflict",
    "the 2011 framework vs the new MLF on patient safety",
    "17 times 23",
    "paracetamol dose for adults",
    "thanks",
]
PREFER = [None, None, "mlf2025", "lf2011"]  # as the command line (no preference) and the chat ask


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _naive(cat: Catalogue, query: str) -> list[str]:
    words = query.lower().split()
    return [e.id for e in cat.entries if any(w in f"{e.title} {e.text}".lower() for w in words)][:5]


def main() -> None:
    t0 = time.perf_counter()
    cat = load_catalogue()
    t1 = time.perf_counter()
    index = LookupIndex(cat)
    t2 = time.perf_counter()
    rng = random.Random(7)
    queries = [(rng.choice(QUERIES), rng.choice(PREFER)) for _ in range(1000)]
    ours, cpu, naive, found = [], [], [], 0
    for q, prefer in queries:
        s, c = time.perf_counter(), time.thread_time()
        found += bool(index.search(q, prefer=prefer))
        ours.append((time.perf_counter() - s) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
        s = time.perf_counter()
        _naive(cat, q)
        naive.append((time.perf_counter() - s) * 1000)
    print(f"entries indexed:        {len(cat.entries)}")
    print(f"load (YAML + validate): {(t1 - t0) * 1000:7.1f} ms")
    print(f"index build:            {(t2 - t1) * 1000:7.1f} ms")
    print(f"load + index:           {(t2 - t0) * 1000:7.1f} ms   (target < 300 ms)")
    print(f"lookup p50:             {statistics.median(ours):7.3f} ms")
    print(f"lookup p99:             {_pct(ours, 99):7.3f} ms   (target < 5 ms)")
    print(f"lookup CPU p50 / p99:   {statistics.median(cpu):7.3f} / {_pct(cpu, 99):.3f} ms   (this thread only)")
    print(f"queries answered:       {found} of {len(queries)} (the off-topic ones find nothing)")
    print(f"baseline substring scan p50 / p99: {statistics.median(naive):.3f} / {_pct(naive, 99):.3f} ms")
    print(f"ratio ours/baseline p50: {statistics.median(ours) / statistics.median(naive):.2f}")


if __name__ == "__main__":
    main()
