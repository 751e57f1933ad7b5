//! The `table!` of this crate's own table, written to match its migration
//! (`migrations/2026-12-02-000101_api_credentials`). The end-to-end tests select every
//! column of it against the real table, so a drift fails them.

diesel::table! {
    /// A user's password for the example service, as an Argon2id PHC string.
    api_credentials (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        user_id -> Uuid,
        password_hash -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}
