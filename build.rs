//! Rebuilds the crate when a migration is added, changed or removed: the migrations
//! are embedded (`src/migrations.rs`), and cargo does not see new directories by itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
