//! schemathesis against the service's own `/openapi.json`: generated requests (valid
//! and invalid) to every operation, signed in as a tenant's owner, with a bounded number
//! of examples and a fixed seed. It must find no 5xx, and no response whose status,
//! content type or body the document does not describe.

use std::process::Command;

use crate::Service;

/// Where `scripts/setup.sh` installs schemathesis; `ROWGUARD_SCHEMATHESIS` overrides.
const DEFAULT_ST: &str = "/opt/rowguard/schemathesis/bin/st";

/// Examples per operation: enough to reach every handler's validation and its
/// success path, bounded so the run takes about a minute.
const EXAMPLES: &str = "30";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_undocumented_response() {
    let s = Service::start().await;
    let token = s.sign_in("a", "owner@a.example").await;
    let st = std::env::var("ROWGUARD_SCHEMATHESIS").unwrap_or_else(|_| DEFAULT_ST.to_owned());
    let schema = format!("http://{}/openapi.json", s.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&st)
            .args(["run", &schema])
            .args(["--url", &schema.replace("/openapi.json", "")])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--header", &format!("Host: ta.{}", crate::BASE)])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            // Signing out would end the session the run signs in with.
            .args(["--exclude-operation-id", "sign_out"])
            .args(["--max-examples", EXAMPLES, "--seed", "20261202"])
            .args(["--workers", "1", "--no-color"])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {st} (scripts/setup.sh installs it): {e}"))
    })
    .await
    .expect("schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    eprintln!("{stdout}");
    // It ran every operation but the excluded one, and passed them.
    assert!(
        stdout.contains("12 passed") || stdout.contains("12 total"),
        "{stdout}"
    );
}
