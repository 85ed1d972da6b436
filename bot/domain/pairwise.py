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


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _log1pexp(x: float) -> float:
    """log(1 + e^x) without overflow."""
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


@dataclass(frozen=True)
class _Comparisons:
    """Bradley–Terry data by option index: wins, symmetric game counts, prior weight."""

    won: list[float]
    games: list[list[tuple[int, float]]]
    prior: float

    def log_likelihood(self, theta: list[float]) -> float:
        total = sum((w + self.prior) * t for w, t in zip(self.won, theta))
        for a, row in enumerate(self.games):
            for b, n_ab in row:
                if b > a:
                    total -= n_ab * (theta[a] + _log1pexp(theta[b] - theta[a]))
        return total - 2.0 * self.prior * sum(_log1pexp(t) for t in theta)

    def newton_direction(self, theta: list[float]) -> list[float] | None:
        """Solve (−Hessian) d = gradient; with no prior the last option is held fixed."""
        size = len(theta)
        grad = [0.0] * size
        info = [[0.0] * size for _ in range(size)]
        for a in range(size):
            p_ref = _sigmoid(theta[a])
            grad[a] = self.won[a] + self.prior - 2.0 * self.prior * p_ref
            info[a][a] = 2.0 * self.prior * p_ref * (1.0 - p_ref)
            for b, n_ab in self.games[a]:
                p = _sigmoid(theta[a] - theta[b])
                grad[a] -= n_ab * p
                info[a][a] += n_ab * p * (1.0 - p)
                info[a][b] -= n_ab * p * (1.0 - p)
        free = size if self.prior > 0 else size - 1
        solution = _solve([row[:free] for row in info[:free]], grad[:free])
        if solution is None:
            return None
        return solution + [0.0] * (size - free)

    def mm_step(self, theta: list[float]) -> list[float]:
        """One MM update (Hunter 2004) of the log-strengths; never lowers the likelihood."""
        strength = [math.exp(t) for t in theta]
        new = []
        for a, s_a in enumerate(strength):
            denominator = sum(n_ab / (s_a + strength[b]) for b, n_ab in self.games[a])
            denominator += 2.0 * self.prior / (s_a + 1.0)
            new.append(math.log((self.won[a] + self.prior) / denominator) if denominator else 0.0)
        if self.prior == 0:  # no reference fixes the scale: keep the last option at 0
            new = [t - new[-1] for t in new]
        return new


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float] | None:
    """Gaussian elimination with partial pivoting; None if (numerically) singular."""
    size = len(rhs)
    rows = [row[:] + [value] for row, value in zip(matrix, rhs)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(rows[r][col]))
        if abs(rows[pivot][col]) < 1e-300:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        head = rows[col]
        for r in range(col + 1, size):
            factor = rows[r][col] / head[col]
            if factor:
                row = rows[r]
                for c in range(col, size + 1):
                    row[c] -= factor * head[c]
    solution = [0.0] * size
    for r in range(size - 1, -1, -1):
        row = rows[r]
        acc = row[size] - sum(row[c] * solution[c] for c in range(r + 1, size))
        solution[r] = acc / row[r]
    return solution


def bradley_terry(
    wins: Mapping[Pair, int | float],
    options: Iterable[int],
    iterations: int = 100,
    tol: float = 1e-10,
    prior: float = 0.5,
) -> dict[int, float]:
    """Bradley–Terry strengths from `wins[(i, j)]` = times i beat j, normalised to sum to 1.

    Model: P(i preferred to j) = s_i / (s_i + s_j); the result is the (penalised) maximum
    likelihood fit.

    Prior: every option is also compared with a virtual reference option of fixed strength,
    winning `prior` and losing `prior` times (default 0.5 each: one pseudo-comparison per
    option). It keeps the fit finite for options with no wins or no losses, gives
    never-compared options the reference (average) strength, and keeps the order equal to the
    win-count order whenever all pairs were compared equally often; an option that won every
    comparison it was in comes out stronger than every option it met at least 2 * `prior`
    times (once, by default). `prior` = 0 gives the plain
    fit, which exists only when every option beats, directly or through others, every other
    one (ValueError otherwise).

    Fit: Newton's method on log-strengths with step halving, so every step raises the
    likelihood; where a Newton step cannot, an MM step (Hunter 2004) is taken instead. Plain MM
    converges to the same point but can need 10^4–10^5 iterations on lopsided data; this
    takes a few dozen at most for 30 options. Stops when no log-strength moves more than `tol`,
    or after `iterations` steps.
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
    data = _Comparisons(won, [sorted(g.items()) for g in games], float(prior))
    theta = [0.0] * size
    if size > 1:
        theta = _maximise(data, theta, iterations, tol)
    top = max(theta)
    strength = [math.exp(t - top) for t in theta]
    total = math.fsum(strength)
    return {option: strength[index[option]] / total for option in opts}


def _maximise(data: _Comparisons, theta: list[float], iterations: int, tol: float) -> list[float]:
    """Newton ascent with step halving, MM as the fallback step."""
    current = data.log_likelihood(theta)
    for _ in range(iterations):
        slack = 1e-12 * (1.0 + abs(current))
        direction = data.newton_direction(theta)
        accepted = None
        if direction is not None:
            step = 1.0
            for _halving in range(30):
                candidate = [t + step * d for t, d in zip(theta, direction)]
                value = data.log_likelihood(candidate)
                if value >= current - slack:
                    accepted = candidate, value, step * max(map(abs, direction))
                    break
                step /= 2.0
        if accepted is None:
            candidate = data.mm_step(theta)
            moved = max(abs(c - t) for c, t in zip(candidate, theta))
            accepted = candidate, data.log_likelihood(candidate), moved
        theta, current, moved = accepted
        if moved <= tol:
            break
    return theta
