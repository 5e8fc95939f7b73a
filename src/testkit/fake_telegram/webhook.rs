//! Webhook delivery, as Telegram does it once a bot has set a webhook: every queued update is
//! posted (with the secret header) to one of the targets in turn, as to a load balancer in
//! front of replicas, and posted again to the next one whenever a replica fails to answer 200.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::server::chat_of;
use super::{FakeEvent, Shared};

/// Where the fake posts updates, instead of handing them out to `getUpdates`.
#[derive(Debug, Clone)]
pub struct WebhookTargets {
    /// The replicas' webhook addresses, posted to round-robin.
    pub urls: Vec<String>,
    /// What the `X-Telegram-Bot-Api-Secret-Token` header carries.
    pub secret: String,
}

/// How many posts may be waiting for an answer at once (Telegram's `max_connections` goes
/// up to 100).
const CONNECTIONS: usize = 100;

/// Posts every update queued from now on, until the fake stops.
pub(super) async fn deliver(shared: Arc<Shared>, targets: WebhookTargets) {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS));
    let targets = Arc::new(targets);
    loop {
        // Registered before looking, so an update queued in between still wakes us.
        let queued = shared.queued.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        let batch: Vec<Value> = shared
            .inner
            .lock()
            .expect("the fake's lock")
            .updates
            .drain(..)
            .collect();
        if batch.is_empty() {
            queued.await;
            continue;
        }
        for update in batch {
            let Ok(connection) = Arc::clone(&connections).acquire_owned().await else {
                return;
            };
            if let (Some(observer), Some(chat)) = (&shared.options.observer, chat_of(&update)) {
                observer(FakeEvent::HandedOut {
                    chat,
                    at: Instant::now(),
                });
            }
            let (client, targets, next) = (client.clone(), Arc::clone(&targets), Arc::clone(&next));
            tokio::spawn(async move {
                targets.post_until_taken(&client, &next, &update).await;
                drop(connection);
            });
        }
    }
}

impl WebhookTargets {
    /// Posts `update` to the target `next` points at (counting on), and on to the next until
    /// one answers 200, as Telegram does.
    pub async fn post_until_taken(
        &self,
        client: &reqwest::Client,
        next: &AtomicUsize,
        update: &Value,
    ) {
        let body = update.to_string();
        loop {
            let url = &self.urls[next.fetch_add(1, Ordering::Relaxed) % self.urls.len()];
            let answered = client
                .post(url)
                .header("content-type", "application/json")
                .header("X-Telegram-Bot-Api-Secret-Token", &self.secret)
                .body(body.clone())
                .timeout(Duration::from_secs(60))
                .send()
                .await;
            if answered.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
