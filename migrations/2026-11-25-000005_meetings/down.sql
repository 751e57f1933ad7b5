DROP TABLE IF EXISTS meeting_embeddings;
DROP TABLE IF EXISTS meeting_summaries;
DROP TABLE IF EXISTS transcripts;
DROP TABLE IF EXISTS meeting_participants;
DROP TABLE IF EXISTS meetings;
DROP TYPE IF EXISTS attendance_status;
DROP TYPE IF EXISTS meeting_status;
