-- Closing times were stored with the community's offset ("…T18:00:00+05:00") and compared with
-- the UTC clock as text, so a ballot closed hours late. Store every one as a UTC instant.
UPDATE ballots SET closes_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', closes_at)
 WHERE closes_at IS NOT NULL AND closes_at NOT LIKE '%+00:00';
