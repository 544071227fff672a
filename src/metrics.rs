//! Prometheus metrics: names in one place, the recorder installed once per process.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// GraphQL operations by `operation` and `outcome` (`ok` or the first error code).
pub const OPERATIONS: &str = "chatgql_graphql_operations_total";
/// GraphQL operation latency by `operation`, seconds.
pub const OPERATION_SECONDS: &str = "chatgql_graphql_operation_duration_seconds";
/// Events handed to a sink by `sink` (`in_process`, `centrifugo`).
pub const EVENTS_PUBLISHED: &str = "chatgql_events_published_total";
/// Rows in the outbox: events not yet published, plus on SQLite published rows the deleter
/// has not removed yet (it runs at most every 50 ms).
pub const OUTBOX_BACKLOG: &str = "chatgql_outbox_backlog";
/// Age of the oldest outbox row, seconds (0 when empty).
pub const OUTBOX_OLDEST_SECONDS: &str = "chatgql_outbox_oldest_age_seconds";
/// Open GraphQL WebSocket connections.
pub const WS_CONNECTIONS: &str = "chatgql_websocket_connections";
/// Live GraphQL subscriptions.
pub const SUBSCRIPTIONS: &str = "chatgql_subscriptions";
/// Subscribers ended because they fell behind.
pub const HUB_LAGGED: &str = "chatgql_hub_lagged_total";
/// Failed relay rounds towards Centrifugo (each is retried with backoff).
pub const CENTRIFUGO_PUBLISH_ERRORS: &str = "chatgql_centrifugo_publish_errors_total";
/// Relay rounds retried after a failure.
pub const RELAY_RETRIES: &str = "chatgql_relay_retries_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (first call) and returns the handle that renders it.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(OPERATION_SECONDS.into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(err) => {
                    tracing::warn!(error = %err, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// Counts a value up while alive (open connections, live subscriptions).
pub struct GaugeGuard(&'static str);

impl GaugeGuard {
    /// Increments `name` until the guard drops.
    pub fn new(name: &'static str) -> Self {
        metrics::gauge!(name).increment(1.0);
        Self(name)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

/// A label value safe to export: client-chosen names are cut to 64 word characters.
pub fn label(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    if clean.is_empty() {
        "anonymous".into()
    } else {
        clean
    }
}
