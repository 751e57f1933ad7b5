//! schemathesis against the service's own `/openapi.json`: generated requests (valid
//! and invalid) to every operation, with a bounded number of examples and a fixed
//! seed. The tenant operations run signed in as a tenant's owner, then the admin
//! operations with an admin token. It must find no 5xx, and no response whose status,
//! content type or body the document does not describe.

use std::process::Command;

use crate::{Service, ADMIN_TOKEN, BASE};

/// Where `scripts/setup.sh` installs schemathesis; `ROWGUARD_SCHEMATHESIS` overrides.
const DEFAULT_ST: &str = "/opt/rowguard/schemathesis/bin/st";

/// Examples per operation: enough to reach every handler's validation and its
/// success path, bounded so both runs take well under a minute.
const EXAMPLES: &str = "30";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_undocumented_response() {
    let s = Service::start().await;
    let token = s.sign_in("a", "owner@a.example").await;
    let schema = format!("http://{}/openapi.json", s.addr);
    let (admin_ops, all_ops) = operations();

    // Signing out would end the session the run signs in with.
    let tenant = run(
        &schema,
        &token,
        &[
            "--exclude-tag",
            "admin",
            "--exclude-operation-id",
            "sign_out",
        ],
    )
    .await;
    assert!(
        tenant.contains(&format!("Tested: {}", all_ops - admin_ops - 1)),
        "{tenant}"
    );
    let admin = run(&schema, ADMIN_TOKEN, &["--include-tag", "admin"]).await;
    assert!(admin.contains(&format!("Tested: {admin_ops}")), "{admin}");
}

/// Runs schemathesis with `token` as the bearer, at tenant `a`'s host; returns its
/// output after asserting that it passed.
async fn run(schema: &str, token: &str, select: &[&str]) -> String {
    let st = std::env::var("ROWGUARD_SCHEMATHESIS").unwrap_or_else(|_| DEFAULT_ST.to_owned());
    let mut cmd = Command::new(&st);
    cmd.args(["run", schema])
        .args(["--url", &schema.replace("/openapi.json", "")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--header", &format!("Host: ta.{BASE}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(select)
        .args(["--max-examples", EXAMPLES, "--seed", "20261202"])
        .args(["--workers", "1", "--no-color"]);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("schemathesis")
        .unwrap_or_else(|e| panic!("cannot run {st} (scripts/setup.sh installs it): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    eprintln!("{stdout}");
    stdout
}

/// The admin operations and all operations of the document.
fn operations() -> (usize, usize) {
    let api = rowguard_example_api::openapi();
    let ops: Vec<&utoipa::openapi::path::Operation> = api
        .paths
        .paths
        .values()
        .flat_map(|p| [&p.get, &p.post, &p.put, &p.patch, &p.delete])
        .flatten()
        .collect();
    let admin = ops
        .iter()
        .filter(|o| o.tags.iter().flatten().any(|t| t == "admin"))
        .count();
    (admin, ops.len())
}
