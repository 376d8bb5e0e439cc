-- The retention purge of check-in and oversight data (docs/lifecycle.md):
-- sealed check-ins and revealed hour secrets go by hour slot, approval
-- requests by the time they were decided. Same indexes as the PostgreSQL
-- edition.
CREATE INDEX sealed_checkins_by_hour ON sealed_checkins (hour);
CREATE INDEX hour_reveals_by_hour ON hour_reveals (hour);
CREATE INDEX approval_requests_by_decided ON approval_requests (decided_ns);
