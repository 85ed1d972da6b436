"""Pairwise ranking: which pairs a member answers, win counts, and the Bradley–Terry fit.

Pairs are keyed `(a, b)` with a < b; an answer is the id of the preferred option.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

from bot.domain.ranking import competition_ranks

__all__ = [
    "BT_TIE_TOLERANCE",
    "PairwiseResult",
    "all_pairs",
    "bradley_terry",
    "pairs_for_member",
    "pairwise_result",
]

Pair = tuple[int, int]

# Bradley–Terry strengths (summing to 1) closer than this are shown as tied.
BT_TIE_TOLERANCE = 1e-9


def _unique_sorted(options: Iterable[int]) -> list[int]:
    return sorted(set(options))


def all_pairs(options: Iterable[int]) -> list[Pair]:
    """Every unordered pair of distinct options, as (a, b) with a < b, in sorted order."""
    return list(combinations(_unique_sorted(options), 2))


def pairs_for_member(
    options: Iterable[int],
    rng: random.Random,
    complete_limit: int = 8,
    *,
    rounds: int = 2,
) -> list[Pair]:
    """The pairs one member is asked about, in the order to ask them.

    Up to `complete_limit` options: every pair. Beyond: a balanced sample of `rounds` * n
    distinct pairs (default 2n) — options are laid on a circle in a random order and each is
    paired with its neighbours 1..`rounds` steps away, so every option appears exactly
    2 * `rounds` times (`rounds` is capped at (n − 1) // 2 to keep pairs distinct). The pairs
    come shuffled and each pair's sides shuffled (the displayed order; results accept either
    order). Depends only on the set of options and the state of `rng`.
    """
    opts = _unique_sorted(options)
    n = len(opts)
    if n <= complete_limit:
        pairs = [(a, b) for a, b in combinations(opts, 2)]
    else:
        if rounds < 1:
            raise ValueError("rounds must be >= 1")
        circle = opts[:]
        rng.shuffle(circle)
        steps = range(1, min(rounds, (n - 1) // 2) + 1)
        pairs = [(circle[k], circle[(k + step) % n]) for step in steps for k in range(n)]
    rng.shuffle(pairs)
    return [(a, b) if rng.random() < 0.5 else (b, a) for a, b in pairs]


@dataclass(frozen=True)
class PairwiseResult:
    """Group result of a pairwise ranking.

    - `wins[(i, j)]`: times i was preferred to j, for every ordered pair of distinct options;
    - `win_counts[i]`: total times i was preferred;
    - `complete`: every member who answered answered every pair (vacuously true with no
      answers);
    - `method`: "wins" when complete, else "bradley_terry";
    - `scores`: win counts (complete) or Bradley–Terry strengths summing to 1 (sampled);
    - `ranking`: (option, score, competition rank), best first, ties by option id;
    - `voters`: members with at least one valid answer.
    """

    wins: dict[Pair, int]
    win_counts: dict[int, int]
    complete: bool
    method: Literal["wins", "bradley_terry"]
    scores: dict[int, float]
    ranking: list[tuple[int, float, int]]
    voters: int


def pairwise_result(
    answers: Mapping[int, Mapping[Pair, int]], options: Iterable[int]
) -> PairwiseResult:
    """Tally `answers[voter][(a, b)] = winner` over `options`.

    A key may be (a, b) or (b, a); if a ballot holds both, the one with a < b counts.
    Answers naming an option not in `options`, a pair of one option with itself, or a winner
    that is neither side are ignored.
    """
    opts = _unique_sorted(options)
    known = set(opts)
    wins: dict[Pair, int] = {(i, j): 0 for i in opts for j in opts if i != j}
    expected = set(combinations(opts, 2))
    complete = True
    voters = 0
    for ballot in answers.values():
        valid: dict[Pair, int] = {}
        for (a, b), winner in sorted(ballot.items(), key=lambda item: item[0][0] < item[0][1]):
            if a == b or a not in known or b not in known or winner not in (a, b):
                continue
            valid[(min(a, b), max(a, b))] = winner
        if not valid:
            continue
        voters += 1
        complete = complete and valid.keys() == expected
        for (a, b), winner in valid.items():
            loser = b if winner == a else a
            wins[(winner, loser)] += 1
    win_counts = {i: 0 for i in opts}
    for (i, _j), count in wins.items():
        win_counts[i] += count
    if complete:
        method: Literal["wins", "bradley_terry"] = "wins"
        scores = {i: float(count) for i, count in win_counts.items()}
        ranks = competition_ranks(scores)
    else:
        method = "bradley_terry"
        scores = bradley_terry(wins, opts)
        ranks = competition_ranks(scores, tolerance=BT_TIE_TOLERANCE)
    ranking = sorted(((i, scores[i], ranks[i]) for i in opts), key=lambda row: (row[2], row[0]))
    return PairwiseResult(wins, win_counts, complete, method, scores, ranking, voters)


def _strongly_connected(size: int, beats: list[set[int]]) -> bool:
    """Whether every option reaches every other along "beat" edges (and back)."""

    def reach(edges: list[set[int]]) -> int:
        seen = {0}
        stack = [0]
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return len(seen)

    beaten_by: list[set[int]] = [set() for _ in range(size)]
    for a, targets in enumerate(beats):
        for b in targets:
            beaten_by[b].add(a)
    return reach(beats) == size and reach(beaten_by) == size


def bradley_terry(
    wins: Mapping[Pair, int | float],
    options: Iterable[int],
    iterations: int = 10_000,
    tol: float = 1e-12,
    prior: float = 0.5,
) -> dict[int, float]:
    """Bradley–Terry strengths from `wins[(i, j)]` = times i beat j; they sum to 1.

    P(i preferred to j) = s_i / (s_i + s_j). Fitted with Hunter's (2004) MM algorithm
    (simultaneous updates). Prior: every option is also compared with a virtual reference
    option of fixed strength, winning `prior` and losing `prior` times (default 0.5 each, i.e.
    one pseudo-comparison per option). This keeps the fit finite for options with no wins or
    no losses, gives never-compared options the reference (average) strength, and keeps the
    ranking equal to the win-count ranking whenever all pairs are compared equally often.
    With `prior` = 0 this is the plain maximum-likelihood fit, which exists only when every
    option beats, directly or through others, every other one (ValueError otherwise).
    Stops when no log-strength changes by more than `tol` in an iteration.
    """
    if prior < 0:
        raise ValueError("prior must be >= 0")
    opts = _unique_sorted(options)
    size = len(opts)
    if size == 0:
        return {}
    index = {option: k for k, option in enumerate(opts)}
    won = [0.0] * size
    games: list[dict[int, float]] = [{} for _ in range(size)]
    beats: list[set[int]] = [set() for _ in range(size)]
    for (i, j), count in sorted(wins.items()):
        if count < 0:
            raise ValueError(f"negative win count for {(i, j)}")
        if i == j or i not in index or j not in index or count == 0:
            continue
        a, b = index[i], index[j]
        won[a] += count
        games[a][b] = games[a].get(b, 0.0) + count
        games[b][a] = games[b].get(a, 0.0) + count
        beats[a].add(b)
    if prior == 0 and size > 1 and not _strongly_connected(size, beats):
        raise ValueError("without a prior the comparisons must be strongly connected")
    pairs = [sorted(g.items()) for g in games]
    strength = [1.0] * size
    for _ in range(iterations):
        new = []
        for a in range(size):
            s_a = strength[a]
            denominator = sum(n_ab / (s_a + strength[b]) for b, n_ab in pairs[a])
            denominator += 2.0 * prior / (s_a + 1.0)
            new.append((won[a] + prior) / denominator if denominator else 1.0)
        if prior == 0:  # no reference to fix the scale: keep the geometric mean at 1
            shift = math.exp(-sum(math.log(s) for s in new) / size)
            new = [s * shift for s in new]
        change = max(abs(math.log(s_new / s_old)) for s_new, s_old in zip(new, strength))
        strength = new
        if change <= tol:
            break
    total = math.fsum(strength)
    return {option: strength[index[option]] / total for option in opts}
