"""Render time and PNG size of the Step 1 charts at 30 problems (print only, not a test).

    python bench/charts_step1.py [runs]

Wall time is what a user waits for; CPU time (this thread only) shows the chart's own
cost when other processes compete for the machine. Target: median wall ≤ 150 ms and every
PNG < 200 KB.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

from bot.charts import (  # noqa: E402
    CombinedRow, MatrixPoint, Problem, RankedProblem, StickerRow, render_combined,
    render_matrix, render_pairwise, render_stickers,
)
from bot.charts.common import MAX_PNG_BYTES  # noqa: E402

N = 30
BUDGET_MS = 150.0
PHRASES = [
    "Ауыл ішіндегі жолдар жөндеуді қажет етеді, көктемде су басып қалады",
    "ауыз су жетіспейді, құдықтағы су лас",
    "мектепте спорт залы жоқ, балалар дене шынықтыру сабағын дәлізде өткізеді",
    "көшелерде түнгі жарық жоқ, кешке қауіпті",
    "жастарға арналған үйірмелер жабылып қалған, жастар қалаға көшіп кетуде",
    "медициналық пункт аптасына бір рет қана ашылады",
    "газ құбыры ауылға әлі жеткізілмеген, қыста көмір қымбат",
]


def problem_text(i: int, rnd: random.Random) -> str:
    """Mostly short texts, some up to the 300-character limit, as people write them."""
    words = " ".join(PHRASES[(i + k) % len(PHRASES)] for k in range(8))
    return words[: rnd.choice([25, 40, 60, 90, 140, 300])]


def cases(rnd: random.Random):
    texts = [problem_text(i, rnd) for i in range(N)]
    stickers = sorted((StickerRow(i + 1, t, rnd.randint(0, 30), rnd.randint(0, 10))
                       for i, t in enumerate(texts)), key=lambda r: -r.total)
    points = [MatrixPoint(i + 1, t, rnd.randint(1, 3), rnd.randint(1, 3), rnd.uniform(1, 5))
              for i, t in enumerate(texts)]
    problems = [Problem(i + 1, t) for i, t in enumerate(texts)]
    wins = [[0 if i == j else rnd.randint(0, 12) for j in range(N)] for i in range(N)]
    order = sorted((RankedProblem(i + 1, t, sum(wins[i])) for i, t in enumerate(texts)),
                   key=lambda r: -r.score)
    combined = [CombinedRow(i + 1, t, (rnd.randint(1, N), rnd.randint(1, N), i + 1), i + 1)
                for i, t in enumerate(texts)]
    kk = {"title": "Жапсырма әдісі: ең өзекті мәселелер", "online": "онлайн", "paper": "жиналыста"}
    return {
        "stickers": lambda: render_stickers(stickers, kk),
        "matrix": lambda: render_matrix(points, {"x": "Маңыздылығы", "y": "Шұғылдығы"}),
        "pairwise": lambda: render_pairwise(problems, wins, order),
        "combined": lambda: render_combined(combined, ["Жапсырма", "Матрица", "Жүппен саралау"]),
    }


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    charts = cases(random.Random(1))
    print(f"{N} problems, {runs} runs each, load average {os.getloadavg()[0]:.2f}")
    print(f"{'chart':<10}{'median ms':>11}{'worst ms':>10}{'cpu med ms':>12}{'PNG KB':>8}"
          f"{'size px':>12}  ok")
    for name, render in charts.items():
        png = render()  # warm the glyph cache, as a running bot has
        wall, cpu = [], []
        for _ in range(runs):
            w0, c0 = time.perf_counter(), time.thread_time()
            png = render()
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        ok = statistics.median(wall) <= BUDGET_MS and len(png) < MAX_PNG_BYTES
        print(f"{name:<10}{statistics.median(wall):>11.0f}{max(wall):>10.0f}"
              f"{statistics.median(cpu):>12.0f}{len(png) / 1024:>8.0f}"
              f"{f'{width}x{height}':>12}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
