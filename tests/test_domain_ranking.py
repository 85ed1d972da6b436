"""Step 1 rules: competition ranks, stickers, priority matrix, pairwise ranking, combined."""

from __future__ import annotations

import ast
import itertools
import math
import random
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import combined, matrix, pairwise, ranking, stickers
from bot.domain.combined import CombinedRow, combined_ranking
from bot.domain.matrix import MatrixPoint, matrix_cell, matrix_result
from bot.domain.pairwise import all_pairs, bradley_terry, pairs_for_member, pairwise_result
from bot.domain.ranking import competition_ranks
from bot.domain.stickers import OptionTally, StickerAction, sticker_tally, sticker_toggle

settings.register_profile(
    "domain", max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("domain")

DOMAIN_MODULES = [ranking, stickers, matrix, pairwise, combined]

# ---------------------------------------------------------------- strategies

option_ids = st.integers(min_value=1, max_value=40)
option_lists = st.lists(option_ids, min_size=1, max_size=8, unique=True)


@st.composite
def options_and_sticker_ballots(draw: st.DrawFn) -> tuple[list[int], dict[int, dict[int, int]]]:
    options = draw(option_lists)
    # ballots may hold stickers on options not listed (hidden or merged problems)
    pool = options + [100, 101]
    ballots = draw(
        st.dictionaries(
            st.integers(1, 50),
            st.dictionaries(st.sampled_from(pool), st.integers(0, 3), max_size=5),
            max_size=8,
        )
    )
    return options, ballots


def permuted(mapping: dict, rng: random.Random) -> dict:
    """Same items, other insertion order (also inside nested dicts)."""
    items = list(mapping.items())
    rng.shuffle(items)
    return {k: permuted(v, rng) if isinstance(v, dict) else v for k, v in items}


def latest(events: list[tuple[int, dict]]) -> dict[int, dict]:
    """Each voter's last ballot, found by scanning from the end (independent of dict.update)."""
    seen: dict[int, dict] = {}
    for voter, ballot in reversed(events):
        seen.setdefault(voter, ballot)
    return seen


def replay(events: list[tuple[int, dict]]) -> dict[int, dict]:
    """Stored ballots after the events: a changed ballot overwrites the voter's old one."""
    stored: dict[int, dict] = {}
    for voter, ballot in events:
        stored[voter] = ballot
    return stored


# ---------------------------------------------------------------- module hygiene


def test_domain_modules_import_only_the_standard_library() -> None:
    for module in DOMAIN_MODULES:
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or name.startswith("bot.domain") or (
                    top == "__future__"
                ), f"{module.__name__} imports {name}"


# ---------------------------------------------------------------- competition ranks


def test_competition_ranks_ties_share_and_skip() -> None:
    assert competition_ranks({1: 10, 2: 10, 3: 5, 4: 7}) == {1: 1, 2: 1, 4: 3, 3: 4}
    assert competition_ranks({1: 10, 2: 10, 3: 5}, higher_is_better=False) == {3: 1, 1: 2, 2: 2}
    assert competition_ranks({}) == {}
    assert competition_ranks({5: 0.0}) == {5: 1}


def test_competition_ranks_tolerance_groups_near_ties_only() -> None:
    scores = {1: 0.5, 2: 0.5 + 1e-13, 3: 0.4999}
    assert competition_ranks(scores) == {2: 1, 1: 2, 3: 3}
    assert competition_ranks(scores, tolerance=1e-9) == {1: 1, 2: 1, 3: 3}
    with pytest.raises(ValueError):
        competition_ranks({1: math.nan})


@given(st.dictionaries(option_ids, st.integers(-3, 3).map(float), max_size=12), st.booleans())
def test_competition_rank_is_one_plus_number_strictly_better(
    scores: dict[int, float], higher: bool
) -> None:
    ranks = competition_ranks(scores, higher_is_better=higher)
    assert ranks.keys() == scores.keys()
    for option, score in scores.items():
        better = sum(1 for other in scores.values() if (other > score if higher else other < score))
        assert ranks[option] == 1 + better


# ---------------------------------------------------------------- stickers: toggle


def test_sticker_toggle_default_rules() -> None:
    ballot: dict[int, int] = {}
    change = sticker_toggle(ballot, 1, max_stickers=3, per_option=1)
    assert (change.action, change.stickers, change.left) == ("added", {1: 1}, 2)
    change = sticker_toggle(change.stickers, 1, 3, 1)  # second tap removes
    assert (change.action, change.stickers, change.left) == (StickerAction.REMOVED, {}, 3)
    for option in (1, 2, 3):
        change = sticker_toggle(change.stickers, option, 3, 1)
    assert (change.stickers, change.left) == ({1: 1, 2: 1, 3: 1}, 0)
    refused = sticker_toggle(change.stickers, 4, 3, 1)
    assert refused.action == StickerAction.REFUSED_NO_STICKERS_LEFT
    assert (refused.stickers, refused.left, refused.option) == ({1: 1, 2: 1, 3: 1}, 0, 4)
    removed = sticker_toggle(change.stickers, 2, 3, 1)
    assert (removed.action, removed.stickers, removed.left) == ("removed", {1: 1, 3: 1}, 1)


def test_sticker_toggle_several_per_option_then_removes_all() -> None:
    change = sticker_toggle({}, 7, max_stickers=5, per_option=3)
    change = sticker_toggle(change.stickers, 7, 5, 3)
    change = sticker_toggle(change.stickers, 7, 5, 3)
    assert (change.action, change.stickers, change.left) == ("added", {7: 3}, 2)
    change = sticker_toggle(change.stickers, 7, 5, 3)  # at the per-option limit: remove all
    assert (change.action, change.stickers, change.left) == ("removed", {}, 5)
    # below the per-option limit but no stickers left: the tap removes
    change = sticker_toggle({7: 1, 8: 1}, 7, max_stickers=2, per_option=3)
    assert (change.action, change.stickers, change.left) == ("removed", {8: 1}, 1)


def test_sticker_toggle_does_not_mutate_and_handles_lowered_limits() -> None:
    current = {1: 1, 2: 1, 3: 1, 4: 0}
    change = sticker_toggle(current, 5, max_stickers=2, per_option=1)  # limit lowered to 2
    assert change.action == "refused_no_stickers_left" and change.left == 0
    assert current == {1: 1, 2: 1, 3: 1, 4: 0}
    assert change.stickers == {1: 1, 2: 1, 3: 1}
    change = sticker_toggle(current, 1, max_stickers=2, per_option=1)
    assert change.action == "removed" and change.left == 0 and change.stickers == {2: 1, 3: 1}


@pytest.mark.parametrize(
    ("current", "max_stickers", "per_option"), [({}, -1, 1), ({}, 3, 0), ({1: -1}, 3, 1)]
)
def test_sticker_toggle_rejects_bad_input(
    current: dict[int, int], max_stickers: int, per_option: int
) -> None:
    with pytest.raises(ValueError):
        sticker_toggle(current, 1, max_stickers, per_option)


@given(
    st.integers(0, 5),
    st.integers(1, 3),
    st.lists(st.integers(1, 7), max_size=40),
)
def test_sticker_limits_hold_for_any_sequence_of_taps(
    max_stickers: int, per_option: int, taps: list[int]
) -> None:
    ballot: dict[int, int] = {}
    for option in taps:
        before = dict(ballot)
        used_before = sum(before.values())
        change = sticker_toggle(ballot, option, max_stickers, per_option)
        ballot = change.stickers
        assert sum(ballot.values()) <= max_stickers
        assert all(0 < count <= per_option for count in ballot.values())
        assert change.left == max_stickers - sum(ballot.values())
        on_option = before.get(option, 0)
        if on_option < per_option and used_before < max_stickers:
            assert change.action == "added"
            assert ballot == {**before, option: on_option + 1}
        elif on_option > 0:
            assert change.action == "removed"
            assert ballot == {k: v for k, v in before.items() if k != option}
        else:
            assert change.action == "refused_no_stickers_left"
            assert ballot == before


# ---------------------------------------------------------------- stickers: tally


def test_sticker_tally_counts_online_and_paper_and_ignores_hidden() -> None:
    ballots = {10: {1: 1, 2: 1, 3: 1}, 11: {2: 1, 99: 1}, 12: {3: 1, 2: 1}}
    rows = sticker_tally(ballots, options=[1, 2, 3, 4, 5], paper={1: 2, 4: 1, 98: 5})
    assert rows == [
        OptionTally(option=1, online=1, paper=2, total=3, rank=1),
        OptionTally(option=2, online=3, paper=0, total=3, rank=1),
        OptionTally(option=3, online=2, paper=0, total=2, rank=3),
        OptionTally(option=4, online=0, paper=1, total=1, rank=4),
        OptionTally(option=5, online=0, paper=0, total=0, rank=5),
    ]


def test_sticker_tally_ties_sorted_by_option_id() -> None:
    rows = sticker_tally({1: {5: 1, 3: 1}}, options=[5, 3, 9])
    assert [(r.option, r.total, r.rank) for r in rows] == [(3, 1, 1), (5, 1, 1), (9, 0, 3)]
    with pytest.raises(ValueError):
        sticker_tally({1: {5: -1}}, options=[5])
    with pytest.raises(ValueError):
        sticker_tally({}, options=[5], paper={5: -2})


@given(options_and_sticker_ballots(), st.randoms(use_true_random=False))
def test_sticker_tally_ignores_ballot_order(
    data: tuple[list[int], dict[int, dict[int, int]]], rng: random.Random
) -> None:
    options, ballots = data
    shuffled_options = options[:]
    rng.shuffle(shuffled_options)
    assert sticker_tally(permuted(ballots, rng), shuffled_options) == sticker_tally(
        ballots, options
    )


@given(
    option_lists,
    st.lists(
        st.tuples(
            st.integers(1, 6),
            st.dictionaries(st.integers(1, 40), st.integers(0, 2), max_size=4),
        ),
        max_size=20,
    ),
)
def test_changed_sticker_ballot_replaces_the_old_one(
    options: list[int], events: list[tuple[int, dict[int, int]]]
) -> None:
    rows = {row.option: row for row in sticker_tally(replay(events), options)}
    final = latest(events)
    for option in options:
        assert rows[option].online == sum(ballot.get(option, 0) for ballot in final.values())
        assert rows[option].total == rows[option].online


@given(
    st.integers(1, 4),
    st.integers(1, 2),
    st.dictionaries(st.integers(1, 20), st.lists(st.integers(1, 6), max_size=15), max_size=6),
)
def test_tally_of_toggled_ballots_respects_limits(
    max_stickers: int, per_option: int, taps: dict[int, list[int]]
) -> None:
    ballots: dict[int, dict[int, int]] = {}
    for voter, sequence in taps.items():
        ballot: dict[int, int] = {}
        for option in sequence:
            ballot = sticker_toggle(ballot, option, max_stickers, per_option).stickers
        ballots[voter] = ballot
    rows = sticker_tally(ballots, options=range(1, 7))
    assert all(row.total <= per_option * len(ballots) for row in rows)
    assert sum(row.total for row in rows) <= max_stickers * len(ballots)
    assert [row.total for row in rows] == sorted((row.total for row in rows), reverse=True)


# ---------------------------------------------------------------- priority matrix


def test_matrix_cell_table_is_the_handbook_grid() -> None:
    grid = [[matrix_cell(a, b) for b in (1, 2, 3)] for a in (1, 2, 3)]
    assert grid == [[1, 2, 3], [2, 3, 4], [3, 4, 5]]


@pytest.mark.parametrize(("a", "b"), [(0, 1), (1, 4), (4, 4), (-1, 2), (True, 2), (2.0, 2)])
def test_matrix_cell_rejects_scores_outside_1_to_3(a: object, b: object) -> None:
    with pytest.raises(ValueError):
        matrix_cell(a, b)  # type: ignore[arg-type]


def test_matrix_result_concrete_numbers() -> None:
    scores = {
        1: {10: (3, 3), 20: (1, 2), 99: (3, 3)},  # 99 is hidden: ignored
        2: {10: (2, 3), 30: (1, 1)},
        3: {10: (3, 2), 20: (2, 1)},
        4: {20: (2, 2)},
    }
    points = matrix_result(scores, options=[10, 20, 30, 40])
    assert [p.option for p in points] == [10, 20, 30, 40]
    top, mid, low, none = points
    assert top == MatrixPoint(10, 8 / 3, 8 / 3, 13 / 3, 3, 3, 3, 1)
    assert top.cell == 5
    # means 5/3 and 5/3 -> cells 2, 2; mean score (2 + 2 + 3) / 3
    assert mid == MatrixPoint(20, 5 / 3, 5 / 3, 7 / 3, 2, 2, 3, 2)
    assert low == MatrixPoint(30, 1.0, 1.0, 1.0, 1, 1, 1, 3)
    assert none == MatrixPoint(40, 0.0, 0.0, 0.0, 0, 0, 0, 4)
    assert none.cell == 0


def test_matrix_result_rounds_half_up_and_ties_share_rank() -> None:
    scores = {1: {1: (2, 1), 2: (1, 3)}, 2: {1: (3, 2), 2: (2, 2)}}
    first, second = matrix_result(scores, options=[2, 1])
    # option 1: a = 2.5 -> 3, b = 1.5 -> 2 ; option 2: a = 1.5 -> 2, b = 2.5 -> 3
    assert (first.option, first.cell_a, first.cell_b, first.mean_score, first.rank) == (
        1, 3, 2, 3.0, 1,
    )
    assert (second.option, second.cell_a, second.cell_b, second.mean_score, second.rank) == (
        2, 2, 3, 3.0, 1,
    )
    with pytest.raises(ValueError):
        matrix_result({1: {1: (0, 2)}}, options=[1])


matrix_ballots = st.dictionaries(
    st.integers(1, 30),
    st.dictionaries(st.integers(1, 8), st.tuples(st.integers(1, 3), st.integers(1, 3)), max_size=8),
    max_size=8,
)


@given(matrix_ballots, st.randoms(use_true_random=False))
def test_matrix_result_ignores_ballot_order(
    scores: dict[int, dict[int, tuple[int, int]]], rng: random.Random
) -> None:
    options = list(range(1, 7))
    assert matrix_result(permuted(scores, rng), options) == matrix_result(scores, options)


@given(
    st.lists(
        st.tuples(
            st.integers(1, 5),
            st.dictionaries(
                st.integers(1, 6), st.tuples(st.integers(1, 3), st.integers(1, 3)), max_size=6
            ),
        ),
        max_size=15,
    )
)
def test_changed_matrix_ballot_replaces_the_old_one(
    events: list[tuple[int, dict[int, tuple[int, int]]]]
) -> None:
    points = {p.option: p for p in matrix_result(replay(events), options=range(1, 7))}
    final = latest(events)
    for option in range(1, 7):
        given_scores = [ballot[option] for ballot in final.values() if option in ballot]
        point = points[option]
        assert point.n == len(given_scores)
        if given_scores:
            assert point.mean_a == pytest.approx(sum(a for a, _ in given_scores) / point.n)
            assert point.mean_b == pytest.approx(sum(b for _, b in given_scores) / point.n)
            expected = sum(matrix_cell(a, b) for a, b in given_scores) / point.n
            assert point.mean_score == pytest.approx(expected)
            assert abs(point.cell_a - point.mean_a) <= 0.5
            assert abs(point.cell_b - point.mean_b) <= 0.5
        else:
            assert (point.mean_score, point.cell_a, point.cell_b) == (0.0, 0, 0)


@given(matrix_ballots)
def test_matrix_ranks_are_competition_ranks_with_unscored_last(
    scores: dict[int, dict[int, tuple[int, int]]]
) -> None:
    points = matrix_result(scores, options=range(1, 9))
    scored = [p for p in points if p.n]
    assert points[: len(scored)] == scored  # unscored at the end
    for p in scored:
        assert p.rank == 1 + sum(1 for q in scored if q.mean_score > p.mean_score)
    for p in points[len(scored):]:
        assert p.rank == len(scored) + 1
    keys = [(-p.mean_score, p.option) for p in scored]
    assert keys == sorted(keys)


# ---------------------------------------------------------------- pairwise: pairs


def test_all_pairs() -> None:
    assert all_pairs([3, 1, 2, 3]) == [(1, 2), (1, 3), (2, 3)]
    assert all_pairs([5]) == []
    assert len(all_pairs(range(30))) == 435


def normalise(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(min(a, b), max(a, b)) for a, b in pairs]


@given(st.lists(option_ids, min_size=0, max_size=8, unique=True), st.integers(0, 2**32))
def test_pairs_for_member_up_to_limit_is_every_pair_once(options: list[int], seed: int) -> None:
    pairs = pairs_for_member(options, random.Random(seed))
    assert sorted(normalise(pairs)) == all_pairs(options)
    assert pairs == pairs_for_member(list(reversed(options)), random.Random(seed))


def test_pairs_for_member_shuffles_order_and_sides() -> None:
    pairs = pairs_for_member(range(8), random.Random(7))
    assert pairs != all_pairs(range(8))
    assert any(a > b for a, b in pairs) and any(a < b for a, b in pairs)
    assert pairs_for_member(range(8), random.Random(8)) != pairs


@given(
    st.lists(st.integers(0, 500), min_size=9, max_size=45, unique=True),
    st.integers(0, 2**32),
)
def test_pairs_for_member_beyond_limit_is_a_balanced_sample(options: list[int], seed: int) -> None:
    n = len(options)
    pairs = pairs_for_member(options, random.Random(seed))
    keys = normalise(pairs)
    assert all(a != b and a in options and b in options for a, b in pairs)
    assert len(set(keys)) == len(keys) >= 2 * n
    appearances = Counter(option for pair in pairs for option in pair)
    average = 2 * len(pairs) / n
    assert set(appearances) == set(options)
    assert all(math.floor(average) <= c <= math.ceil(average) for c in appearances.values())
    assert pairs == pairs_for_member(options, random.Random(seed))  # deterministic


def test_pairs_for_member_respects_complete_limit_and_rounds() -> None:
    pairs = pairs_for_member(range(6), random.Random(1), complete_limit=4)
    assert len(pairs) == 12 and len(set(normalise(pairs))) == 12
    pairs = pairs_for_member(range(20), random.Random(1), rounds=3)
    assert len(set(normalise(pairs))) == 60
    assert set(Counter(o for p in pairs for o in p).values()) == {6}
    many = pairs_for_member(range(9), random.Random(1), rounds=10)  # capped at (9 - 1) // 2
    assert len(set(normalise(many))) == 36


def test_pairs_for_member_samples_cover_every_pair_across_members() -> None:
    rng = random.Random(42)
    seen = Counter(p for _ in range(400) for p in normalise(pairs_for_member(range(12), rng)))
    assert set(seen) == set(all_pairs(range(12)))
    expected = 400 * 24 / 66
    assert all(0.6 * expected < count < 1.4 * expected for count in seen.values())


# ---------------------------------------------------------------- pairwise: result


def test_pairwise_result_complete_uses_win_counts() -> None:
    answers = {
        1: {(1, 2): 1, (1, 3): 1, (2, 3): 3},
        2: {(1, 2): 2, (3, 1): 1, (2, 3): 3},  # (3, 1) is the same pair as (1, 3)
    }
    result = pairwise_result(answers, [1, 2, 3])
    assert result.complete and result.method == "wins" and result.voters == 2
    assert result.wins == {(1, 2): 1, (2, 1): 1, (1, 3): 2, (3, 1): 0, (2, 3): 0, (3, 2): 2}
    assert result.win_counts == {1: 3, 2: 1, 3: 2}
    assert result.scores == {1: 3.0, 2: 1.0, 3: 2.0}
    assert result.ranking == [(1, 3.0, 1), (3, 2.0, 2), (2, 1.0, 3)]


def test_pairwise_result_ignores_invalid_answers() -> None:
    answers = {
        1: {(1, 2): 1, (1, 3): 1, (2, 3): 2, (2, 9): 9, (1, 1): 1, (1, 4): 7},
        2: {(5, 6): 5},  # only unknown options: not a voter
    }
    result = pairwise_result(answers, [1, 2, 3])
    assert result.complete and result.voters == 1
    assert result.win_counts == {1: 2, 2: 1, 3: 0}


def test_pairwise_result_incomplete_uses_bradley_terry() -> None:
    answers = {1: {(1, 2): 1, (1, 3): 1, (2, 3): 2}, 2: {(1, 2): 2, (1, 3): 1}}
    result = pairwise_result(answers, [1, 2, 3])
    assert not result.complete and result.method == "bradley_terry"
    assert result.win_counts == {1: 3, 2: 2, 3: 0}
    assert math.isclose(sum(result.scores.values()), 1.0)
    assert result.scores == bradley_terry(result.wins, [1, 2, 3])
    assert [option for option, _, _ in result.ranking] == [1, 2, 3]
    assert [rank for _, _, rank in result.ranking] == [1, 2, 3]


def test_pairwise_result_equal_records_tie_under_bradley_terry() -> None:
    # 1 and 2 split their pair and each beat 3 once: same record, same strength
    answers = {1: {(1, 2): 1, (1, 3): 1, (2, 3): 2}, 2: {(1, 2): 2}}
    result = pairwise_result(answers, [1, 2, 3])
    assert result.method == "bradley_terry"
    assert result.scores[1] == pytest.approx(result.scores[2], rel=1e-12)
    assert [(option, rank) for option, _, rank in result.ranking] == [(1, 1), (2, 1), (3, 3)]


def test_pairwise_result_both_orientations_in_one_ballot_count_once() -> None:
    answers = {1: {(2, 1): 2, (1, 2): 1, (1, 3): 3, (2, 3): 3}}
    result = pairwise_result(answers, [1, 2, 3])
    assert result.complete and result.wins[(1, 2)] == 1 and result.wins[(2, 1)] == 0
    assert result.win_counts == {1: 1, 2: 0, 3: 2}


@given(st.integers(1, 7), st.integers(1, 5), st.randoms(use_true_random=False))
def test_identical_records_tie_under_bradley_terry(
    others: int, voters: int, rng: random.Random
) -> None:
    """Options 1 and 2 are twins (same answers against everyone, split between themselves):
    their fitted strengths may differ in the last bits, their ranks must not."""
    rest = list(range(3, 3 + others))
    answers: dict[int, dict[tuple[int, int], int]] = {}
    for voter in range(voters):
        ballot = {(a, b): rng.choice((a, b)) for a, b in all_pairs(rest) if rng.random() < 0.6}
        for j in rest:
            if rng.random() < 0.6:
                twins_win = rng.random() < 0.5
                ballot[(1, j)] = 1 if twins_win else j
                ballot[(2, j)] = 2 if twins_win else j
        answers[voter] = ballot
    answers[voters], answers[voters + 1] = {(1, 2): 1}, {(1, 2): 2}
    result = pairwise_result(answers, [1, 2, *rest])
    assert result.method == "bradley_terry"
    assert result.scores[1] == pytest.approx(result.scores[2], rel=1e-12)
    ranks = {option: rank for option, _, rank in result.ranking}
    assert ranks[1] == ranks[2]


def test_pairwise_result_without_answers() -> None:
    result = pairwise_result({}, [4, 5, 6])
    assert result.complete and result.voters == 0 and result.method == "wins"
    assert result.ranking == [(4, 0.0, 1), (5, 0.0, 1), (6, 0.0, 1)]


@st.composite
def pairwise_ballots(
    draw: st.DrawFn, complete: bool | None = None
) -> tuple[list[int], dict[int, dict[tuple[int, int], int]]]:
    options = draw(st.lists(option_ids, min_size=2, max_size=6, unique=True))
    pairs = all_pairs(options)
    voters = draw(st.lists(st.integers(1, 99), min_size=1, max_size=5, unique=True))
    answers: dict[int, dict[tuple[int, int], int]] = {}
    for voter in voters:
        chosen = pairs if complete else draw(st.lists(st.sampled_from(pairs), unique=True))
        answers[voter] = {}
        for a, b in chosen:
            key = (a, b) if draw(st.booleans()) else (b, a)
            answers[voter][key] = draw(st.sampled_from((a, b)))
    return options, answers


@given(pairwise_ballots(), st.randoms(use_true_random=False))
def test_pairwise_result_ignores_ballot_order(
    data: tuple[list[int], dict[int, dict[tuple[int, int], int]]], rng: random.Random
) -> None:
    options, answers = data
    shuffled = options[:]
    rng.shuffle(shuffled)
    assert pairwise_result(permuted(answers, rng), shuffled) == pairwise_result(answers, options)


@given(
    st.lists(
        st.tuples(
            st.integers(1, 4),
            st.dictionaries(
                st.sampled_from(all_pairs(range(1, 5))), st.sampled_from(["low", "high"])
            ),
        ),
        max_size=15,
    )
)
def test_changed_pairwise_ballot_replaces_the_old_one(
    events: list[tuple[int, dict[tuple[int, int], str]]]
) -> None:
    events_ids = [
        (voter, {pair: pair[0] if side == "low" else pair[1] for pair, side in ballot.items()})
        for voter, ballot in events
    ]
    result = pairwise_result(replay(events_ids), range(1, 5))
    final = [ballot for ballot in latest(events_ids).values() if ballot]
    expected = Counter()
    for ballot in final:
        for (a, b), winner in ballot.items():
            expected[(winner, b if winner == a else a)] += 1
    assert result.wins == {pair: expected[pair] for pair in result.wins}
    assert result.voters == len(final)
    assert result.complete == all(len(ballot) == 6 for ballot in final)


@given(pairwise_ballots(complete=True), st.data())
def test_problem_preferred_in_every_pair_ranks_first(
    data: tuple[list[int], dict[int, dict[tuple[int, int], int]]], draw: st.DataObject
) -> None:
    options, answers = data
    best = draw.draw(st.sampled_from(options))
    for ballot in answers.values():
        for pair in ballot:
            if best in pair:
                ballot[pair] = best
    result = pairwise_result(answers, options)
    assert result.complete and result.method == "wins"
    assert result.ranking[0][:1] == (best,) and result.ranking[0][2] == 1
    assert all(rank > 1 for option, _, rank in result.ranking if option != best)
    strengths = bradley_terry(result.wins, options)
    assert all(strengths[best] > s for option, s in strengths.items() if option != best)


@given(
    st.lists(option_ids, min_size=2, max_size=12, unique=True),
    st.integers(1, 5),
    st.randoms(use_true_random=False),
    st.data(),
)
def test_problem_preferred_in_every_pair_ranks_first_on_sampled_pairs(
    options: list[int], voters: int, rng: random.Random, draw: st.DataObject
) -> None:
    """Bradley–Terry with the default prior: an option that won every comparison it was in
    beats every option it met (here it met them all, the rest of the data is arbitrary)."""
    best = draw.draw(st.sampled_from(options))
    answers: dict[int, dict[tuple[int, int], int]] = {}
    for voter in range(voters):
        pairs = pairs_for_member(options, rng) if draw.draw(st.booleans()) else [
            pair for pair in all_pairs(options) if rng.random() < 0.4
        ]
        answers[voter] = {
            (a, b): best if best in (a, b) else rng.choice((a, b)) for a, b in pairs
        }
    answers[voters] = {pair: best for pair in all_pairs(options) if best in pair}
    result = pairwise_result(answers, options)
    assert result.ranking[0][0] == best and result.ranking[0][2] == 1
    assert all(rank > 1 for option, _, rank in result.ranking if option != best)
    strengths = bradley_terry(result.wins, options)
    assert all(strengths[best] > s for option, s in strengths.items() if option != best)


@given(
    st.lists(st.integers(0, 50), min_size=2, max_size=7, unique=True),
    st.integers(1, 6),
    st.randoms(use_true_random=False),
)
def test_bradley_terry_agrees_with_wins_on_complete_transitive_data(
    options: list[int], voters: int, rng: random.Random
) -> None:
    answers = {}
    for voter in range(voters):
        order = options[:]
        rng.shuffle(order)  # this member's own consistent preference order
        place = {option: k for k, option in enumerate(order)}
        answers[voter] = {(a, b): a if place[a] < place[b] else b for a, b in all_pairs(options)}
    result = pairwise_result(answers, options)
    strengths = bradley_terry(result.wins, options)
    assert competition_ranks(result.scores) == competition_ranks(
        strengths, tolerance=pairwise.BT_TIE_TOLERANCE
    )


@given(pairwise_ballots(complete=True))
def test_bradley_terry_agrees_with_wins_on_any_complete_data(
    data: tuple[list[int], dict[int, dict[tuple[int, int], int]]]
) -> None:
    """With every pair compared equally often the fit orders exactly like the win counts."""
    options, answers = data
    result = pairwise_result(answers, options)
    strengths = bradley_terry(result.wins, options)
    for i, j in itertools.permutations(options, 2):
        if result.win_counts[i] > result.win_counts[j]:
            assert strengths[i] > strengths[j] + pairwise.BT_TIE_TOLERANCE
        elif result.win_counts[i] == result.win_counts[j]:
            assert math.isclose(strengths[i], strengths[j], rel_tol=1e-9)


# ---------------------------------------------------------------- Bradley–Terry fit


def test_bradley_terry_two_options_plain_fit() -> None:
    strengths = bradley_terry({(1, 2): 2, (2, 1): 1}, [1, 2], prior=0)
    assert strengths[1] == pytest.approx(2 / 3, abs=1e-12)
    assert strengths[2] == pytest.approx(1 / 3, abs=1e-12)


def test_bradley_terry_small_example() -> None:
    # A beats B 3-1, B beats C 3-1, A beats C 3-1. By symmetry s_A/s_B = s_B/s_C = r, and
    # A's likelihood equation (6 wins = 4 s_A/(s_A+s_B) + 4 s_A/(s_A+s_C)) becomes
    # 4r/(1+r) + 4r^2/(1+r^2) = 6, whose root is r = 2.13040 (bisection by hand).
    wins = {(1, 2): 3, (2, 1): 1, (2, 3): 3, (3, 2): 1, (1, 3): 3, (3, 1): 1}
    s = bradley_terry(wins, [1, 2, 3], prior=0)
    assert sum(s.values()) == pytest.approx(1.0)
    assert s[1] > s[2] > s[3]
    # symmetric data: A/B ratio equals B/C ratio
    assert s[1] / s[2] == pytest.approx(s[2] / s[3], rel=1e-9)
    # the likelihood equation of A: 6 wins = 4 s_A/(s_A+s_B) + 4 s_A/(s_A+s_C)
    assert 4 * s[1] / (s[1] + s[2]) + 4 * s[1] / (s[1] + s[3]) == pytest.approx(6.0)
    assert s[1] / s[2] == pytest.approx(2.13040, abs=1e-5)
    assert s[1] == pytest.approx(2.13040**2 / (1 + 2.13040 + 2.13040**2), abs=1e-5)


def test_bradley_terry_cycle_is_a_tie() -> None:
    wins = {(1, 2): 2, (2, 3): 2, (3, 1): 2, (2, 1): 1, (3, 2): 1, (1, 3): 1}
    for prior in (0.0, 0.5):
        s = bradley_terry(wins, [1, 2, 3], prior=prior)
        assert all(v == pytest.approx(1 / 3, abs=1e-12) for v in s.values())


def test_bradley_terry_is_robust_to_missing_data() -> None:
    assert bradley_terry({}, []) == {}
    assert bradley_terry({}, [1, 2, 3]) == {1: 1 / 3, 2: 1 / 3, 3: 1 / 3}
    assert bradley_terry({}, [7]) == {7: 1.0}
    s = bradley_terry({(1, 2): 3, (9, 1): 4}, [1, 2, 3, 4])  # 3 and 4 never compared
    assert s[1] > s[3] > s[2] > 0
    assert s[3] == s[4]
    assert sum(s.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        bradley_terry({(1, 2): 3}, [1, 2], prior=0)  # 2 never wins: no plain fit
    with pytest.raises(ValueError):
        bradley_terry({(1, 2): -1}, [1, 2])
    with pytest.raises(ValueError):
        bradley_terry({}, [1, 2], prior=-1)


@st.composite
def connected_wins(draw: st.DrawFn) -> tuple[list[int], dict[tuple[int, int], int]]:
    """Win counts in which every option beats and is beaten along a cycle (plain fit exists)."""
    options = draw(st.lists(option_ids, min_size=2, max_size=6, unique=True))
    wins: dict[tuple[int, int], int] = {}
    for k, option in enumerate(options):
        wins[(option, options[(k + 1) % len(options)])] = draw(st.integers(1, 4))
    for i, j in itertools.permutations(options, 2):
        wins[(i, j)] = wins.get((i, j), 0) + draw(st.integers(0, 3))
    return options, wins


@given(connected_wins())
def test_bradley_terry_plain_fit_solves_the_likelihood_equations(
    data: tuple[list[int], dict[tuple[int, int], int]]
) -> None:
    options, wins = data
    s = bradley_terry(wins, options, prior=0)
    for i in options:
        won = sum(wins.get((i, j), 0) for j in options if j != i)
        expected = sum(
            (wins.get((i, j), 0) + wins.get((j, i), 0)) * s[i] / (s[i] + s[j])
            for j in options
            if j != i
        )
        assert expected == pytest.approx(won, rel=1e-8, abs=1e-8)


def reference_mm(
    wins: dict[tuple[int, int], int], options: list[int], prior: float
) -> dict[int, float]:
    """Slow textbook MM (Hunter 2004) for the same model, with the reference fixed at 1."""
    s = {i: 1.0 for i in options}
    for _ in range(200_000):
        new = {}
        for i in options:
            won = sum(wins.get((i, j), 0) for j in options if j != i) + prior
            denominator = 2 * prior / (s[i] + 1) + sum(
                (wins.get((i, j), 0) + wins.get((j, i), 0)) / (s[i] + s[j])
                for j in options
                if j != i
            )
            new[i] = won / denominator
        done = max(abs(math.log(new[i] / s[i])) for i in options) < 1e-13
        s = new
        if done:
            break
    total = sum(s.values())
    return {i: v / total for i, v in s.items()}


@settings(max_examples=40)
@given(
    st.lists(option_ids, min_size=2, max_size=5, unique=True).flatmap(
        lambda options: st.tuples(
            st.just(options),
            st.dictionaries(
                st.tuples(st.sampled_from(options), st.sampled_from(options)).filter(
                    lambda p: p[0] != p[1]
                ),
                st.integers(0, 3),
                max_size=12,
            ),
        )
    )
)
def test_bradley_terry_matches_textbook_mm(
    data: tuple[list[int], dict[tuple[int, int], int]]
) -> None:
    options, wins = data
    assert bradley_terry(wins, options) == pytest.approx(
        reference_mm(wins, options, 0.5), rel=1e-6, abs=1e-9
    )


@settings(max_examples=60)
@given(connected_wins(), st.lists(st.floats(-3, 3), min_size=6, max_size=6))
def test_bradley_terry_mm_fallback_step_ascends_and_fixes_the_fit(
    data: tuple[list[int], dict[tuple[int, int], int]], start: list[float]
) -> None:
    """The MM step taken when a Newton step fails never lowers the likelihood and leaves
    the fitted point where it is."""
    options, wins = data
    index = {option: k for k, option in enumerate(sorted(options))}
    won = [0.0] * len(options)
    games: list[dict[int, float]] = [{} for _ in options]
    for (i, j), count in wins.items():
        if count:
            won[index[i]] += count
            games[index[i]][index[j]] = games[index[i]].get(index[j], 0) + count
            games[index[j]][index[i]] = games[index[j]].get(index[i], 0) + count
    data_ = pairwise._Comparisons(won, [sorted(g.items()) for g in games], 0.5)
    theta = start[: len(options)]
    assert data_.log_likelihood(data_.mm_step(theta)) >= data_.log_likelihood(theta) - 1e-9
    fitted = pairwise._maximise(data_, [0.0] * len(options), 100, 1e-12)
    assert data_.mm_step(fitted) == pytest.approx(fitted, abs=1e-8)


def test_bradley_terry_converges_for_30_options_with_a_runaway_favourite() -> None:
    rng = random.Random(5)
    options = list(range(100, 130))
    true = {o: rng.uniform(0.2, 5) for o in options}
    true[100] = 1e9  # preferred in every pair
    answers = {}
    for voter in range(200):
        pairs = pairs_for_member(options, rng)
        answers[voter] = {
            (a, b): a if rng.random() < true[a] / (true[a] + true[b]) else b for a, b in pairs
        }
    result = pairwise_result(answers, options)  # about 0.04 s on a laptop
    assert result.method == "bradley_terry" and not result.complete
    assert result.ranking[0][0] == 100 and result.ranking[1][2] == 2
    # the fit converged within the default iterations: more change nothing
    again = bradley_terry(result.wins, options, iterations=50, tol=0.0)
    assert again == pytest.approx(result.scores, rel=1e-9)


# ---------------------------------------------------------------- combined ranking


def test_combined_ranking_concrete() -> None:
    rows = combined_ranking(
        {
            "stickers": {1: 1, 2: 2, 3: 2, 4: 4},
            "matrix": {1: 2, 2: 1, 3: 3},  # 4 was not on the matrix ballot: no rank there
            "pairwise": {2: 1, 1: 2, 3: 3, 4: 4},
        }
    )
    assert rows == [
        CombinedRow(2, {"stickers": 2, "matrix": 1, "pairwise": 1}, 4 / 3, 1),
        CombinedRow(1, {"stickers": 1, "matrix": 2, "pairwise": 2}, 5 / 3, 2),
        CombinedRow(3, {"stickers": 2, "matrix": 3, "pairwise": 3}, 8 / 3, 3),
        CombinedRow(4, {"stickers": 4, "pairwise": 4}, 4.0, 4),
    ]


def test_combined_ranking_ties_and_missing_options() -> None:
    rows = combined_ranking({"a": {1: 1, 2: 2}, "b": {2: 1, 1: 2, 3: 1}})
    # a did not include option 3: it is ranked by b alone, and never given a rank from a
    assert [(r.option, r.ranks, r.mean_rank, r.rank) for r in rows] == [
        (3, {"b": 1}, 1.0, 1),
        (1, {"a": 1, "b": 2}, 1.5, 2),
        (2, {"a": 2, "b": 1}, 1.5, 2),
    ]
    assert combined_ranking({}) == []
    assert [r.rank for r in combined_ranking({"a": {}, "b": {5: 1}})] == [1]


def test_combined_ranking_equal_means_list_the_problem_more_methods_ranked_first() -> None:
    rows = combined_ranking({"a": {1: 2, 2: 1}, "b": {1: 2, 3: 1}, "c": {1: 2}})
    assert [(r.option, r.rank) for r in rows] == [(2, 1), (3, 1), (1, 3)]
    rows = combined_ranking({"a": {7: 1, 8: 1}, "b": {8: 1}})
    assert [(r.option, r.rank, len(r.ranks)) for r in rows] == [(8, 1, 2), (7, 1, 1)]


method_ranks = st.dictionaries(
    st.sampled_from(["stickers", "matrix", "pairwise"]),
    st.dictionaries(st.integers(1, 8), st.integers(1, 8), max_size=8),
    min_size=1,
)


@given(method_ranks)
def test_combined_ranking_is_competition_ranking_of_mean_rank(
    data: dict[str, dict[int, int]]
) -> None:
    rows = combined_ranking(data)
    options = set().union(*data.values())
    assert {row.option for row in rows} == options
    for row in rows:
        # only the methods that included the option rank it, in the input order
        assert list(row.ranks) == [method for method in data if row.option in data[method]]
        for method, ranks in data.items():
            assert row.ranks.get(method) == ranks.get(row.option)
        assert row.mean_rank == pytest.approx(sum(row.ranks.values()) / len(row.ranks))
        better = sum(1 for other in rows if other.mean_rank < row.mean_rank - 1e-12)
        assert row.rank == 1 + better
    assert [r.rank for r in rows] == sorted(r.rank for r in rows)


@given(method_ranks, st.integers(9, 12))
def test_option_first_in_every_method_is_first_combined(
    data: dict[str, dict[int, int]], best: int
) -> None:
    for ranks in data.values():
        for option in ranks:
            ranks[option] = max(2, ranks[option])
        ranks[best] = 1
    rows = combined_ranking(data)
    assert rows[0].option == best and rows[0].rank == 1
    assert all(row.rank > 1 for row in rows[1:])
