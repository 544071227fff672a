//! Prometheus metrics: names in one place, the recorder installed once per process.

use std::{
    collections::HashSet,
    sync::{Mutex, OnceLock},
};

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

/// Most distinct operation names exported; later new names are counted as `other`, so
/// clients cannot grow the exported series without bound.
pub const MAX_OPERATION_LABELS: usize = 256;

/// A label value safe to export: client-chosen names are cut to 64 word characters, and
/// only the first [`MAX_OPERATION_LABELS`] distinct names get their own label.
pub fn label(name: &str) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    let clean = if clean.is_empty() {
        "anonymous".to_owned()
    } else {
        clean
    };
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if seen.contains(&clean) || seen.len() < MAX_OPERATION_LABELS {
        seen.insert(clean.clone());
        clean
    } else {
        "other".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_cleaned_and_capped() {
        assert_eq!(label("Send Message!"), "SendMessage");
        assert_eq!(label("   "), "anonymous");
        for i in 0..MAX_OPERATION_LABELS {
            label(&format!("op{i}"));
        }
        assert_eq!(label("oneTooMany"), "other");
        // Names seen before the cap keep their own label.
        assert_eq!(label("SendMessage"), "SendMessage");
        assert_eq!(label("op7"), "op7");
    }
}
