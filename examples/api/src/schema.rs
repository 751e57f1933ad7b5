//! The `table!` of this crate's own table, as `diesel print-schema` writes it.

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
