-- ladle: no-transaction
-- Built without blocking writers. CONCURRENTLY cannot run in a transaction,
-- hence the marker on the first line. If this is interrupted it can leave an
-- invalid index behind, so drop one first: the delta is safe to run again.
DROP INDEX CONCURRENTLY IF EXISTS jobs_queue_status_idx;
CREATE INDEX CONCURRENTLY jobs_queue_status_idx ON jobs (queue_name, status);
