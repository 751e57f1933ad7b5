//! The `rowguard` command line, run as a process against a real PostgreSQL: one module
//! per area.

mod audit;
mod commands;
mod domain;
mod jobs;
mod search;
mod tenant;
mod tls;

/// A process's standard output, as text.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A process's standard error, as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A process's standard output, parsed as JSON.
#[track_caller]
pub fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// Runs `rowguard <command> <args>` with only the admin login (`ROWGUARD_ADMIN_URL`) of
/// `db`: no `DATABASE_URL`, no `ROWGUARD_CONTEXT_KEY`.
pub fn as_admin(
    db: &rowguard_testkit::server::TestDatabase,
    command: &str,
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .arg(command)
        .args(args)
        .env("ROWGUARD_ADMIN_URL", db.url_admin())
        .env_remove("DATABASE_URL")
        .env_remove("ROWGUARD_CONTEXT_KEY")
        .output()
        .expect("run rowguard")
}

/// Asserts a process's exit code, showing its output when it differs.
#[track_caller]
pub fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status\n--- stdout\n{}\n--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}
