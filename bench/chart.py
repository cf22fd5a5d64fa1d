"""Self-assessment chart rendering (issues 9 and 14): the radar chart (9 MLF standards, the previous
assessment overlaid; and alone) as a PNG, the way the adapters make it (in a worker thread), drawn by
flows/talks/chart.py (a cached figure per layout, the series drawn over pre-rendered layers) and by the
full draw it replaced (tests/chart_baseline.py: a fresh pyplot figure per chart), in the same run.

- warm: charts one after another in one process, ours and the full draw interleaved (five of ours to
  one full draw) so both see the same load; wall time per chart and the worker thread's CPU time;
- a new layout in a warm process (ours builds and caches its figure: the cost of a cache miss);
- cold: the first chart of a new process (imports matplotlib, reads the font cache), each in its own
  process, alternating; with the process's RSS after it.

Target (issue 9): < 300 ms per chart once the process is warm.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.talks import chart
from frameworks.catalogue import default_catalogue
from tests import chart_baseline

Draw = Callable[[list[str], list[chart.Series], bool], bytes]
WAYS: dict[str, Draw] = {
    "ours": lambda labels, series, legend: chart.radar(labels, series, legend=legend),
    "full draw": lambda labels, series, legend: chart_baseline.radar(labels, series, legend=legend),
}


def mlf_labels() -> list[str]:
    return [e.title for e in default_catalogue().of_kind("mlf2025", "standard")]


def scores(rng: random.Random, n: int) -> list[float | None]:
    return [None if rng.random() < 0.1 else round(rng.uniform(1, 5), 1) for _ in range(n)]


def series(rng: random.Random, n: int, *, last_time: bool) -> list[chart.Series]:
    now: chart.Series = ("Now", scores(rng, n), chart.SELF_COLOUR, "-")
    return [("Last time", scores(rng, n), "#9aa5b1", "--"), now] if last_time else [now]


async def timed(draw: Draw, labels: list[str], chosen: list[chart.Series]) -> tuple[float, float, int]:
    """One chart in a worker thread: wall ms, the thread's CPU ms, PNG bytes."""

    def run() -> tuple[float, int]:
        cpu = time.thread_time()
        png = draw(labels, chosen, len(chosen) > 1)
        return (time.thread_time() - cpu) * 1000, len(png)

    start = time.perf_counter()
    cpu, size = await asyncio.to_thread(run)
    return (time.perf_counter() - start) * 1000, cpu, size


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{ordered[0]:6.1f} {statistics.median(ordered):6.1f} {p90:6.1f}"


def pillow_png(rgba: bytes, level: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.frombuffer("RGBA", (chart.PIXELS,) * 2, rgba, "raw", "RGBA", 0, 1).save(out, "png", compress_level=level)
    return out.getvalue()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cold(way: str) -> None:
    """(In a new process) the first chart, imports included; printed as JSON."""
    labels = mlf_labels()
    chosen = series(random.Random(1), len(labels), last_time=True)
    modules, rss = len(sys.modules), rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    png = WAYS[way](labels, chosen, True)
    wall, cpu = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
    pyplot = "matplotlib.pyplot" in sys.modules
    after = {"rss_before": rss, "rss": rss_mb(), "modules": len(sys.modules) - modules, "pyplot": pyplot}
    print(json.dumps({"wall": wall, "cpu": cpu, "bytes": len(png), **after}))


async def warm(rounds: int, rng: random.Random) -> None:
    labels = mlf_labels()
    for draw in WAYS.values():  # imports, font cache, our layouts
        for last_time in (True, False):
            await timed(draw, labels, series(rng, len(labels), last_time=last_time))
    got: dict[tuple[str, bool], list[tuple[float, float, int]]] = {}
    for i in range(rounds):
        last_time = i % 2 == 0
        for way, repeat in (("full draw", 1), ("ours", 5)):
            for _ in range(repeat):
                done = await timed(WAYS[way], labels, series(rng, len(labels), last_time=last_time))
                got.setdefault((way, last_time), []).append(done)
    print(f"warm, {rounds} rounds of one full draw and five of ours (ms per chart: min median p90)")
    print(f"{'':34} {'charts':>6} {'wall':>20} {'thread CPU':>20} {'PNG bytes':>10}")
    for (way, last_time), charts in sorted(got.items()):
        what = f"{way}, {'with last time' if last_time else 'alone'}"
        walls, cpus = [w for w, _, _ in charts], [c for _, c, _ in charts]
        print(f"{what:34} {len(charts):6} {summary(walls):>20} {summary(cpus):>20} {charts[-1][2]:10,}")
    cpu = {way: statistics.median(c for (w, _), ch in got.items() if w == way for _, c, _ in ch) for way in WAYS}
    print(
        f"median thread CPU: full draw {cpu['full draw']:.1f} ms, ours {cpu['ours']:.1f} ms "
        f"({cpu['full draw'] / cpu['ours']:.0f}x less)"
    )
    misses = []  # our figure for a layout not seen yet: the cost of a cache miss
    for n in range(2, 9):  # 3 to 9 areas
        misses.append(await timed(WAYS["ours"], [*labels[:n], f"Area {n}"], series(rng, n + 1, last_time=True)))
    walls, cpus = [w for w, _, _ in misses], [c for _, c, _ in misses]
    print(f"{'ours, a new layout (cache miss)':34} {len(misses):6} {summary(walls):>20} {summary(cpus):>20}")


def encoding() -> None:
    last = chart._CACHE[next(reversed(chart._CACHE))]  # a chart of the last layout drawn
    rgba = last.draw([[3.0] * len(last.angles)] * len(last.series))
    encoders: dict[str, Callable[[], bytes]] = {
        "ours (zlib 3, rows unfiltered)": lambda: chart._png(rgba, "Now"),
        "Pillow, compress level 1": lambda: pillow_png(rgba, 1),
        "Pillow, default (6, as savefig)": lambda: pillow_png(rgba, -1),
    }
    for name, encode in encoders.items():
        cpus = []
        for _ in range(20):
            cpu = time.thread_time()
            png = encode()
            cpus.append((time.thread_time() - cpu) * 1000)
        print(f"PNG encoding, {name:31} {summary(cpus):>20} ms CPU, {len(png):,} bytes")


def cold_processes(processes: int) -> None:
    runs: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    for _ in range(processes):
        for way in WAYS:
            done = subprocess.run(
                [sys.executable, __file__, "--cold", way], capture_output=True, text=True, check=True, timeout=120
            )
            runs[way].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"cold: the first chart of a new process (imports matplotlib), {processes} processes each: min median max")
    for way, got in runs.items():

        def spread(key: str, got: list[dict[str, float]] = got) -> str:
            values = sorted(r[key] for r in got)
            return f"{values[0]:.0f} {statistics.median(values):.0f} {values[-1]:.0f}"

        print(
            f"{way:10} wall {spread('wall'):>14} ms, CPU {spread('cpu'):>14} ms; RSS {spread('rss_before')} MB before, "
            f"{spread('rss')} MB after; {got[0]['modules']:.0f} modules imported, pyplot: {bool(got[0]['pyplot'])}"
        )


async def main(rounds: int, processes: int) -> None:
    await warm(rounds, random.Random(14))
    encoding()
    cold_processes(processes)
    print("target: < 300 ms per chart (warm)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="warm rounds (one full draw, five of ours)")
    parser.add_argument("--processes", type=int, default=5, help="new processes for the cold figure, each way")
    parser.add_argument("--cold", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold:
        cold(args.cold)
    else:
        asyncio.run(main(args.rounds, args.processes))
