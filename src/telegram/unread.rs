//! Bot API requests whose answer the bot does not read. Telegram answers `sendMessage` and
//! `editMessageReplyMarkup` with the whole message it made; the handlers only need to know
//! whether it worked, so these requests skip over that message instead of building teloxide's
//! `Message` from it (about a tenth of the bot's CPU under load went to building and dropping
//! them). Errors, `retry_after` included, are read exactly as before.

use std::time::Duration;

use serde::Serialize;
use serde::de::IgnoredAny;
use teloxide::Bot;
use teloxide::requests::{JsonRequest, Payload};

/// A payload sent as it is, whose successful result is skipped.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Unread<P>(pub P);

impl<P: Payload> Payload for Unread<P> {
    type Output = IgnoredAny;
    const NAME: &'static str = P::NAME;

    fn timeout_hint(&self) -> Option<Duration> {
        self.0.timeout_hint()
    }
}

/// The request for `payload` on `bot`, its answer unread.
pub fn unread<P>(bot: &Bot, payload: P) -> JsonRequest<Unread<P>> {
    JsonRequest::new(bot.clone(), Unread(payload))
}
