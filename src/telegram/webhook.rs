//! Webhook mode: Telegram posts updates to our HTTP server. The secret comes from the
//! environment (so every replica behind a load balancer shares it) and is checked in
//! constant time before anything else reads the request. Stopping one replica leaves the
//! webhook registered, so the others carry on.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use teloxide::prelude::*;
use teloxide::update_listeners::UpdateListener;
use teloxide::update_listeners::webhooks::{self, Options};

use super::allowed_updates;
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

/// Registers the webhook with Telegram, starts the HTTP server, and returns the stream of
/// updates it receives together with the server's task.
pub async fn listen(
    bot: &Bot,
    webhook: &Webhook,
) -> anyhow::Result<(
    impl UpdateListener<Err = std::convert::Infallible>,
    tokio::task::JoinHandle<()>,
)> {
    bot.set_webhook(webhook.url.clone())
        .secret_token(webhook.secret.expose().to_owned())
        .allowed_updates(allowed_updates())
        .await
        .map_err(|error| anyhow::anyhow!("Telegram refused the webhook: {error}"))?;
    let options = Options::new(webhook.address, webhook.url.clone())
        .secret_token(webhook.secret.expose().to_owned());
    let (listener, _stopped, router) = webhooks::axum_no_setup(options);
    let expected = Arc::new(webhook.secret.expose().as_bytes().to_vec());
    let router = router.layer(axum::middleware::from_fn_with_state(
        expected,
        require_secret,
    ));
    let tcp = tokio::net::TcpListener::bind(webhook.address)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", webhook.address))?;
    log::info!("event=webhook_listening address={}", webhook.address);
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(tcp, router).await {
            log::error!("event=webhook_server_failed error={error}");
        }
    });
    Ok((listener, server))
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
