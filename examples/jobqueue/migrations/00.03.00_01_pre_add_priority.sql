-- pre: nullable at first, so that the 0.2 code, which does not set it, keeps inserting.
ALTER TABLE jobs ADD COLUMN priority integer;
