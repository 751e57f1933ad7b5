ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN notes.pinned IS 'Shown above the deal''s other notes.';
