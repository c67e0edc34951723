-- pre: a new status value. It can only be used once this transaction has
-- committed, which is why the function that uses it is the next file.
ALTER TYPE job_status ADD VALUE IF NOT EXISTS 'cancelled' AFTER 'failed';
