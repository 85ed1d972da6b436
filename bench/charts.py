"""Render time and PNG size of the result charts at 30 problems or candidates (print only,
not a test): Step 1's four, Step 2's election of the initiative group, and Step 3's problem
tree at 40 causes and consequences (25 and 15, three levels deep); Step 4's resource map at
40 resources and its institutional diagram at 15 organisations.

    python bench/charts.py [runs]

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
from datetime import date, timedelta

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

from bot.charts import (  # noqa: E402
    CandidateRow, CombinedRow, MatrixPoint, Problem, RankedProblem, StickerRow, render_combined,
    TreeNode, render_election, render_matrix, render_pairwise, render_stickers, render_tree,
)
from bot.charts import ResourceRow, render_resources  # noqa: E402
from bot.charts import OrgRow, render_orgs  # noqa: E402
from bot.charts import TaskRow, render_plan  # noqa: E402
from bot.charts import EvaluationSummary, render_evaluation  # noqa: E402
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


CATEGORIES = [("activist", "Белсенді / көшбасшы"), ("vulnerable", "Әлеуметтік осал топ"),
              ("authority", "Жергілікті билік"), ("business", "Бизнес"), ("ngo", "ҮЕҰ"),
              ("media", "БАҚ")]
NAMES = ["Әбдірахманова Гүлнәр Серікқызы", "Қасымов Ерлан", "Өмірзақов Нұрлан Бақытұлы",
         "Үсенова Айгүл", "Ғалымжанов Ілияс", "Сейітқали Ұлжан Әбенқызы", "Төлеуова Мәдина"]


def candidate_rows(rnd: random.Random, seats: int = 7) -> list[CandidateRow]:
    """N candidates with names of 13 to 60 characters; the top *seats* elected, the last
    two seats by a tie."""
    names = [" ".join(rnd.choice(NAMES) for _ in range(3))[: rnd.choice([13, 20, 30, 60])]
             for _ in range(N)]
    votes = sorted((rnd.randint(0, 42) for _ in range(N)), reverse=True)
    votes[seats - 1] = votes[seats]
    return [CandidateRow(name, rnd.choice(CATEGORIES[:5])[0], v, i < seats,
                         i in (seats - 1, seats))
            for i, (name, v) in enumerate(zip(names, votes))]


def tree_nodes(rnd: random.Random, causes: int = 25, effects: int = 15) -> list[TreeNode]:
    """Causes then consequences numbered from 1, texts of 10 to 200 characters, each kind in
    groups of five: a node on the problem, its child and grandchild, a second child and its
    child (three levels)."""
    nodes: list[TreeNode] = []
    for kind, n in (("cause", causes), ("effect", effects)):
        first = len(nodes) + 1
        for i in range(n):
            up = [None, 0, 1, 0, 3][i % 5]
            parent = None if up is None else first + i - i % 5 + up
            words = " ".join(PHRASES[(i + k + len(nodes)) % len(PHRASES)] for k in range(5))
            text = words[: rnd.choice([10, 30, 60, 90, 140, 200])]
            nodes.append(TreeNode(first + i, text, kind, parent))
    return nodes


RESOURCE_KINDS = [("people", "Адамдар мен дағдылар"),
                  ("materials", "Материалдар мен құрал-жабдық"), ("money", "Қаржы"),
                  ("premises", "Ғимараттар мен жер"), ("organisations", "Ұйымдар")]
PLACES = ["мектеп", "мәдениет үйі, Абай көшесі 12", "ауыл шетіндегі қойма",
          "ауылдық округ әкімдігі", "Жаңаауыл, Төле би көшесі, 5-үй, шаруа қожалығының ауласы"]


def resource_rows(rnd: random.Random, n: int = 40) -> list[ResourceRow]:
    """*n* resources over four kinds (money left empty), texts of 10 to 200 characters, holders
    and places of 6 to 60 characters or unknown."""
    kinds = ["people", "materials", "premises", "organisations"]
    rows = []
    for i in range(n):
        words = " ".join(PHRASES[(i + k) % len(PHRASES)] for k in range(5))
        text = words[: rnd.choice([10, 30, 60, 90, 140, 200])]
        holder = rnd.choice(["", *NAMES])
        place = rnd.choice(["", *PLACES])
        rows.append(ResourceRow(i + 1, kinds[i % 4], text, holder, place))
    return rows


def org_rows(rnd: random.Random, n: int = 15) -> list[OrgRow]:
    """Step 4's institutional diagram: *n* organisations, names of 10 to 100 characters."""
    return [OrgRow(i + 1, " ".join(rnd.choice(NAMES) for _ in range(4))[: rnd.choice(
        [10, 30, 60, 100])], round(rnd.uniform(1, 3), 1), round(rnd.uniform(1, 3), 1),
        rnd.randint(1, 30)) for i in range(n)]


def task_rows(rnd: random.Random, n: int = N) -> list[TaskRow]:
    """Step 5's action plan: *n* tasks over three months, titles of 20 to 150 characters,
    every sixth with no owner, every eighth not scheduled, every eleventh with only a due day."""
    first = date(2026, 3, 2)
    rows = []
    for i in range(n):
        words = " ".join(PHRASES[(i + k) % len(PHRASES)] for k in range(4))
        start = first + timedelta(days=rnd.randint(0, 75))
        due = min(start + timedelta(days=rnd.randint(0, 21)), first + timedelta(days=90))
        if i % 8 == 5:
            start = due = None
        elif i % 11 == 3:
            start = None
        rows.append(TaskRow(i + 1, words[: rnd.choice([20, 60, 100, 150])].strip(),
                            "" if i % 6 == 4 else NAMES[i % len(NAMES)], start, due))
    return rows


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
    candidates = candidate_rows(rnd)
    kk_election = {"title": "ҚМҰТ сайлауы", "subtitle": "42 мүше дауыс берді · 7 орын",
                   "elected": "сайланды", "tied": "тең", "composition": "Санаттар",
                   "candidates": "кандидаттар", "absent": "кандидат жоқ", "uncovered": "орын жоқ"}
    tree = tree_nodes(rnd)
    orgs = org_rows(random.Random(4))  # its own draws: the other charts stay as they were
    kk_tree = {"title": "Мәселе ағашы", "subtitle": "25 себеп · 15 салдар",
               "effects": "Салдары (жапырақтар)", "problem": "Мәселе",
               "causes": "Себептері (тамырлар)"}
    resources = resource_rows(rnd)
    tasks = task_rows(random.Random(5))  # its own draws, as the orgs'
    kk_resources = {"title": "Ресурстар картасы", "subtitle": "40 ресурс · 5 түрдің 4-еуі",
                    "holder": "иесі", "place": "қайда", "none": "әзірге жоқ"}
    return {
        "stickers": lambda: render_stickers(stickers, kk),
        "matrix": lambda: render_matrix(points, {"x": "Маңыздылығы", "y": "Шұғылдығы"}),
        "pairwise": lambda: render_pairwise(problems, wins, order),
        "combined": lambda: render_combined(combined, ["Жапсырма", "Матрица", "Жүппен саралау"]),
        "election": lambda: render_election(candidates, CATEGORIES, kk_election),
        "tree": lambda: render_tree((texts[0] + " " + texts[1])[:300], tree, kk_tree),
        "orgs": lambda: render_orgs(orgs, {"title": "Институционалдық диаграмма",
                                           "community": "Біздің қауымдастық", "decimal": ","}),
        "resources": lambda: render_resources(resources, RESOURCE_KINDS, kk_resources),
        "plan": lambda: render_plan(tasks, {
            "title": "Іс-қимыл жоспары", "subtitle": "30 тапсырма", "owner_none": "әзірге ешкім",
            "unscheduled": "Әлі жоспарланбаған", "today": "бүгін",
            "months": "қаң,ақп,нау,сәу,мам,мау,шіл,там,қыр,қаз,қар,жел"}, today=date(2026, 4, 14)),
        "evaluation": lambda: render_evaluation(
            EvaluationSummary((13, 8, 3), (1, 2, 5, 9, 7), (19, 4), 24), {
                "title": "Бағалау", "subtitle": "30 мүшенің 24-і жауап берді",
                "question": "Біз қалаған мақсатқа жеттік пе?", "yes": "Иә",
                "partly": "Ішінара", "no": "Жоқ", "again_yes": "Иә", "again_no": "Жоқ",
                "rating": "Баға, 1-ден 5-ке дейін", "mean": "орташа {mean}",
                "again": "Келесі жолы да қатысамын", "decimal": ","}),
    }


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    charts = cases(random.Random(1))
    print(f"{N} problems (candidates), {runs} runs each, load average {os.getloadavg()[0]:.2f}")
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
