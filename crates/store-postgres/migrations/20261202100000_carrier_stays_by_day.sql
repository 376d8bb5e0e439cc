-- The retention purge's index on carrier stays, by the day a stay ended
-- (the same expression as SQLite's; the purge names it:
-- healthcode_store::itinerary::STAYS_ENDED_BEFORE). It replaces a BRIN
-- index on last_seen, which only narrows the purge when rows lie in the
-- table in time order; rows stored in any other order (a backfill, an SQL
-- filler, a carrier's late file) made every purge read the whole table —
-- 100M rows, minutes, every ten minutes. A B-tree over about twenty
-- distinct days stores each day once with its rows' addresses (PostgreSQL
-- 13+ deduplication): small, and cheap to insert into.
DROP INDEX carrier_stays_by_last_seen;
CREATE INDEX carrier_stays_by_last_day ON carrier_stays ((last_seen / 86400000000000));
