-- pre: new columns with defaults; the 0.1 workers keep working without them.
ALTER TABLE jobs
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN worker text;
