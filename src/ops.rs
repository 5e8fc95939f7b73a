//! What operators see of a running bot: Prometheus metrics (`/metrics`), whether it is alive
//! (`/healthz`) and whether it can serve (`/readyz`: flows loaded and storage reachable), on
//! one HTTP listener of their choosing. The metrics themselves are recorded where things happen
//! with the `metrics` crate's macros (names in [`names`]); they count kinds and times, never
//! text, answers, ids or the token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::storage::Storage;

/// The metrics' names, in one place so a dashboard and the code agree.
pub mod names {
    /// Updates handled, by `kind` (message, edited, button, membership).
    pub const UPDATES: &str = "kintsugi_updates_total";
    /// Seconds from an update's arrival to its replies being queued.
    pub const UPDATE_SECONDS: &str = "kintsugi_update_seconds";
    /// Messages delivered to Telegram.
    pub const REPLIES_SENT: &str = "kintsugi_replies_sent_total";
    /// Sends tried again, by `reason` (retry_after, server, network).
    pub const SEND_RETRIES: &str = "kintsugi_send_retries_total";
    /// Sends Telegram refused outright, by `reason`.
    pub const SEND_FAILURES: &str = "kintsugi_send_failures_total";
    /// Compare-and-set writes that met a newer version and were retried.
    pub const CAS_CONFLICTS: &str = "kintsugi_cas_conflicts_total";
    /// Writes held back while another replica handled an earlier update of the same person,
    /// or sent its replies (webhook replicas); each wait is 10 ms.
    pub const ORDER_WAITS: &str = "kintsugi_order_waits_total";
    /// Turns of the bot's shared send schedule reserved in Redis, and the reservations made.
    pub const SHARED_TURNS: &str = "kintsugi_shared_send_turns_total";
    /// Storage operations that failed (the person was told kindly).
    pub const STORAGE_ERRORS: &str = "kintsugi_storage_errors_total";
    /// Crisis screen verdicts, by `kind` (self_harm, violence, abuse, none) and `certainty`.
    pub const SCREEN_VERDICTS: &str = "kintsugi_screen_verdicts_total";
    /// Reminders found due and claimed by this process.
    pub const REMINDERS_CLAIMED: &str = "kintsugi_reminders_claimed_total";
    /// Reminders sent.
    pub const REMINDERS_SENT: &str = "kintsugi_reminders_sent_total";
    /// Reminders not sent, by `reason` (stale, blocked, already_sent, failed).
    pub const REMINDERS_SKIPPED: &str = "kintsugi_reminders_skipped_total";
    /// Seconds between a reminder falling due and being sent.
    pub const SCHEDULER_LAG_SECONDS: &str = "kintsugi_scheduler_lag_seconds";
}

/// The metrics recorded for every update, registered once: looking a metric up by name and
/// labels on each update cost a third of the bot's throughput at saturation.
pub struct Hot {
    /// Updates by kind: message, edited, button, membership.
    pub updates: [metrics::Counter; 4],
    pub update_seconds: metrics::Histogram,
    pub replies_sent: metrics::Counter,
    /// Messages the crisis screen passed.
    pub screened_none: metrics::Counter,
}

/// The update kinds of [`Hot::updates`], in order.
pub const UPDATE_KINDS: [&str; 4] = ["message", "edited", "button", "membership"];

/// The hot metrics' handles, registered with the recorder installed when first asked for (so
/// [`install`] comes first).
pub fn hot() -> &'static Hot {
    static HOT: std::sync::OnceLock<Hot> = std::sync::OnceLock::new();
    HOT.get_or_init(|| Hot {
        updates: UPDATE_KINDS.map(|kind| metrics::counter!(names::UPDATES, "kind" => kind)),
        update_seconds: metrics::histogram!(names::UPDATE_SECONDS),
        replies_sent: metrics::counter!(names::REPLIES_SENT),
        screened_none: metrics::counter!(
            names::SCREEN_VERDICTS,
            "kind" => "none",
            "certainty" => "none"
        ),
    })
}

/// Installs the Prometheus recorder for this process; `None` if one is already installed (a
/// second bot in the same test process), in which case its metrics go to the first.
pub fn install() -> Option<PrometheusHandle> {
    let buckets = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets(&buckets)
        .ok()?
        .install_recorder()
        .ok()?;
    Some(handle)
}

struct Ops {
    metrics: Option<PrometheusHandle>,
    storage: Storage,
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `address` until the task is aborted.
pub async fn serve(
    address: SocketAddr,
    metrics: Option<PrometheusHandle>,
    storage: Storage,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen for metrics on {address}: {error}"))?;
    log::info!("event=metrics_listening address={address}");
    if let Some(handle) = metrics.clone() {
        // Histograms are kept in windows the exporter folds in now and then.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        });
    }
    let ops = Arc::new(Ops { metrics, storage });
    let router = Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(ops);
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            log::error!("event=metrics_server_failed error={error}");
        }
    }))
}

async fn metrics_page(State(ops): State<Arc<Ops>>) -> (StatusCode, String) {
    match &ops.metrics {
        Some(handle) => (StatusCode::OK, handle.render()),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are recorded by another bot in this process\n".to_owned(),
        ),
    }
}

/// Ready when storage answers (the flows were loaded before the listener started).
async fn ready(State(ops): State<Arc<Ops>>) -> (StatusCode, &'static str) {
    match tokio::time::timeout(Duration::from_secs(2), ops.storage.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "storage unreachable\n"),
    }
}
