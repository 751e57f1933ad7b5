// @generated automatically by Diesel CLI.

diesel::table! {
    notes (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        deal_id -> Nullable<Uuid>,
        title -> Text,
        body -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        pinned -> Bool,
    }
}
