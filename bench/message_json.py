"""What storing the flows' answers as JSON (``bot.messages``) costs next to the pickles it
replaced: serialising and reading back, per item, in microseconds, and the stored size.

    python bench/message_json.py [runs]

* the tap's kept answer: what every sticker tap keeps with its update id (a toast and the ballot
  view to redraw) — the hot path of vote_burst.py, once per tap;
* the group ballot: the live group message of a sticker ballot on 10 problems (text, a button row
  per problem), as queued in the outbox when a redraw meets a 429;
* the result with a chart: an answer holding the group's result post with its sticker chart (10
  ``StickerRow`` and the labels) and the facilitator's reply.

Pickle is measured on the same objects (the highest protocol, as ``pickle.dumps`` wrote them).
Each figure is the best of ``runs`` timings of a loop of ``N`` (the machine is shared: the best is
the least disturbed).
"""

from __future__ import annotations

import os
import pickle
import sys
import timeit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

from bot import charts  # noqa: E402
from bot.charts import data  # noqa: E402
from bot.messages import Button, Chart, Message, Outcome, Toast, View  # noqa: E402

N = 2000
PROBLEMS = ["Көшелерде түнгі жарық жоқ, кешке қауіпті", "Ауыз су жетіспейді, құдықтағы су лас",
            "Мектепте спорт залы жоқ", "Аялдамада шатыр жоқ, балалар жаңбырда тұрады",
            "Ауылдың жолы ойлы-қырлы, көктемде су басады", "Қоқыс уақытында шығарылмайды",
            "Балалар алаңы сынған", "Дәрігерлік амбулатория аптасына бір рет ашылады",
            "Интернет баяу, балалар онлайн сабаққа қосыла алмайды", "Көпірдің қоршауы жоқ"]


def ballot_post() -> Message:
    lines = ["🗳 <b>Стикермен дауыс беру</b>",
             "Ең өзекті мәселелерге 3 стикерге дейін қойыңыз (бір мәселеге 1). Дауыс беру сағат 18:00-де жабылады.", ""]
    lines += [f"{n}. {text} — {n % 4}" for n, text in enumerate(PROBLEMS, 1)]
    lines += ["", "Дауыс берген мүшелер: 37."]
    buttons = tuple((Button(f"{n} · {text[:28]} · {n % 4}", data=f"d:12:{100 + n}"),)
                    for n, text in enumerate(PROBLEMS, 1))
    return Message("telegram", "-1001234567890", "\n".join(lines), buttons, tag="ballot:12", edit=True)


def tap_answer() -> Outcome:
    return Outcome(toast=Toast("№3 мәселеге стикер қойылды. 3 стикердің 1 қалды."), refresh={View("ballot", 12)})


def result_answer() -> Outcome:
    rows = [data.StickerRow(n, text, 40 - 3 * n, n % 3) for n, text in enumerate(PROBLEMS, 1)]
    labels = {"title": "Стикермен дауыс беру", "subtitle": "37 мүше дауыс берді", "online": "онлайн",
              "paper": "кездесуде", "empty": "Стикер әлі жоқ"}
    post = Message("telegram", "-1001234567890",
                   "Стикермен дауыс беру: ең өзекті мәселе — №1 Көшелерде түнгі жарық жоқ (39 стикер).\n"
                   "37 мүше дауыс берді.\nАудит: 3fa9c01b",
                   chart=Chart(charts.render_stickers, (rows, labels), filename="stickers.png"), durable=True)
    reply = Message("telegram", "5551234", "Нәтиже топқа жіберілді.")
    return Outcome(messages=[post, reply])


def best(stmt, runs: int) -> float:
    return min(timeit.repeat(stmt, number=N, repeat=runs)) / N * 1e6  # µs per item


def measure(name: str, item, runs: int) -> None:
    cls = type(item)
    as_json, as_pickle = item.to_json(), pickle.dumps(item)
    back = cls.from_json(as_json)  # an Outcome reads back its kept part (its flags are not kept)
    assert back == item if isinstance(item, Message) else \
        (back.messages, back.toast, back.refresh) == (item.messages, item.toast, item.refresh)
    json_write, json_read = best(item.to_json, runs), best(lambda: cls.from_json(as_json), runs)
    pickle_write, pickle_read = best(lambda: pickle.dumps(item), runs), best(lambda: pickle.loads(as_pickle), runs)
    size_json, size_pickle = len(as_json.encode()), len(as_pickle)
    total_json, total_pickle = json_write + json_read, pickle_write + pickle_read
    print(f"{name:<24} {json_write:7.1f} {json_read:7.1f} {total_json:7.1f}   {pickle_write:7.1f} {pickle_read:7.1f} "
          f"{total_pickle:7.1f}   {total_json / total_pickle:5.2f}×   {size_json:6,} B {size_pickle:6,} B")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"µs per item, best of {runs} × {N}; ratio = JSON total / pickle total")
    print(f"{'':<24} {'JSON':>23}   {'pickle':>23}")
    print(f"{'':<24} {'write':>7} {'read':>7} {'total':>7}   {'write':>7} {'read':>7} {'total':>7}   ratio   "
          f"{'size JSON':>8} {'pickle':>8}")
    measure("tap's kept answer", tap_answer(), runs)
    measure("group ballot (10)", ballot_post(), runs)
    measure("result with a chart", result_answer(), runs)


if __name__ == "__main__":
    main()
