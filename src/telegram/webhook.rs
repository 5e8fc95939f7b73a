//! Webhook mode: Telegram posts updates to our HTTP server, which answers each only once it
//! has been handled (so an update in the hands of a replica that dies is posted again, not
//! lost). The secret comes from the environment (so every replica behind a load balancer
//! shares it) and is checked in constant time before anything else reads the request.
//! Stopping one replica leaves the webhook registered, so the others carry on.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::UpdateKind;

use super::allowed_updates;
use super::handlers::{App, HandlerError, error_kind};
use crate::config::Secret;

/// The header Telegram sends the secret in.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Where Telegram reaches this bot.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The address the HTTP server listens on.
    pub address: SocketAddr,
    /// The public HTTPS address Telegram posts to; its path is the route served.
    pub url: url::Url,
    pub secret: Secret,
}

/// Whether `secret` is one Telegram accepts: 1 to 256 of `A-Z a-z 0-9 _ -`.
pub(crate) fn is_usable_secret(secret: &str) -> bool {
    (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// How many stripes a replica's updates are handled in: a chat always falls in the same
/// stripe, whose updates are handled one after another (so a person's stay in order), as the
/// long poller's workers do. A stripe is only a lock, so there are more of them than the
/// poller's workers (whose queues take memory): with 32, three replicas at saturation
/// answered later at the tail.
const STRIPES: usize = 64;

/// What the webhook route needs: the bot, the handler tree and its app, and the stripes.
struct Route {
    bot: Bot,
    tree: UpdateHandler<HandlerError>,
    app: Arc<App>,
    stripes: Vec<tokio::sync::Mutex<()>>,
}

/// Registers the webhook with Telegram and serves it until `stop` completes, then finishes
/// the updates in flight. Each update is answered (200) only once it has been handled, so an
/// update whose replica dies first is delivered again (to another replica) and not lost;
/// one applied already is recognised and not applied twice.
pub async fn serve(
    bot: Bot,
    webhook: &Webhook,
    tree: UpdateHandler<HandlerError>,
    app: Arc<App>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    bot.set_webhook(webhook.url.clone())
        .secret_token(webhook.secret.expose().to_owned())
        .allowed_updates(allowed_updates())
        .await
        .map_err(|error| anyhow::anyhow!("Telegram refused the webhook: {error}"))?;
    let route = Arc::new(Route {
        bot,
        tree,
        app,
        stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
    });
    let expected = Arc::new(webhook.secret.expose().as_bytes().to_vec());
    let path = match webhook.url.path() {
        "" => "/",
        path => path,
    };
    let router = axum::Router::new()
        .route(path, axum::routing::post(receive))
        .with_state(route)
        .layer(axum::middleware::from_fn_with_state(
            expected,
            require_secret,
        ));
    let tcp = tokio::net::TcpListener::bind(webhook.address)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", webhook.address))?;
    log::info!("event=webhook_listening address={}", webhook.address);
    axum::serve(tcp, router)
        .with_graceful_shutdown(stop)
        .await
        .map_err(|error| anyhow::anyhow!("the webhook server failed: {error}"))
}

/// Handles one update Telegram posted, and answers once it is handled.
async fn receive(State(route): State<Arc<Route>>, body: axum::body::Bytes) -> StatusCode {
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        // Answered 200 all the same: Telegram would otherwise post it again for ever.
        Err(error) => {
            log::warn!(
                "event=webhook_unreadable error_line={} error_column={}",
                error.line(),
                error.column()
            );
            return StatusCode::OK;
        }
    };
    if matches!(update.kind, UpdateKind::Error(_)) {
        log::warn!("event=webhook_unreadable kind=unknown");
        return StatusCode::OK;
    }
    let stripe = update
        .chat()
        .map_or(0, |chat| chat.id.0.rem_euclid(STRIPES as i64) as usize);
    let _turn = route.stripes[stripe].lock().await;
    let id = update.id.0;
    let deps = dptree::deps![route.bot.clone(), update, Arc::clone(&route.app)];
    match route.tree.dispatch(deps).await {
        ControlFlow::Break(Ok(())) => {}
        ControlFlow::Break(Err(error)) => {
            log::warn!("event=request_failed error={}", error_kind(&error));
        }
        ControlFlow::Continue(_) => log::debug!("event=update_ignored id={id}"),
    }
    StatusCode::OK
}

/// Refuses, in constant time, any request without the right secret header.
async fn require_secret(
    State(expected): State<Arc<Vec<u8>>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(SECRET_HEADER)
        .map_or(&b""[..], |value| value.as_bytes());
    if bool::from(given.ct_eq(expected.as_slice())) {
        next.run(request).await
    } else {
        log::warn!("event=webhook_refused reason=secret");
        StatusCode::UNAUTHORIZED.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_follow_telegrams_rules() {
        assert!(is_usable_secret("abc_DEF-123"));
        assert!(!is_usable_secret(""));
        assert!(!is_usable_secret("has space"));
        assert!(!is_usable_secret(&"a".repeat(257)));
    }
}
