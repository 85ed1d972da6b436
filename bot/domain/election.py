"""Step 2: the ҚМҰТ election — approval ballots, a seat reserved for every category, ties.

Pure rule: standard library only, no I/O.

The rule, stated once for a strict tie-break order π of the candidates (a device of this
docstring only; the code never breaks a tie):

1. Coverage. Every category with a candidate ranks its candidates by votes (then π); its
   first candidate is its "top". If there are at least as many seats as such categories, each
   reserves one seat for its top. Otherwise the categories are ranked by their top's votes
   (then π of the top) and the first `seats` of them reserve a seat; the rest are uncovered.
2. Votes. The seats left go to the other candidates, by votes (then π).

The result does not pick a π: `elected` is everyone elected under *some* π, and `ties` say
exactly which groups the votes leave undecided. A candidate is elected under every π unless
they are in a tie. Resolving the ties in list order — each tie's `seats` go to that many of
its candidates not already seated by an earlier tie (for a tie between categories: that many
of its categories, one listed candidate each) — gives exactly the groups some π elects, each
of min(seats, number of candidates) members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["CATEGORIES", "DEFAULT_SEATS", "ElectionResult", "Tie", "election_result"]

# Activist/leader, vulnerable group, local authority, business, NGO, media (METHODOLOGY step 2).
CATEGORIES = ("activist", "vulnerable", "authority", "business", "ngo", "media")

DEFAULT_SEATS = 7


@dataclass(frozen=True)
class Tie:
    """A group of candidates the votes do not separate, with `seats` seats among them.

    Its candidates all have the same votes, and more of them than `seats`.

    - `category` set: the category's reserved seat; its candidates share the category's most
      votes, and `seats` is 1.
    - `category` None, `categories` empty: seats filled by votes; the candidates share the
      votes at the last of those seats. A category's tied top candidates can be listed both
      in their category's tie and here (whoever does not get the category seat still
      contends for a seat by votes).
    - `category` None, `categories` set: more categories than seats, and these categories'
      tops share the votes at the last reserved seat; `seats` of these categories get a
      seat, one each, for one of its listed (top) candidates.
    """

    candidates: tuple[int, ...]
    seats: int
    category: str | None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class ElectionResult:
    """Outcome of an election (see the module docstring for the rule).

    - `votes`: every candidate -> approvals (0 included);
    - `order`: every candidate, most votes first, then ascending id (display order only);
    - `elected`: everyone elected under some tie-break — the certainly elected and every tied
      candidate — in `order` order; more than `seats` only through ties;
    - `by_category`: elected candidates holding or contending for their category's reserved
      seat (each with their category's most votes) -> that category; other elected members
      are seated by votes;
    - `ties`: in resolving order: category ties (CATEGORIES order), then a tie between
      categories, then the tie for the seats filled by votes;
    - `covered`, `contested`, `uncovered`, `absent`: a partition of CATEGORIES (each in
      CATEGORIES order): seated whichever way the ties go; seated or not depending on the
      tie between categories; with a candidate but no seat; with no candidate at all (to be
      named before the facilitator confirms). `contested` and `uncovered` are empty unless
      more categories have candidates than there are seats;
    - `voters`: ballots with at least one approval.
    """

    seats: int
    votes: dict[int, int]
    order: list[int]
    elected: list[int]
    by_category: dict[int, str]
    ties: list[Tie]
    covered: list[str]
    contested: list[str]
    uncovered: list[str]
    absent: list[str]
    voters: int


def _count(
    ballots: Mapping[int, Iterable[int]], candidates: Mapping[int, str], seats: int
) -> tuple[dict[int, int], int]:
    votes = dict.fromkeys(candidates, 0)
    voters = 0
    for voter, approved in ballots.items():
        chosen = set(approved)
        unknown = chosen - votes.keys()
        if unknown:
            raise ValueError(f"voter {voter} approved unknown candidates {sorted(unknown)}")
        if len(chosen) > seats:
            raise ValueError(f"voter {voter} approved {len(chosen)} candidates, seats = {seats}")
        voters += bool(chosen)
        for candidate in chosen:
            votes[candidate] += 1
    return votes, voters


def election_result(
    ballots: Mapping[int, Iterable[int]], candidates: Mapping[int, str], seats: int
) -> ElectionResult:
    """Elect `seats` members from `candidates` (candidate -> category) by approval.

    `ballots`: voter -> the candidates they approved (a candidate listed twice counts once).
    ValueError: `seats` < 1, a category not in CATEGORIES, an approval of a candidate not in
    `candidates`, or a ballot approving more than `seats` candidates. No candidates: nobody
    elected, every category absent. Nobody voted: the rule is the same — every candidate has
    0 votes, so each category's candidates tie for its seat and the rest tie for the seats left.
    """
    if seats < 1:
        raise ValueError("seats must be >= 1")
    for candidate, category in candidates.items():
        if category not in CATEGORIES:
            raise ValueError(f"candidate {candidate}: unknown category {category!r}")
    votes, voters = _count(ballots, candidates, seats)
    order = sorted(votes, key=lambda c: (-votes[c], c))
    members = {cat: [c for c in order if candidates[c] == cat] for cat in CATEGORIES}
    present = [cat for cat in CATEGORIES if members[cat]]
    best = {cat: votes[members[cat][0]] for cat in present}
    tops = {cat: [c for c in members[cat] if votes[c] == best[cat]] for cat in present}

    # 1. Coverage: which categories reserve a seat.
    seated: list[str] = list(present)
    contested: list[str] = []
    uncovered: list[str] = []
    if len(present) > seats:
        last = sorted(best.values(), reverse=True)[seats - 1]
        above = [cat for cat in present if best[cat] > last]
        at = [cat for cat in present if best[cat] == last]
        uncovered = [cat for cat in present if best[cat] < last]
        if len(at) > seats - len(above):
            seated, contested = above, at
        else:
            seated = above + at
            seated.sort(key=CATEGORIES.index)
    left = 0 if contested else seats - len(seated)

    # 2. Votes: everyone but one top per seated category competes for the seats left. `pool`
    # leaves out all tops of seated categories; `pool_votes` counts the tops not given the
    # category seat (whichever they are, they have the category's most votes).
    pool = [c for c in order if not (candidates[c] in seated and votes[c] == best[candidates[c]])]
    pool_votes = [votes[c] for c in pool]
    for cat in seated:
        pool_votes += [best[cat]] * (len(tops[cat]) - 1)
    pool_votes.sort(reverse=True)
    vote_tie = False
    threshold: int | None
    if left == 0:
        threshold = None  # nobody is seated by votes
    elif len(pool_votes) <= left:
        threshold = -1  # everyone left is seated
    else:
        threshold = pool_votes[left - 1]
        vote_tie = pool_votes[left] == threshold

    def by_votes(v: int) -> bool:
        return threshold is not None and v >= threshold

    elected: set[int] = set()
    by_category: dict[int, str] = {}
    ties: list[Tie] = []
    at_threshold: list[int] = []
    for cat in seated:
        if len(tops[cat]) > 1:
            # No tie if the tops not given the category seat are all seated by votes anyway.
            at_vote_tie = vote_tie and best[cat] == threshold
            if at_vote_tie or not by_votes(best[cat]):
                ties.append(Tie(tuple(sorted(tops[cat])), 1, cat))
            if at_vote_tie:
                at_threshold += tops[cat]
        elected.update(tops[cat])
        by_category.update(dict.fromkeys(tops[cat], cat))
    if contested:
        contenders = [c for cat in contested for c in tops[cat]]
        open_seats = seats - len(seated)
        ties.append(Tie(tuple(sorted(contenders)), open_seats, None, tuple(contested)))
        elected.update(contenders)
        by_category.update({c: candidates[c] for c in contenders})
    for c in pool:
        if by_votes(votes[c]):
            elected.add(c)
            if vote_tie and votes[c] == threshold:
                at_threshold.append(c)
    if vote_tie:
        above_threshold = sum(1 for v in pool_votes if v > threshold)
        ties.append(Tie(tuple(sorted(at_threshold)), left - above_threshold, None))

    covered = [cat for cat in CATEGORIES if cat in seated]
    return ElectionResult(
        seats=seats,
        votes=votes,
        order=order,
        elected=[c for c in order if c in elected],
        by_category=by_category,
        ties=ties,
        covered=covered,
        contested=contested,
        uncovered=uncovered,
        absent=[cat for cat in CATEGORIES if cat not in present],
        voters=voters,
    )
