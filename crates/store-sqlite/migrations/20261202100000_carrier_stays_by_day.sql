-- The retention purge's index on carrier stays, by the day a stay ended
-- instead of its exact end. Within one day the entries are in key order, so
-- a batch inserted in key order (the importer's) writes a few sequential
-- runs of this index instead of one random page per row: half the import's
-- time went to the exact-instant index. The purge names the same
-- expression (healthcode_store::itinerary::STAYS_ENDED_BEFORE).
DROP INDEX carrier_stays_by_last_seen;
CREATE INDEX carrier_stays_by_last_day ON carrier_stays (last_seen / 86400000000000);
