"""Step 2 rule: the ҚМҰТ election (category coverage, approval votes, reported ties)."""

from __future__ import annotations

import ast
import random
import sys
from collections.abc import Mapping
from itertools import combinations, permutations, product
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import election
from bot.domain.election import CATEGORIES, ElectionResult, Tie, election_result

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Ballots = dict[int, list[int]]
Candidates = dict[int, str]

# ---------------------------------------------------------------- strategies


@st.composite
def elections(draw: st.DrawFn, max_candidates: int = 9) -> tuple[Ballots, Candidates, int]:
    """Few votes and few categories, so ties and shared categories are common."""
    seats = draw(st.integers(1, 7))
    ids = draw(st.lists(st.integers(1, 60), max_size=max_candidates, unique=True))
    kinds = draw(st.integers(1, len(CATEGORIES)))
    cats = draw(st.lists(st.sampled_from(CATEGORIES[:kinds]), min_size=len(ids), max_size=len(ids)))
    approvals = st.lists(st.sampled_from(ids), max_size=seats, unique=True) if ids else st.just([])
    ballots = draw(st.dictionaries(st.integers(1, 30), approvals, max_size=7))
    return ballots, dict(zip(ids, cats)), seats


def tied(result: ElectionResult) -> set[int]:
    return {c for tie in result.ties for c in tie.candidates}


def elected_under(
    order: tuple[int, ...], votes: Mapping[int, int], candidates: Candidates, seats: int
) -> frozenset[int]:
    """The rule with ties broken by `order` (the reference the result must agree with)."""
    rank = {c: k for k, c in enumerate(order)}

    def key(c: int) -> tuple[int, int]:
        return (-votes[c], rank[c])

    present = sorted({cat for cat in candidates.values()})
    top = {cat: min((c for c in candidates if candidates[c] == cat), key=key) for cat in present}
    reserved = sorted(present, key=lambda cat: key(top[cat]))[:seats]
    seated = {top[cat] for cat in reserved}
    rest = sorted((c for c in candidates if c not in seated), key=key)
    return frozenset(seated | set(rest[: seats - len(seated)]))


def groups_from_ties(result: ElectionResult, candidates: Candidates) -> set[frozenset[int]]:
    """Every group the ties allow, resolving them in list order as the docstring says."""
    groups = {frozenset(set(result.elected) - tied(result))}
    for tie in result.ties:
        grown: set[frozenset[int]] = set()
        for base in groups:
            if tie.categories:
                for cats in combinations(tie.categories, tie.seats):
                    options = [[c for c in tie.candidates if candidates[c] == cat] for cat in cats]
                    grown.update(base | set(picks) for picks in product(*options))
            else:
                free = [c for c in tie.candidates if c not in base]
                grown.update(base | set(picks) for picks in combinations(free, tie.seats))
        groups = grown
    return groups


# ---------------------------------------------------------------- module hygiene


def test_election_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(election.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or name.startswith("bot.domain"), name


# ---------------------------------------------------------------- worked examples


def test_plain_election_seats_each_category_top_then_by_votes() -> None:
    candidates = {1: "activist", 2: "activist", 3: "business", 4: "business", 5: "media"}
    ballots = {10: [1, 2, 3], 11: [1, 2, 3], 12: [1, 2, 5], 13: [1, 2], 14: [1, 4, 3]}
    result = election_result(ballots, candidates, seats=4)
    assert result.votes == {1: 5, 2: 4, 3: 3, 4: 1, 5: 1}
    assert result.order == [1, 2, 3, 4, 5]
    assert result.elected == [1, 2, 3, 5]
    assert result.by_category == {1: "activist", 3: "business", 5: "media"}
    assert result.ties == []
    assert result.covered == ["activist", "business", "media"]
    assert result.contested == result.uncovered == []
    assert result.absent == ["vulnerable", "authority", "ngo"]
    assert (result.seats, result.voters) == (4, 5)


def test_a_category_with_one_weak_candidate_still_gets_a_seat() -> None:
    candidates = {1: "activist", 2: "activist", 3: "activist", 4: "media"}
    ballots = {10: [1, 2], 11: [1, 2], 12: [1, 2], 13: [1, 2], 14: [1, 3], 15: [1, 3], 16: [4]}
    result = election_result(ballots, candidates, seats=2)
    assert result.votes == {1: 6, 2: 4, 3: 2, 4: 1}
    assert result.elected == [1, 4]  # 2 has four votes, 4 one: the media seat goes first
    assert result.by_category == {1: "activist", 4: "media"}
    assert result.ties == [] and result.covered == ["activist", "media"]


def test_a_category_tie_is_reported_and_both_are_elected() -> None:
    candidates = {1: "activist", 2: "activist", 3: "business", 4: "business"}
    ballots = {10: [1, 3], 11: [2, 3], 12: [1, 2], 13: [3, 4]}
    result = election_result(ballots, candidates, seats=2)
    assert result.votes == {1: 2, 2: 2, 3: 3, 4: 1}
    assert result.elected == [3, 1, 2]  # three members for two seats, by the tie only
    assert result.ties == [Tie((1, 2), 1, "activist")]
    assert result.by_category == {1: "activist", 2: "activist", 3: "business"}
    # One more seat: the tied one not given the activist seat takes it by votes — no tie.
    result = election_result(ballots, candidates, seats=3)
    assert result.elected == [3, 1, 2] and result.ties == []


def test_a_tie_at_the_last_seat() -> None:
    candidates = {1: "activist", 2: "activist", 3: "activist", 4: "media", 5: "media"}
    ballots = {10: [1, 2, 4], 11: [1, 3], 12: [1, 2], 13: [1, 3]}
    result = election_result(ballots, candidates, seats=3)
    assert result.votes == {1: 4, 2: 2, 3: 2, 4: 1, 5: 0}
    assert result.elected == [1, 2, 3, 4]
    assert result.by_category == {1: "activist", 4: "media"}
    assert result.ties == [Tie((2, 3), 1, None)]


def test_tied_category_tops_at_the_last_seat_appear_in_both_ties() -> None:
    candidates = {1: "activist", 2: "activist", 3: "media", 4: "ngo", 5: "business", 6: "media"}
    ballots = {10: [1, 3, 4], 11: [2, 3], 12: [4], 13: [5], 14: [6]}
    result = election_result(ballots, candidates, seats=5)
    # Four category seats (one of 1, 2 for activist), then one seat by votes, contended at one
    # vote by 6 and whichever of 1, 2 did not get the activist seat.
    assert result.votes == {1: 1, 2: 1, 3: 2, 4: 2, 5: 1, 6: 1}
    assert result.elected == [3, 4, 1, 2, 5, 6]
    assert result.ties == [Tie((1, 2), 1, "activist"), Tie((1, 2, 6), 1, None)]
    assert groups_from_ties(result, candidates) == {
        frozenset({3, 4, 5, 1, 2}),
        frozenset({3, 4, 5, 1, 6}),
        frozenset({3, 4, 5, 2, 6}),
    }


def test_fewer_candidates_than_seats_elects_everyone() -> None:
    candidates = {5: "ngo", 6: "ngo", 7: "media"}
    result = election_result({1: [5], 2: [5, 6]}, candidates, seats=7)
    assert result.elected == [5, 6, 7] and result.ties == []
    assert result.by_category == {5: "ngo", 7: "media"}
    assert result.covered == ["ngo", "media"]
    assert result.absent == ["activist", "vulnerable", "authority", "business"]


def test_more_categories_than_seats() -> None:
    candidates = {1: "activist", 2: "media", 3: "ngo", 4: "business", 5: "activist"}
    ballots = {10: [1, 2], 11: [1, 3], 12: [1, 2], 13: [3, 5]}
    result = election_result(ballots, candidates, seats=2)
    assert result.votes == {1: 3, 2: 2, 3: 2, 4: 0, 5: 1}
    # activist is seated; media and ngo tie (2 votes) for the one seat left; business is out.
    assert result.elected == [1, 2, 3]
    assert result.ties == [Tie((2, 3), 1, None, ("ngo", "media"))]
    assert result.by_category == {1: "activist", 2: "media", 3: "ngo"}
    assert result.covered == ["activist"]
    assert result.contested == ["ngo", "media"]
    assert result.uncovered == ["business"]
    assert result.absent == ["vulnerable", "authority"]
    ballots[14] = [3]
    result = election_result(ballots, candidates, seats=2)
    assert result.elected == [1, 3] and result.ties == []
    assert result.covered == ["activist", "ngo"] and result.contested == []
    assert result.uncovered == ["business", "media"]


def test_nobody_voted_every_category_ties_within_itself_and_for_the_rest() -> None:
    candidates = {1: "activist", 2: "activist", 3: "media", 4: "ngo", 5: "ngo", 6: "ngo"}
    result = election_result({8: [], 9: []}, candidates, seats=4)
    assert result.voters == 0 and set(result.votes.values()) == {0}
    assert result.elected == [1, 2, 3, 4, 5, 6]  # nobody is left out by zero votes
    assert result.ties == [
        Tie((1, 2), 1, "activist"),
        Tie((4, 5, 6), 1, "ngo"),
        Tie((1, 2, 4, 5, 6), 1, None),
    ]
    assert result.covered == ["activist", "ngo", "media"]
    # As many candidates as seats: all elected, no tie.
    result = election_result({}, {1: "activist", 2: "activist"}, seats=2)
    assert result.elected == [1, 2] and result.ties == [] and result.voters == 0
    # More categories than seats: the categories tie.
    result = election_result({}, {1: "activist", 2: "media", 3: "ngo"}, seats=2)
    assert result.ties == [Tie((1, 2, 3), 2, None, ("activist", "ngo", "media"))]
    assert result.covered == [] and result.contested == ["activist", "ngo", "media"]


def test_no_candidates_is_an_empty_result() -> None:
    result = election_result({1: [], 2: ()}, {}, seats=7)
    assert result == ElectionResult(7, {}, [], [], {}, [], [], [], [], list(CATEGORIES), 0)


def test_duplicate_approval_counts_once() -> None:
    result = election_result({1: [4, 4, 4]}, {4: "media"}, seats=1)
    assert result.votes == {4: 1}


@pytest.mark.parametrize(
    ("ballots", "candidates", "seats"),
    [
        ({}, {1: "activist"}, 0),
        ({}, {1: "women"}, 7),
        ({1: [2]}, {1: "activist"}, 7),
        ({1: [1, 2, 3]}, {1: "activist", 2: "media", 3: "ngo"}, 2),
    ],
)
def test_bad_input_raises(ballots: Ballots, candidates: Candidates, seats: int) -> None:
    with pytest.raises(ValueError):
        election_result(ballots, candidates, seats)


# ---------------------------------------------------------------- properties


@FAST
@given(elections(max_candidates=6))
def test_ties_describe_exactly_the_groups_some_tie_break_elects(
    data: tuple[Ballots, Candidates, int],
) -> None:
    ballots, candidates, seats = data
    result = election_result(ballots, candidates, seats)
    groups = {
        elected_under(order, result.votes, candidates, seats) for order in permutations(candidates)
    }
    assert set(result.elected) == set().union(*groups)
    assert groups_from_ties(result, candidates) == groups
    for tie in result.ties:
        assert len(tie.candidates) > tie.seats >= 1
        assert len({result.votes[c] for c in tie.candidates}) == 1
        assert list(tie.candidates) == sorted(set(tie.candidates))
    present = set(candidates.values())
    seated = [{candidates[c] for c in group} for group in groups]
    assert set(result.covered) == set.intersection(*seated)
    assert set(result.contested) == set().union(*seated) - set(result.covered)
    assert set(result.uncovered) == present - set().union(*seated)
    assert set(result.absent) == set(CATEGORIES) - present
    assert sorted(result.covered + result.contested + result.uncovered + result.absent) == sorted(
        CATEGORIES
    )
    for candidate, category in result.by_category.items():
        assert candidates[candidate] == category and candidate in result.elected
        assert result.votes[candidate] == max(
            result.votes[c] for c in candidates if candidates[c] == category
        )


@FAST
@given(elections(), st.randoms(use_true_random=False))
def test_the_order_of_ballots_does_not_matter(
    data: tuple[Ballots, Candidates, int], rng: random.Random
) -> None:
    ballots, candidates, seats = data
    items = [(voter, rng.sample(approved, len(approved))) for voter, approved in ballots.items()]
    rng.shuffle(items)
    listed = list(candidates.items())
    rng.shuffle(listed)
    assert election_result(dict(items), dict(listed), seats) == election_result(
        ballots, candidates, seats
    )


@FAST
@given(elections(), st.randoms(use_true_random=False))
def test_relabelling_candidates_maps_the_result(
    data: tuple[Ballots, Candidates, int], rng: random.Random
) -> None:
    ballots, candidates, seats = data
    ids = list(candidates)
    new = dict(zip(ids, rng.sample(ids, len(ids))))
    before = election_result(ballots, candidates, seats)
    after = election_result(
        {v: [new[c] for c in approved] for v, approved in ballots.items()},
        {new[c]: cat for c, cat in candidates.items()},
        seats,
    )
    assert after.votes == {new[c]: n for c, n in before.votes.items()}
    assert set(after.elected) == {new[c] for c in before.elected}
    assert after.by_category == {new[c]: cat for c, cat in before.by_category.items()}
    assert [(set(t.candidates), t.seats, t.category, t.categories) for t in after.ties] == [
        ({new[c] for c in t.candidates}, t.seats, t.category, t.categories) for t in before.ties
    ]
    assert (after.covered, after.contested, after.uncovered, after.absent, after.voters) == (
        before.covered,
        before.contested,
        before.uncovered,
        before.absent,
        before.voters,
    )


@FAST
@given(elections())
def test_every_category_is_covered_when_there_are_seats_enough(
    data: tuple[Ballots, Candidates, int],
) -> None:
    ballots, candidates, seats = data
    result = election_result(ballots, candidates, seats)
    present = [cat for cat in CATEGORIES if cat in candidates.values()]
    if seats >= len(present):
        assert result.covered == present
        assert result.contested == result.uncovered == []
    else:
        assert len(result.covered) + min(1, len(result.contested)) <= seats


@FAST
@given(elections())
def test_the_group_has_the_seats_and_grows_only_by_ties(
    data: tuple[Ballots, Candidates, int],
) -> None:
    ballots, candidates, seats = data
    result = election_result(ballots, candidates, seats)
    size = min(seats, len(candidates))
    assert tied(result) <= set(result.elected)
    assert len(set(result.elected) - tied(result)) + sum(t.seats for t in result.ties) == size
    if not result.ties:
        assert len(result.elected) == size
    assert result.elected == [c for c in result.order if c in set(result.elected)]
    assert result.order == sorted(candidates, key=lambda c: (-result.votes[c], c))


@FAST
@given(elections())
def test_no_one_left_out_has_more_votes_than_someone_seated_by_votes(
    data: tuple[Ballots, Candidates, int],
) -> None:
    ballots, candidates, seats = data
    result = election_result(ballots, candidates, seats)
    by_votes = [c for c in result.elected if c not in result.by_category]
    out = [c for c in candidates if c not in result.elected]
    if by_votes and out:
        assert max(result.votes[c] for c in out) <= min(result.votes[c] for c in by_votes)


@FAST
@given(elections())
def test_equal_candidates_of_one_category_are_never_split_silently(
    data: tuple[Ballots, Candidates, int],
) -> None:
    ballots, candidates, seats = data
    result = election_result(ballots, candidates, seats)
    elected = set(result.elected)
    for a, b in combinations(candidates, 2):
        if candidates[a] == candidates[b] and result.votes[a] == result.votes[b]:
            assert (a in elected) == (b in elected) or any(
                {a, b} <= set(t.candidates) for t in result.ties
            )


@FAST
@given(elections(), st.data())
def test_one_more_approval_keeps_an_elected_candidate_elected(
    data: tuple[Ballots, Candidates, int], draw: st.DataObject
) -> None:
    ballots, candidates, seats = data
    result = election_result(ballots, candidates, seats)
    if not result.elected:
        return
    favourite = draw.draw(st.sampled_from(result.elected))
    room = [v for v, got in ballots.items() if favourite not in got and len(got) < seats]
    voter = draw.draw(st.sampled_from(room + [999]))
    more = dict(ballots) | {voter: [*ballots.get(voter, []), favourite]}
    after = election_result(more, candidates, seats)
    assert after.votes[favourite] == result.votes[favourite] + 1
    assert favourite in after.elected
