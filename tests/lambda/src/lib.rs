//! Helpers to invoke function binaries running under `cargo lambda watch`, which
//! `./infra/test` starts (on `ATELIER_LAMBDA_INVOKE_PORT`) against DynamoDB Local and moto.

use std::process::Command;

fn required_env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run ./infra/test, which starts cargo lambda watch"))
}

/// What an invocation returned.
#[derive(Debug)]
pub enum Invocation {
    /// The function's response.
    Ok(serde_json::Value),
    /// The function failed; cargo-lambda's report.
    Failed(String),
}

impl Invocation {
    /// The response, or a panic with the failure.
    #[track_caller]
    pub fn response(self) -> serde_json::Value {
        match self {
            Invocation::Ok(value) => value,
            Invocation::Failed(report) => panic!("invocation failed: {report}"),
        }
    }
}

/// An event file of `events/`, parsed.
pub fn event(name: &str) -> serde_json::Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("event file")).expect("event JSON")
}

/// Invokes `function` with `events/<event>` through `cargo lambda invoke`.
pub fn invoke(function: &str, event: &str) -> Invocation {
    let event_file = format!("{}/../../events/{event}", env!("CARGO_MANIFEST_DIR"));
    run(function, &["--data-file", &event_file])
}

/// Invokes `function` with an event built in the test (an event file with a token added, say).
pub fn invoke_with(function: &str, event: &serde_json::Value) -> Invocation {
    run(function, &["--data-ascii", &event.to_string()])
}

fn run(function: &str, data: &[&str]) -> Invocation {
    let port = required_env("ATELIER_LAMBDA_INVOKE_PORT");
    let output = Command::new("cargo")
        .args(["lambda", "invoke", function, "--invoke-address", "127.0.0.1", "--invoke-port", &port])
        .args(data)
        .args(["--output-format", "json"])
        .output()
        .expect("cargo lambda is installed (./infra/test installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Invocation::Failed(format!("{stdout}{stderr}"));
    }
    match serde_json::from_str(&stdout) {
        Ok(value) => Invocation::Ok(value),
        Err(e) => Invocation::Failed(format!("not JSON ({e}): {stdout}{stderr}")),
    }
}

/// The store the functions use (the provisioned table on DynamoDB Local).
pub async fn store() -> atelier_platform::store::Store {
    use std::sync::Arc;
    let settings = atelier_aws::AwsSettings::from_env().expect("ATELIER_TABLE and friends are set");
    let clients = atelier_aws::Clients::new(&atelier_aws::sdk_config().await, true);
    atelier_platform::store::Store::new(
        Arc::new(atelier_aws::DynamoStore::new(clients.dynamodb, settings.table)),
        Arc::new(atelier_platform::clock::SystemClock),
    )
}

/// The JSON body of an API Gateway response.
pub fn body(response: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(response["body"].as_str().expect("body")).expect("JSON body")
}
