-- Step 3: the problem tree (мәселе ағашы): causes (roots) and consequences (branches) of the
-- chosen problem; each hangs on the problem or under another node of its kind.

CREATE TABLE tree_nodes (
    id           INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    problem_id   INTEGER NOT NULL REFERENCES problems(id),  -- the tree of this chosen problem
    number       INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('cause', 'effect')),
    parent_id    INTEGER REFERENCES tree_nodes(id),
    text         TEXT NOT NULL,
    norm         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'merged', 'removed')),
    merged_into  INTEGER REFERENCES tree_nodes(id),
    created_by   INTEGER REFERENCES members(id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (community_id, number),
    CHECK (parent_id IS NOT id)
);
CREATE INDEX tree_nodes_problem ON tree_nodes(problem_id, kind, status);
CREATE INDEX tree_nodes_author ON tree_nodes(created_by, created_at);

-- A node hangs only under an open node of its own kind on the same tree; the kind, the tree and
-- the number never change; a node merged or removed stays so, and only once nothing hangs under it.
CREATE TRIGGER tree_nodes_parent_insert BEFORE INSERT ON tree_nodes WHEN NEW.parent_id IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a node hangs under an open node of its kind')
     WHERE NOT EXISTS (SELECT 1 FROM tree_nodes p WHERE p.id = NEW.parent_id AND p.problem_id = NEW.problem_id
                         AND p.kind = NEW.kind AND p.status = 'open');
END;
CREATE TRIGGER tree_nodes_parent_update BEFORE UPDATE OF parent_id ON tree_nodes WHEN NEW.parent_id IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a node hangs under an open node of its kind')
     WHERE NOT EXISTS (SELECT 1 FROM tree_nodes p WHERE p.id = NEW.parent_id AND p.problem_id = NEW.problem_id
                         AND p.kind = NEW.kind AND p.status = 'open' AND p.id <> NEW.id);
END;
CREATE TRIGGER tree_nodes_fixed BEFORE UPDATE OF community_id, problem_id, kind, number ON tree_nodes
BEGIN
    SELECT RAISE(ABORT, 'a node keeps its kind, number and community');
END;
CREATE TRIGGER tree_nodes_stay_gone BEFORE UPDATE OF status ON tree_nodes WHEN OLD.status <> 'open'
BEGIN
    SELECT RAISE(ABORT, 'a merged or removed node stays so');
END;
CREATE TRIGGER tree_nodes_leave_no_orphan BEFORE UPDATE OF status ON tree_nodes WHEN NEW.status <> 'open'
BEGIN
    SELECT RAISE(ABORT, 'move what hangs under a node before taking it off')
     WHERE EXISTS (SELECT 1 FROM tree_nodes c WHERE c.parent_id = OLD.id AND c.status = 'open');
END;
