DROP TABLE IF EXISTS integrations;
DROP TABLE IF EXISTS hub_links;
DROP TYPE IF EXISTS integration_status;
DROP TYPE IF EXISTS hub_entity_type;
