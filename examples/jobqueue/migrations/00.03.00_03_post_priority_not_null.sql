-- post: the 0.3 code sets a priority; now it can be required.
ALTER TABLE jobs
    ALTER COLUMN priority SET DEFAULT 0,
    ALTER COLUMN priority SET NOT NULL;

CREATE OR REPLACE FUNCTION fetch_job(target_queue text) RETURNS jobs
LANGUAGE plpgsql AS $$
DECLARE
    found jobs;
BEGIN
    SELECT * INTO found FROM jobs
    WHERE queue_name = target_queue AND status = 'todo'
      AND (scheduled_at IS NULL OR scheduled_at <= now())
    ORDER BY priority DESC, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED;

    IF found.id IS NOT NULL THEN
        UPDATE jobs SET status = 'doing', attempts = attempts + 1 WHERE id = found.id RETURNING * INTO found;
    END IF;
    RETURN found;
END;
$$;
