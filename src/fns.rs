//! SQL functions rowguard calls through diesel's query builder, declared once.
//!
//! Query-builder statements are prepared once per connection and cached by diesel-async,
//! so the statement that sets a transaction's context costs only Bind/Execute after its
//! first use, and pipelines with `BEGIN` and the caller's first query.

use diesel::define_sql_function;
use diesel::sql_types::{Bool, Nullable, Text};

define_sql_function! {
    /// `set_config(name, value, is_local)`: with `is_local = true`, the function form of
    /// `SET LOCAL`, taking the value as a bound parameter.
    fn set_config(setting_name: Text, new_value: Text, is_local: Bool) -> Text;
}

define_sql_function! {
    /// `current_setting(name)`: a setting's current value.
    fn current_setting(setting_name: Text) -> Text;
}

define_sql_function! {
    /// `coalesce(a, b)` for text: `a` unless it is NULL, else `b`.
    #[sql_name = "coalesce"]
    fn coalesce_text(value: Nullable<Text>, fallback: Text) -> Text;
}
