//! Liveness and readiness.

use serde::Serialize;

use crate::Platform;

/// Readiness of one dependency.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    /// Dependency name.
    pub name: &'static str,
    /// Whether it answered.
    pub ok: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether the process can serve requests: the store must answer.
pub async fn readiness(platform: &Platform) -> Vec<Check> {
    let store = platform.store.ping().await;
    vec![Check { name: "store", ok: store.is_ok(), error: store.err().map(|e| e.to_string()) }]
}
