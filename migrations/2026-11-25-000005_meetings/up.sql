-- Meetings group: meetings, meeting_participants, transcripts, meeting_summaries,
-- meeting_embeddings.

CREATE TYPE meeting_status AS ENUM ('scheduled', 'in_progress', 'completed', 'cancelled');
CREATE TYPE attendance_status AS ENUM ('invited', 'accepted', 'declined', 'tentative', 'attended', 'absent');

CREATE TABLE meetings (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  title text NOT NULL,
  description text,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  status meeting_status NOT NULL DEFAULT 'scheduled',
  location text,
  organizer_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, organizer_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (organizer_id),
  CONSTRAINT meetings_title_not_blank CHECK (btrim(title) <> ''),
  CONSTRAINT meetings_ends_after_starts CHECK (ends_at > starts_at)
);
CREATE INDEX meetings_tenant_organizer_idx ON meetings (tenant_id, organizer_id);
CREATE INDEX meetings_tenant_starts_idx ON meetings (tenant_id, starts_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON meetings FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON meetings FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE meetings IS 'A scheduled or past meeting, with participants, transcripts and AI summaries.';
COMMENT ON COLUMN meetings.ends_at IS 'When the meeting ends; always after starts_at.';
COMMENT ON COLUMN meetings.status IS 'scheduled, in_progress, completed or cancelled.';
COMMENT ON COLUMN meetings.location IS 'Where the meeting takes place: a room, an address or a video-call URL.';
COMMENT ON COLUMN meetings.organizer_id IS 'The user who organises the meeting; NULL for imported meetings or once that user is deleted.';

CREATE TABLE meeting_participants (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  meeting_id uuid NOT NULL,
  user_id uuid,
  contact_id uuid,
  email text,
  display_name text NOT NULL,
  attendance attendance_status NOT NULL DEFAULT 'invited',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, meeting_id) REFERENCES meetings (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (user_id),
  FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE SET NULL (contact_id),
  CONSTRAINT meeting_participants_email_format CHECK (position('@' IN email) > 1),
  CONSTRAINT meeting_participants_display_name_not_blank CHECK (btrim(display_name) <> '')
);
CREATE INDEX meeting_participants_tenant_meeting_idx ON meeting_participants (tenant_id, meeting_id, created_at);
CREATE UNIQUE INDEX meeting_participants_tenant_meeting_user_key ON meeting_participants (tenant_id, meeting_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX meeting_participants_tenant_meeting_email_key ON meeting_participants (tenant_id, meeting_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX meeting_participants_tenant_user_idx ON meeting_participants (tenant_id, user_id);
CREATE INDEX meeting_participants_tenant_contact_idx ON meeting_participants (tenant_id, contact_id);
CREATE INDEX meeting_participants_tenant_created_idx ON meeting_participants (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON meeting_participants FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON meeting_participants FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE meeting_participants IS 'Someone invited to a meeting: a user of the tenant, a CRM contact, or just an e-mail address.';
COMMENT ON COLUMN meeting_participants.user_id IS 'The participant when they are a user of the tenant; NULL otherwise or once that user is deleted. At most once per meeting.';
COMMENT ON COLUMN meeting_participants.contact_id IS 'The participant when they are a CRM contact; NULL otherwise or once the contact is deleted.';
COMMENT ON COLUMN meeting_participants.email IS 'The participant''s e-mail as invited; at most once per meeting, case-insensitively.';
COMMENT ON COLUMN meeting_participants.display_name IS 'Name shown for the participant, kept even when the user or contact is deleted.';
COMMENT ON COLUMN meeting_participants.attendance IS 'invited, accepted, declined or tentative before the meeting; attended or absent after it.';

CREATE TABLE transcripts (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  meeting_id uuid NOT NULL,
  language text NOT NULL DEFAULT 'en',
  content text NOT NULL,
  segments jsonb NOT NULL DEFAULT '[]'::jsonb,
  source text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, meeting_id) REFERENCES meetings (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT transcripts_language_bcp47 CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
  CONSTRAINT transcripts_segments_array CHECK (jsonb_typeof(segments) = 'array')
);
CREATE INDEX transcripts_tenant_meeting_idx ON transcripts (tenant_id, meeting_id, created_at DESC);
CREATE INDEX transcripts_tenant_created_idx ON transcripts (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON transcripts FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON transcripts FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE transcripts IS 'A transcript of a meeting; a meeting may have several (re-transcriptions, languages).';
COMMENT ON COLUMN transcripts.language IS 'BCP 47 language tag of the transcript (en, en-US, de, ...).';
COMMENT ON COLUMN transcripts.content IS 'The full transcript text.';
COMMENT ON COLUMN transcripts.segments IS 'JSON array of timed segments ({"speaker", "start_ms", "end_ms", "text"}); empty when not available.';
COMMENT ON COLUMN transcripts.source IS 'Where the transcript came from (a recorder integration, an upload, a speech-to-text model).';

CREATE TABLE meeting_summaries (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  meeting_id uuid NOT NULL,
  transcript_id uuid,
  summary text NOT NULL,
  action_items jsonb NOT NULL DEFAULT '[]'::jsonb,
  model text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, meeting_id) REFERENCES meetings (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, transcript_id) REFERENCES transcripts (tenant_id, id) ON DELETE SET NULL (transcript_id),
  CONSTRAINT meeting_summaries_action_items_array CHECK (jsonb_typeof(action_items) = 'array'),
  CONSTRAINT meeting_summaries_model_not_blank CHECK (btrim(model) <> '')
);
CREATE INDEX meeting_summaries_tenant_meeting_idx ON meeting_summaries (tenant_id, meeting_id, created_at DESC);
CREATE INDEX meeting_summaries_tenant_transcript_idx ON meeting_summaries (tenant_id, transcript_id);
CREATE INDEX meeting_summaries_tenant_created_idx ON meeting_summaries (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON meeting_summaries FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON meeting_summaries FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE meeting_summaries IS 'An AI-written summary of a meeting, with its action items.';
COMMENT ON COLUMN meeting_summaries.transcript_id IS 'The transcript summarised; NULL when summarised from notes or once the transcript is deleted.';
COMMENT ON COLUMN meeting_summaries.action_items IS 'JSON array of action items ({"text", "assignee", "due"}), possibly empty.';
COMMENT ON COLUMN meeting_summaries.model IS 'The language model that wrote the summary.';

CREATE TABLE meeting_embeddings (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  meeting_id uuid NOT NULL,
  chunk_index int NOT NULL,
  chunk text NOT NULL,
  model text NOT NULL,
  embedding vector(1536) NOT NULL,
  chunk_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', chunk)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, meeting_id) REFERENCES meetings (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT meeting_embeddings_meeting_chunk_key UNIQUE (tenant_id, meeting_id, chunk_index),
  CONSTRAINT meeting_embeddings_chunk_index_nonnegative CHECK (chunk_index >= 0),
  CONSTRAINT meeting_embeddings_model_not_blank CHECK (btrim(model) <> '')
);
-- The unique constraint (tenant_id, meeting_id, chunk_index) serves the foreign key
-- and the usual order (a meeting's chunks in order).
CREATE INDEX meeting_embeddings_chunk_tsv_idx ON meeting_embeddings USING gin (chunk_tsv);
-- pgvector 0.6.0-0.8.1 (CVE-2026-3172): a parallel HNSW build can corrupt memory, so
-- build the index without parallel maintenance workers. SET LOCAL ends with the
-- migration's transaction.
SET LOCAL max_parallel_maintenance_workers = 0;
CREATE INDEX meeting_embeddings_embedding_hnsw_idx ON meeting_embeddings USING hnsw (embedding vector_cosine_ops);
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON meeting_embeddings FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE meeting_embeddings IS 'One chunk of a meeting''s text (transcript, summary) with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.';
COMMENT ON COLUMN meeting_embeddings.chunk_index IS 'Position of the chunk within the meeting''s text, from 0; unique per meeting.';
COMMENT ON COLUMN meeting_embeddings.chunk IS 'The chunk''s text, as embedded.';
COMMENT ON COLUMN meeting_embeddings.model IS 'The embedding model that produced the vector; vectors of different models do not compare.';
COMMENT ON COLUMN meeting_embeddings.embedding IS '1536-dimension embedding of chunk, compared by cosine distance (<=>).';
COMMENT ON COLUMN meeting_embeddings.chunk_tsv IS 'Generated: to_tsvector(''english'', chunk), for keyword and hybrid search.';
