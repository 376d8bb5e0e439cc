-- Tracing reads only index pages. A case's stays come from the primary key
-- and the others at each venue from checkins_by_venue; both now carry the
-- columns the query returns (INCLUDE), so PostgreSQL answers with
-- index-only scans instead of one random heap page per row: at 100M
-- check-ins with a cold cache that was ~1,700 page reads a case
-- (BENCHMARKS.md). A check-out (left_ns) now updates the indexes too: once
-- per stay at most. SQLite needs no change: its check-ins table is the
-- primary key's own B-tree.
ALTER TABLE checkins DROP CONSTRAINT checkins_pkey,
    ADD CONSTRAINT checkins_pkey PRIMARY KEY (person, arrived_ns, venue_id, dependent) INCLUDE (left_ns);
DROP INDEX checkins_by_venue;
CREATE INDEX checkins_by_venue ON checkins (venue_id, arrived_ns) INCLUDE (left_ns, person, dependent);
