"""Step 3: the problem tree's nodes — causes and consequences, each on the problem or under
another node of its kind — and the ҚМҰТ's merges and removals."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Tx


@dataclass(frozen=True)
class Node:
    id: int
    community_id: int
    number: int
    kind: str          # cause or effect
    parent_id: int | None
    text: str
    status: str        # open, merged, removed
    created_by: int | None


def _node(row) -> Node:
    return Node(row["id"], row["community_id"], row["number"], row["kind"], row["parent_id"], row["text"],
                row["status"], row["created_by"])


async def add(tx: Tx, community_id: int, problem_id: int, kind: str, parent_id: int | None, text: str, norm: str,
              author: int, now: str) -> Node:
    number = await tx.scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM tree_nodes WHERE community_id = ?",
                             (community_id,))
    node_id = await tx.insert(
        "INSERT INTO tree_nodes (community_id, problem_id, number, kind, parent_id, text, norm, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (community_id, problem_id, number, kind, parent_id, text, norm, author,
                                                now))
    return Node(node_id, community_id, number, kind, parent_id, text, "open", author)


async def of_problem(tx: Tx, problem_id: int) -> list[Node]:
    """The open nodes of the problem's tree, by number."""
    rows = await tx.all("SELECT * FROM tree_nodes WHERE problem_id = ? AND status = 'open' ORDER BY number",
                        (problem_id,))
    return [_node(r) for r in rows]


async def by_number(tx: Tx, problem_id: int, number: int) -> Node | None:
    row = await tx.one("SELECT * FROM tree_nodes WHERE problem_id = ? AND number = ?", (problem_id, number))
    return None if row is None else _node(row)


async def same_text(tx: Tx, problem_id: int, kind: str, norm: str) -> Node | None:
    """A node of the tree with this text, open or not (the ҚМҰТ's merges and removals hold)."""
    row = await tx.one("SELECT * FROM tree_nodes WHERE problem_id = ? AND kind = ? AND norm = ?"
                       " ORDER BY status = 'open' DESC LIMIT 1", (problem_id, kind, norm))
    return None if row is None else _node(row)


async def count_recent(tx: Tx, member_id: int, since: str) -> int:
    return int(await tx.scalar("SELECT COUNT(*) FROM tree_nodes WHERE created_by = ? AND created_at >= ?",
                               (member_id, since)))


async def merge(tx: Tx, source: Node, target: Node) -> None:
    """``source`` becomes ``target``: its children hang under ``target`` (the caller has made sure
    ``target`` is not among them)."""
    await tx.execute("UPDATE tree_nodes SET parent_id = ? WHERE parent_id = ? AND status = 'open'",
                     (target.id, source.id))
    await tx.execute("UPDATE tree_nodes SET status = 'merged', merged_into = ? WHERE id = ?", (target.id, source.id))


async def remove(tx: Tx, node: Node) -> None:
    """Take ``node`` off the tree; its children hang where it hung."""
    await tx.execute("UPDATE tree_nodes SET parent_id = ? WHERE parent_id = ? AND status = 'open'",
                     (node.parent_id, node.id))
    await tx.execute("UPDATE tree_nodes SET status = 'removed' WHERE id = ?", (node.id,))
