-- The retention purge of check-in and oversight data (docs/lifecycle.md):
-- sealed check-ins and revealed hour secrets go by hour slot, approval
-- requests by the time they were decided. Same indexes as the SQLite
-- edition; sealed check-ins arrive in hour order, so a BRIN index serves
-- the purge for a few kilobytes, as for open check-ins.
CREATE INDEX sealed_checkins_by_hour ON sealed_checkins USING brin (hour);
CREATE INDEX hour_reveals_by_hour ON hour_reveals (hour);
CREATE INDEX approval_requests_by_decided ON approval_requests (decided_ns);

-- As for the health-code tables (20261122150000_lifecycle.sql): columns
-- holding names, identity numbers or a person's own words keep no sample
-- values in pg_statistic, where deleting the rows would not reach them.
-- Lookups on them are by unique keys or by person and need none.
ALTER TABLE dependents ALTER COLUMN identity_number SET STATISTICS 0;
ALTER TABLE dependents ALTER COLUMN full_name SET STATISTICS 0;
ALTER TABLE dependents ALTER COLUMN identity SET STATISTICS 0;
ALTER TABLE approval_requests ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE approval_requests ALTER COLUMN reason SET STATISTICS 0;
ALTER TABLE approval_requests ALTER COLUMN outcome SET STATISTICS 0;
ALTER TABLE correction_requests ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE correction_requests ALTER COLUMN answer SET STATISTICS 0;
ALTER TABLE access_log ALTER COLUMN purpose SET STATISTICS 0;
