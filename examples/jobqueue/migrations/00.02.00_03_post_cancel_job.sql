-- post: the 0.2 code cancels jobs through this function.
CREATE FUNCTION cancel_job(job_id bigint) RETURNS boolean
LANGUAGE sql AS $$
    UPDATE jobs SET status = 'cancelled'
    WHERE id = job_id AND status = 'todo'
    RETURNING true;
$$;
