-- notes: a table of the application's own, next to rowguard's. It follows the rules of
-- docs/adding-a-table.md, and rowguard.protect_table checks it and adds row-level
-- security, the policy, the grants and the tenant_id trigger.
CREATE TABLE notes (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  deal_id uuid,
  title text NOT NULL,
  body text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id) ON DELETE SET NULL (deal_id)
);
CREATE INDEX notes_tenant_deal_idx ON notes (tenant_id, deal_id);
CREATE INDEX notes_tenant_created_idx ON notes (tenant_id, created_at DESC, id DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
COMMENT ON TABLE notes IS 'A free-text note, optionally about a deal.';
COMMENT ON COLUMN notes.deal_id IS 'The deal the note is about; NULL when none or once the deal is deleted.';

SELECT rowguard.protect_table('notes');

-- Optional role tiers, as policies/40_role_tiers.sql gives tasks: everyone reads,
-- viewers write nothing.
CREATE POLICY role_tier ON notes AS RESTRICTIVE FOR ALL
  USING (true) -- every verified context is one of the four roles, or the service context
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
CREATE POLICY role_tier_delete ON notes AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));
