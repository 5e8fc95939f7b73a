//! The dptree handler tree: turns Telegram updates into engine inputs for one person, and the
//! engine's replies into Bot API requests. Nothing here decides what to say; the engine does.
//!
//! Written for teloxide's `Bot`, which the handler tests' mock points at a local server.
//! Replies go out through the [`SendQueue`]: paced, in order per chat, and never holding up
//! the next update.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use teloxide::dispatching::{UpdateFilterExt, UpdateHandler};
use teloxide::payloads::{self, SendDocumentSetters, SendPhotoSetters};
use teloxide::prelude::*;
use teloxide::types::{
    ChatMemberKind, ChatMemberUpdated, InputFile, MaybeInaccessibleMessage, MessageKind, UpdateId,
};
use teloxide::{ApiError, RequestError};

use super::pace::Pacer;
use super::queue::SendQueue;
use super::render::{Outgoing, render};
use super::unread::unread;
use crate::conversation::{self, Arrival, Handled, ReadyReply};
use crate::dialogue::callback::{self, Action};
use crate::dialogue::{Input, Library, Reply};
use crate::files::FileKind;
use crate::flood::FloodGate;
use crate::ops::names;
use crate::reminders::{Deliver, DeliverError, Delivered};
use crate::storage::{PersonId, Storage};

/// What every handler needs: the flows, the store, the clock, the flood gate and the queue
/// of messages to send.
pub struct App {
    pub library: Arc<Library>,
    pub storage: Storage,
    /// Seconds since the Unix epoch.
    pub clock: fn() -> i64,
    pub flood: FloodGate,
    pub sends: SendQueue,
    /// Whether other processes handle this bot's updates too (webhook replicas on one
    /// Redis): each update is then noted in flight until its replies are sent, so a person's
    /// updates apply, and are answered, in order across replicas.
    pub replicas: bool,
    /// What goes before an invitation's token to make its link: `https://t.me/<bot>?start=`,
    /// filled in from Telegram's `getMe` at start.
    pub invite_link: Option<String>,
}

/// Queues `replies` for `chat`: they go out in order after what is already queued for it,
/// paced; a person found to have blocked the bot is recorded as unreachable. Then ends the
/// in-flight note of update `release` once they are sent (or given up on), so the person's
/// next update may go ahead on any replica.
async fn queue_replies(
    bot: &Bot,
    app: &Arc<App>,
    chat: ChatId,
    replies: Vec<ReadyReply>,
    release: Option<i64>,
) {
    let (bot, job_app) = (bot.clone(), Arc::clone(app));
    app.sends
        .push(chat.0, async move {
            let pacer = job_app.sends.pacer();
            match send(&bot, &pacer, chat, &replies).await {
                Ok(Delivery::Delivered) => {}
                Ok(Delivery::Blocked) => mark_reachable(&job_app, PersonId(chat.0), false).await,
                Err(error) => log::warn!("event=send_failed error={}", error_kind(&error)),
            }
            if let Some(update) = release
                && let Err(error) = job_app
                    .storage
                    .release_update(PersonId(chat.0), update)
                    .await
            {
                // The note lapses by itself soon.
                log::warn!("event=release_deferred error={error}");
            }
        })
        .await;
}

/// A failed Bot API request; logged by kind, never with message text.
pub type HandlerError = RequestError;

/// The handler tree for requester `B`.
pub fn schema() -> UpdateHandler<HandlerError> {
    dptree::entry()
        .branch(Update::filter_message().endpoint(on_message))
        .branch(Update::filter_edited_message().endpoint(on_edited))
        .branch(Update::filter_callback_query().endpoint(on_callback))
        .branch(Update::filter_my_chat_member().endpoint(on_membership))
}

async fn on_message(
    bot: Bot,
    update: Update,
    message: Message,
    app: Arc<App>,
) -> Result<(), HandlerError> {
    contain("message", async move {
        let _timed = Timed::start(0);
        if !message.chat.is_private() {
            return leave(&bot, &app, message.chat.id).await;
        }
        // Safety first: crisis language is answered before the flood gate, and before storage.
        let input = match concern_in(&app.library, &message) {
            Some(concern) => concern,
            None => match message.text() {
                Some(text) => Input::from_text(text),
                None => match message.kind {
                    // A photo or file is unreadable (its caption was screened above).
                    MessageKind::Common(_) => Input::Unsupported,
                    // Service messages (a pinned message, a changed photo...) ask nothing.
                    _ => return Ok(()),
                },
            },
        };
        converse(&bot, &app, message.chat.id, &input, update.id).await?;
        Ok(())
    })
    .await
}

/// An edited message changes nothing already answered, but it is screened like a new one:
/// crisis language added in an edit still gets the safety reply.
async fn on_edited(
    bot: Bot,
    update: Update,
    message: Message,
    app: Arc<App>,
) -> Result<(), HandlerError> {
    contain("edited message", async move {
        let _timed = Timed::start(1);
        if !message.chat.is_private() {
            return Ok(());
        }
        let concern = concern_in(&app.library, &message);
        log::debug!("event=edit_screened concern={}", concern.is_some());
        match concern {
            Some(concern) => {
                converse(&bot, &app, message.chat.id, &concern, update.id).await?;
                Ok(())
            }
            None => Ok(()),
        }
    })
    .await
}

async fn on_callback(
    bot: Bot,
    update: Update,
    query: CallbackQuery,
    app: Arc<App>,
) -> Result<(), HandlerError> {
    contain("button", async move {
        let _timed = Timed::start(2);
        // Every press is answered, so the person never watches a spinning clock.
        let answer = async {
            if let Err(error) = bot.answer_callback_query(query.id.clone()).await {
                log::debug!("could not answer a press: {}", error_kind(&error));
            }
        };
        let Some(MaybeInaccessibleMessage::Regular(shown)) = &query.message else {
            answer.await;
            return Ok(());
        };
        if !shown.chat.is_private() {
            answer.await;
            return Ok(());
        }
        let data = query.data.clone().unwrap_or_default();
        // A flow's buttons are taken off their message once pressed, so nothing can be
        // pressed twice; FAQ buttons stay (an answer, or the whole list), since they change
        // nothing.
        let is_faq = matches!(
            callback::decode(&data),
            Some(callback::Press {
                action: Action::Question(_) | Action::AllQuestions,
                ..
            })
        );
        let remove_keyboard = async {
            if is_faq {
                return;
            }
            let edit = payloads::EditMessageReplyMarkup::new(shown.chat.id, shown.id);
            match unread(&bot, edit).await {
                Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => {}
                Err(error) => log::debug!("could not remove a keyboard: {}", error_kind(&error)),
            }
        };
        // The press is answered while it is handled; its keyboard comes off once it is
        // served (a press dropped by flood control keeps its buttons to press again).
        let input = Input::Press(data.clone());
        let ((), served) = tokio::join!(
            answer,
            converse(&bot, &app, shown.chat.id, &input, update.id)
        );
        if served? {
            remove_keyboard.await;
        }
        Ok(())
    })
    .await
}

async fn on_membership(
    bot: Bot,
    update: ChatMemberUpdated,
    app: Arc<App>,
) -> Result<(), HandlerError> {
    contain("membership", async move {
        let _timed = Timed::start(3);
        let joined = matches!(
            update.new_chat_member.kind,
            ChatMemberKind::Member(_) | ChatMemberKind::Administrator(_)
        );
        if update.chat.is_private() {
            let person = PersonId(update.chat.id.0);
            match update.new_chat_member.kind {
                ChatMemberKind::Banned(_) => mark_reachable(&app, person, false).await,
                ChatMemberKind::Member(_) => mark_reachable(&app, person, true).await,
                _ => {}
            }
            return Ok(());
        }
        if joined {
            return leave(&bot, &app, update.chat.id).await;
        }
        Ok(())
    })
    .await
}

/// Runs one input through the engine for the person in this private chat and sends the
/// replies; when the store cannot be reached, says so kindly and changes nothing. Anything
/// but a concern goes through flood control first; returns whether the input was served.
async fn converse(
    bot: &Bot,
    app: &Arc<App>,
    chat: ChatId,
    input: &Input,
    update: UpdateId,
) -> Result<bool, HandlerError> {
    let person = PersonId(chat.0);
    let now = (app.clock)();
    let update_id = i64::from(update.0);
    // Text was screened by `concern_in` before the flood gate; a press carries none.
    let handled = conversation::handle_screened_update(
        &app.storage,
        &app.library,
        person,
        input,
        now,
        Arrival {
            update: Some(update_id),
            gate: (!matches!(input, Input::Concern { .. })).then_some(&app.flood),
            in_order: app.replicas,
            invite_link: app.invite_link.as_deref(),
        },
    )
    .await;
    // A served update's in-flight note (replicas only) ends once its replies are sent.
    let (served, replies, release) = match handled {
        Ok(Handled::Served(response)) => {
            for notice in response.notices {
                let replies = notice.replies.into_iter().map(ReadyReply::plain).collect();
                queue_replies(bot, app, ChatId(notice.to.0), replies, None).await;
            }
            (true, response.replies, app.replicas.then_some(update_id))
        }
        Ok(Handled::AlreadyApplied) => (true, Vec::new(), None),
        Ok(Handled::Flooded(replies)) => (false, replies, None),
        Err(error) => {
            metrics::counter!(names::STORAGE_ERRORS).increment(1);
            log::warn!("event=storage_unavailable error={error}");
            let note = Reply::text(app.library.bot.message("storage_down"));
            (false, vec![note.into()], None)
        }
    };
    queue_replies(bot, app, chat, replies, release).await;
    Ok(served)
}

/// How often one message is tried when Telegram or the network fails on the way.
const SEND_ATTEMPTS: u32 = 5;
/// The first wait before trying again; it doubles each time.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);
/// The longest `retry_after` honoured in place; a longer one drops the message.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Whether replies reached the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The person blocked the bot (or closed their account): nothing more was sent.
    Blocked,
}

/// Sends replies in order, each in its paced turn; stops at once if the person has blocked
/// the bot.
pub async fn send(
    bot: &Bot,
    pacer: &Pacer,
    chat: ChatId,
    replies: &[ReadyReply],
) -> Result<Delivery, HandlerError> {
    let outgoing = render(replies);
    for (index, message) in outgoing.iter().enumerate() {
        let ahead = outgoing.len() - index - 1;
        match send_one(bot, pacer, chat, message, ahead).await {
            Ok(()) => {}
            Err(RequestError::Api(ApiError::BotBlocked | ApiError::UserDeactivated)) => {
                return Ok(Delivery::Blocked);
            }
            Err(error) => return Err(error),
        }
    }
    Ok(Delivery::Delivered)
}

/// Records that a person can (or can no longer) be written to; a failure is only logged,
/// since the conversation itself is already saved.
async fn mark_reachable(app: &App, person: PersonId, reachable: bool) {
    log::info!(
        "event={}",
        if reachable {
            "unblocked_by_person"
        } else {
            "blocked_by_person"
        }
    );
    if let Err(error) = app
        .storage
        .set_reachable(person, reachable, (app.clock)())
        .await
    {
        log::warn!("event=storage_unavailable error={error}");
    }
}

/// Sends one message in its paced turn (`ahead` more to follow it), waiting out `retry_after` (for this chat only) and
/// retrying server and network failures with a doubling delay.
async fn send_one(
    bot: &Bot,
    pacer: &Pacer,
    chat: ChatId,
    outgoing: &Outgoing,
    ahead: usize,
) -> Result<(), HandlerError> {
    let mut delay = FIRST_RETRY_DELAY;
    let mut attempt = 1;
    loop {
        wait_until(pacer.chat_turn(chat.0, Instant::now())).await;
        wait_until(pacer.take_bot_turn(ahead).await).await;
        let result = {
            let _room = pacer.room_to_send().await;
            send_request(bot, chat, outgoing).await
        };
        let wait = match &result {
            Ok(_) => {
                crate::ops::hot().replies_sent.increment(1);
                return Ok(());
            }
            Err(RequestError::RetryAfter(seconds)) => {
                Some(seconds.duration()).filter(|wait| *wait <= LONGEST_RETRY_AFTER)
            }
            // Jittered, so replicas retrying after one outage do not all come back at once.
            Err(error) if is_transient(error) => Some(delay.mul_f64(0.5 + fastrand::f64())),
            Err(_) => None,
        };
        match (wait, result) {
            (Some(wait), Err(error)) if attempt < SEND_ATTEMPTS => {
                let reason = match error {
                    RequestError::RetryAfter(_) => "retry_after",
                    RequestError::Api(_) => "server",
                    _ => "network",
                };
                metrics::counter!(names::SEND_RETRIES, "reason" => reason).increment(1);
                log::warn!(
                    "event=send_retry attempt={attempt} error={} wait_ms={}",
                    error_kind(&error),
                    wait.as_millis()
                );
                if matches!(error, RequestError::RetryAfter(_)) {
                    // The next turn this chat reserves comes after the wait.
                    pacer.hold(chat.0, Instant::now(), wait);
                } else {
                    tokio::time::sleep(wait).await;
                }
                delay *= 2;
                attempt += 1;
            }
            (_, result) => {
                if result.is_err() {
                    metrics::counter!(names::SEND_FAILURES).increment(1);
                }
                return result.map(|_| ());
            }
        }
    }
}

/// Waits until `turn`; a turn already come goes on at once, without a trip through the timer
/// (which would add about a millisecond to every message).
async fn wait_until(turn: Instant) {
    let now = Instant::now();
    if turn <= now {
        return;
    }
    // Tokio's timer counts whole milliseconds: a turn a few microseconds away (the pacing
    // scaled for load tests, or two messages a moment apart) would wait a millisecond.
    if turn - now < TIMER_RESOLUTION {
        while Instant::now() < turn {
            tokio::task::yield_now().await;
        }
        return;
    }
    tokio::time::sleep_until(turn.into()).await;
}

/// The resolution of Tokio's timer.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// One Bot API request for one outgoing message: a text, or a photo or file with its caption.
async fn send_request(bot: &Bot, chat: ChatId, outgoing: &Outgoing) -> Result<(), RequestError> {
    // Each request is turned into its (sendable) future before anything is awaited.
    let text = outgoing.text.clone();
    let keyboard = outgoing.keyboard.clone();
    let Some(file) = &outgoing.file else {
        let mut message = payloads::SendMessage::new(chat, text);
        message.reply_markup = keyboard.map(Into::into);
        return unread(bot, message).send().await.map(drop);
    };
    // sendPhoto and sendDocument are different types with the same setters.
    macro_rules! with_caption {
        ($request:expr) => {{
            let mut request = $request;
            if !text.is_empty() {
                request = request.caption(text);
            }
            if let Some(keyboard) = keyboard {
                request = request.reply_markup(keyboard);
            }
            request.send()
        }};
    }
    let input = InputFile::memory(file.bytes.clone()).file_name(file.name.clone());
    match file.kind {
        FileKind::Photo => with_caption!(bot.send_photo(chat, input)).await.map(drop),
        FileKind::Document => with_caption!(bot.send_document(chat, input))
            .await
            .map(drop),
    }
}

/// Failures worth trying again: the network, and Telegram's servers having a bad moment.
fn is_transient(error: &RequestError) -> bool {
    match error {
        RequestError::Network(_) | RequestError::Io(_) | RequestError::InvalidJson { .. } => true,
        RequestError::Api(ApiError::Unknown(description)) => {
            let description = description.to_ascii_lowercase();
            [
                "internal server error",
                "bad gateway",
                "service unavailable",
                "gateway timeout",
                "server error",
                "try again",
            ]
            .iter()
            .any(|words| description.contains(words))
        }
        _ => false,
    }
}

/// What the crisis screen finds in a message's text, or in the caption of a photo or file;
/// counted by kind, never with the text.
fn concern_in(library: &Library, message: &Message) -> Option<Input> {
    let text = message.text().or(message.caption())?;
    let concern = Input::from_text(text).concern(library);
    match &concern {
        Some(Input::Concern { concern, .. }) => {
            let certainty = match concern.certainty {
                crate::safety::Certainty::Clear => "clear",
                crate::safety::Certainty::Unsure => "unsure",
            };
            metrics::counter!(
                names::SCREEN_VERDICTS,
                "kind" => concern.kind.as_str(),
                "certainty" => certainty
            )
            .increment(1);
        }
        _ => crate::ops::hot().screened_none.increment(1),
    }
    concern
}

/// Counts an update of `kind` and, when dropped, how long it took.
struct Timed {
    started: Instant,
}

impl Timed {
    /// `kind` indexes [`crate::ops::UPDATE_KINDS`].
    fn start(kind: usize) -> Timed {
        crate::ops::hot().updates[kind].increment(1);
        Timed {
            started: Instant::now(),
        }
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        crate::ops::hot()
            .update_seconds
            .record(self.started.elapsed().as_secs_f64());
    }
}

/// Says one neutral line in a group or channel and leaves; no state is ever made for it.
async fn leave(bot: &Bot, app: &App, chat: ChatId) -> Result<(), HandlerError> {
    log::info!("event=left_group");
    let line = app.library.bot.message("group_leave").to_owned();
    // A channel may not let us post; leaving matters more than the line.
    if let Err(error) = bot.send_message(chat, line).await {
        log::debug!("could not say goodbye to a group: {}", error_kind(&error));
    }
    bot.leave_chat(chat).await?;
    Ok(())
}

/// Runs a handler so that a panic inside it is logged and contained: the dispatcher's
/// worker for this chat survives, and the person's next message is served as usual.
async fn contain(
    what: &'static str,
    handler: impl Future<Output = Result<(), HandlerError>>,
) -> Result<(), HandlerError> {
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(result) => result,
        Err(_) => {
            log::error!("event=handler_panicked update={what}");
            Ok(())
        }
    }
}

/// Sends check-in reminders through the Bot API for the reminder worker, in each chat's turn.
pub(crate) struct TelegramReminders {
    pub bot: Bot,
    pub app: Arc<App>,
}

impl Deliver for TelegramReminders {
    async fn deliver(&self, person: PersonId, _occurrence: i64) -> Result<Delivered, DeliverError> {
        let reminder = crate::dialogue::engine::reminder(&self.app.library);
        let (done, result) = tokio::sync::oneshot::channel();
        let (bot, pacer) = (self.bot.clone(), self.app.sends.pacer());
        self.app
            .sends
            .push(person.0, async move {
                let sent = send(&bot, &pacer, ChatId(person.0), &[reminder.into()]).await;
                let _ = done.send(sent);
            })
            .await;
        let sent = result
            .await
            .unwrap_or(Err(RequestError::Io(std::sync::Arc::new(
                std::io::Error::other("the send queue dropped a reminder"),
            ))));
        match sent {
            Ok(Delivery::Delivered) => Ok(Delivered::Yes),
            Ok(Delivery::Blocked) => Ok(Delivered::Blocked),
            // Telegram refused it outright, so it was not sent; after a network failure it
            // may have been, and at most once means it counts as sent.
            Err(error) => Err(DeliverError {
                maybe_sent: matches!(
                    error,
                    RequestError::Network(_)
                        | RequestError::Io(_)
                        | RequestError::InvalidJson { .. }
                ),
                reason: error_kind(&error),
            }),
        }
    }
}

/// A short, text-free name for a request error, for logs.
pub(crate) fn error_kind(error: &RequestError) -> String {
    match error {
        RequestError::Api(api) => format!("api:{api:?}").chars().take(80).collect(),
        RequestError::MigrateToChatId(_) => "migrate_to_chat".to_owned(),
        RequestError::RetryAfter(seconds) => format!("retry_after:{}s", seconds.seconds()),
        RequestError::Network(_) => "network".to_owned(),
        RequestError::InvalidJson { .. } => "invalid_json".to_owned(),
        RequestError::Io(_) => "io".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_a_handler_is_contained_and_reported_as_handled() {
        let outcome = contain("test", async { panic!("a bug in one update") }).await;
        assert!(outcome.is_ok());
    }

    #[tokio::test]
    async fn a_handler_error_still_reaches_the_error_handler() {
        let outcome = contain("test", async {
            Err(RequestError::Api(ApiError::BotBlocked))
        })
        .await;
        assert!(matches!(
            outcome,
            Err(RequestError::Api(ApiError::BotBlocked))
        ));
    }

    #[test]
    fn server_and_network_failures_are_retried_and_refusals_are_not() {
        assert!(is_transient(&RequestError::Api(ApiError::Unknown(
            "Bad Gateway".to_owned()
        ))));
        assert!(!is_transient(&RequestError::Api(ApiError::BotBlocked)));
        assert!(!is_transient(&RequestError::Api(ApiError::Unknown(
            "Bad Request: chat not found".to_owned()
        ))));
    }
}
