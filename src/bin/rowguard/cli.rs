//! The commands behind `rowguard`'s subcommands, and how their errors become exit codes.

use std::process::ExitCode;

use diesel::{Connection, PgConnection};
use rowguard::doctor::{diagnose, DoctorOptions};
use rowguard::Error;

/// Exit code for an error: 3 configuration, 4 database unreachable, 5 anything else.
pub fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Config(_) | Error::InvalidInput(_) => 3,
        Error::ConnectionLost(_) | Error::PoolTimeout(_) => 4,
        _ => 5,
    }
}

/// What a person can do about an error, where there is something to say.
pub fn hint(e: &Error) -> Option<&'static str> {
    match e {
        Error::Config(m) if m.contains("DATABASE_URL") => Some(
            "set DATABASE_URL, e.g. postgres://user@127.0.0.1:5432/app (`rowguard demo` needs none: it starts a private server)",
        ),
        Error::ConnectionLost(_) => Some("is the server running and DATABASE_URL right? `pg_isready -d \"$DATABASE_URL\"` tells"),
        Error::Migration(_) => Some("the migrating role must own the schema and be allowed to CREATE EXTENSION vector and CREATE ROLE"),
        _ => None,
    }
}

pub fn database_url() -> rowguard::Result<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| Error::Config("DATABASE_URL is not set".into()))
}

pub fn connect() -> rowguard::Result<PgConnection> {
    Ok(PgConnection::establish(&database_url()?)?)
}

pub fn migrate() -> rowguard::Result<ExitCode> {
    let mut conn = connect()?;
    let ran = rowguard::migrations::run_pending(&mut conn)?;
    if ran.is_empty() {
        println!("rowguard migrate: the schema is up to date");
    } else {
        for version in &ran {
            println!("applied {version}");
        }
        println!("rowguard migrate: applied {} migration(s)", ran.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn doctor(json: bool, app_roles: Vec<String>) -> rowguard::Result<ExitCode> {
    let mut conn = connect()?;
    let report = diagnose(&mut conn, &DoctorOptions { app_roles })?;
    if json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::InvalidInput(format!("cannot render the report: {e}")))?;
        println!("{text}");
    } else {
        print!("{report}");
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
