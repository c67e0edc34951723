-- post: document the columns the 0.3 code relies on.
COMMENT ON COLUMN jobs.scheduled_at IS 'when NULL, the job runs as soon as a worker is free';
COMMENT ON COLUMN jobs.priority IS 'higher runs first';
