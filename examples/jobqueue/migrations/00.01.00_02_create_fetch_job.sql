-- Workers take the oldest job of a queue; SKIP LOCKED lets many workers share it.
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
