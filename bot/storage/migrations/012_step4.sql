-- Step 4: the resource map (ресурстар картасы) and the institutional diagram (институционалдық
-- диаграмма): what the community has, and the organisations and people that matter, each
-- estimated by members for importance and closeness.

CREATE TABLE resources (
    id           INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('people', 'materials', 'money', 'premises', 'organisations')),
    text         TEXT NOT NULL,
    holder       TEXT NOT NULL DEFAULT '',
    place        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'removed')),
    created_by   INTEGER REFERENCES members(id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (community_id, number)
);
CREATE INDEX resources_author ON resources(created_by, created_at);

CREATE TABLE orgs (
    id           INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    name         TEXT NOT NULL,
    norm         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'removed')),
    created_by   INTEGER REFERENCES members(id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (community_id, number)
);
CREATE INDEX orgs_author ON orgs(created_by, created_at);

-- Each member's own estimate of an organisation; the diagram draws the means.
CREATE TABLE org_ratings (
    org_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    importance INTEGER NOT NULL CHECK (importance BETWEEN 1 AND 3),
    closeness  INTEGER NOT NULL CHECK (closeness BETWEEN 1 AND 3),
    PRIMARY KEY (org_id, member_id)
);

CREATE TRIGGER resources_fixed BEFORE UPDATE OF community_id, number, kind ON resources
BEGIN
    SELECT RAISE(ABORT, 'a resource keeps its kind, number and community');
END;
CREATE TRIGGER resources_stay_removed BEFORE UPDATE OF status ON resources WHEN OLD.status = 'removed'
BEGIN
    SELECT RAISE(ABORT, 'a removed resource stays so');
END;
CREATE TRIGGER orgs_fixed BEFORE UPDATE OF community_id, number ON orgs
BEGIN
    SELECT RAISE(ABORT, 'an organisation keeps its number and community');
END;
CREATE TRIGGER orgs_stay_removed BEFORE UPDATE OF status ON orgs WHEN OLD.status = 'removed'
BEGIN
    SELECT RAISE(ABORT, 'a removed organisation stays so');
END;
-- Only an organisation still on the diagram is estimated, and only by a member of its community.
CREATE TRIGGER org_ratings_guard BEFORE INSERT ON org_ratings
BEGIN
    SELECT RAISE(ABORT, 'the organisation is not on the diagram')
     WHERE (SELECT status FROM orgs WHERE id = NEW.org_id) IS NOT 'open';
    SELECT RAISE(ABORT, 'only members of the community estimate')
     WHERE NOT EXISTS (SELECT 1 FROM memberships ms JOIN orgs o ON o.community_id = ms.community_id
                       WHERE o.id = NEW.org_id AND ms.member_id = NEW.member_id);
END;
CREATE TRIGGER org_ratings_guard_update BEFORE UPDATE ON org_ratings
BEGIN
    SELECT RAISE(ABORT, 'the organisation is not on the diagram')
     WHERE (SELECT status FROM orgs WHERE id = NEW.org_id) IS NOT 'open' OR NEW.org_id <> OLD.org_id
        OR NEW.member_id <> OLD.member_id;
END;
