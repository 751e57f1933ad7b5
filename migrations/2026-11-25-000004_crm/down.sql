DROP TABLE IF EXISTS deal_activity_embeddings;
DROP TABLE IF EXISTS deal_activities;
DROP TABLE IF EXISTS deals;
DROP TABLE IF EXISTS contacts;
DROP TABLE IF EXISTS companies;
DROP TYPE IF EXISTS deal_activity_kind;
DROP TYPE IF EXISTS deal_stage;
