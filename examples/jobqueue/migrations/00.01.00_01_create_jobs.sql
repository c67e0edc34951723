-- The first version of the job queue: one table, one status type.
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
