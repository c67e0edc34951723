-- The job queue as released in 0.2.0, before the 0.2.0 deltas: what the
-- 0.1.0 deltas build, in one script. An empty database starts here.
CREATE TYPE job_status AS ENUM ('todo', 'doing', 'succeeded', 'failed');

CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    queue_name text NOT NULL,
    task_name text NOT NULL,
    args jsonb NOT NULL DEFAULT '{}',
    status job_status NOT NULL DEFAULT 'todo',
    scheduled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION fetch_job(target_queue text) RETURNS jobs
LANGUAGE plpgsql AS $$
DECLARE
    found jobs;
BEGIN
    SELECT * INTO found FROM jobs
    WHERE queue_name = target_queue AND status = 'todo'
      AND (scheduled_at IS NULL OR scheduled_at <= now())
    ORDER BY id
    LIMIT 1
    FOR UPDATE SKIP LOCKED;

    IF found.id IS NOT NULL THEN
        UPDATE jobs SET status = 'doing' WHERE id = found.id RETURNING * INTO found;
    END IF;
    RETURN found;
END;
$$;
