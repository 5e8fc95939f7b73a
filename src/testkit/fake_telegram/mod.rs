//! A fake Telegram Bot API server on a free loopback port, for end-to-end tests that run the
//! real `kintsugi` binary with `TELOXIDE_API_URL` pointing here. It hands out the updates a
//! test queues through `getUpdates` (long polling, acknowledged by offset as Telegram does),
//! records every request, answers like Telegram, and can inject failures (429, 5xx, 403).
//! It runs on its own runtime in a background thread, so tests can be plain functions.

mod server;
mod updates;
mod webhook;

use self::server::answer;
pub use self::updates::text_update;
use self::updates::{bot_user, private_message, sent, user};
pub use self::webhook::WebhookTargets;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};

/// A failure's status meaning: close the connection without an answer.
const BROKEN_CONNECTION: u16 = 0;

/// The id of the fake bot itself.
pub(crate) const BOT_ID: i64 = 777_000;

/// A request the bot made: the method (lowercase, `sendmessage`) and its JSON body.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

/// A message the bot sent: where, what (a photo's or file's caption), and the labels and data
/// of its buttons.
#[derive(Debug, Clone)]
pub struct Sent {
    pub chat: i64,
    pub message_id: i64,
    pub text: String,
    pub buttons: Vec<(String, String)>,
    /// The photo or file it carried (`sendPhoto`, `sendDocument`).
    pub file: Option<SentFile>,
    /// When the request arrived.
    pub at: Instant,
}

/// A photo or file the bot sent.
#[derive(Debug, Clone)]
pub struct SentFile {
    /// `photo` or `document`.
    pub kind: String,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The methods that send a message.
const SENDING: [&str; 3] = ["sendmessage", "sendphoto", "senddocument"];

/// A failure to give instead of the next answer to `method`.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub method: String,
    pub status: u16,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    /// Updates not yet acknowledged by an offset past them.
    updates: VecDeque<Value>,
    /// Every update ever queued, to deliver one again.
    history: Vec<Value>,
    /// Updates to hand out once more whatever the offset, as Telegram does after a crash.
    redeliveries: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: i64,
    /// The highest update id handed out so far, so each is reported once.
    handed_out: i64,
    requests: Vec<Request>,
    failures: VecDeque<Failure>,
    limits: TelegramLimits,
    /// Sends refused with a 429 for breaking the limits.
    rejected: usize,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Wakes test threads waiting for a request.
    changed: Condvar,
    /// Wakes a long poll when an update is queued.
    queued: tokio::sync::Notify,
    options: FakeOptions,
}

/// Something the fake saw, with when: for the load tool's clocks.
#[derive(Debug, Clone, Copy)]
pub enum FakeEvent {
    /// `getUpdates` handed out an update from `chat`.
    HandedOut { chat: i64, at: Instant },
    /// The bot asked to send a message to `chat`.
    Sent { chat: i64, at: Instant },
    /// The bot asked for updates (`getUpdates`), or to have them posted to it (`setWebhook`,
    /// `webhook`): it has started taking them.
    Asked { webhook: bool },
}

/// Called for every [`FakeEvent`], on the fake's own thread.
pub(crate) type Observer = Arc<dyn Fn(FakeEvent) + Send + Sync>;

/// How the fake behaves.
#[derive(Clone)]
pub struct FakeOptions {
    /// Keep every request and update for the test to read (off under load, to keep memory
    /// flat).
    pub record: bool,
    pub observer: Option<Observer>,
    /// Enforce Telegram's send limits, answering 429 with `retry_after` when they are broken
    /// (lifted only for load tests, whose bot runs without limits too).
    pub limits: bool,
    /// Post updates to these webhook replicas instead of handing them to `getUpdates`.
    pub webhook: Option<WebhookTargets>,
}

impl Default for FakeOptions {
    fn default() -> FakeOptions {
        FakeOptions {
            record: true,
            observer: None,
            limits: true,
            webhook: None,
        }
    }
}

/// Telegram's send limits as the fake enforces them. Telegram documents them loosely ("avoid
/// sending more than one message per second" to a chat, with short bursts tolerated, and
/// "no more than about 30 messages per second" overall); the fake keeps each as a GCRA
/// schedule: one message a second per private chat with bursts of up to 5, and 30 a second
/// overall with a tolerance of a tenth of a second.
#[derive(Debug, Default)]
pub(crate) struct TelegramLimits {
    chats: std::collections::HashMap<i64, Instant>,
    bot: Option<Instant>,
}

/// A private chat's steady rate and burst, and the bot's steady rate and tolerance.
const CHAT_INTERVAL: Duration = Duration::from_secs(1);
const CHAT_BURST: u32 = 5;
const BOT_INTERVAL: Duration = Duration::from_nanos(1_000_000_000 / 30);
const BOT_TOLERANCE: Duration = Duration::from_millis(100);

impl TelegramLimits {
    /// Takes one message to `chat` at `now`, or says how long the bot must wait.
    pub(crate) fn admit(&mut self, chat: i64, now: Instant) -> Result<(), Duration> {
        let chat_tolerance = CHAT_INTERVAL * (CHAT_BURST - 1);
        let chat_due = self.chats.get(&chat).copied().unwrap_or(now);
        let bot_due = self.bot.unwrap_or(now);
        let chat_wait = chat_due.saturating_duration_since(now + chat_tolerance);
        let bot_wait = bot_due.saturating_duration_since(now + BOT_TOLERANCE);
        if !chat_wait.is_zero() || !bot_wait.is_zero() {
            return Err(chat_wait.max(bot_wait));
        }
        self.chats.insert(chat, chat_due.max(now) + CHAT_INTERVAL);
        self.bot = Some(bot_due.max(now) + BOT_INTERVAL);
        Ok(())
    }
}

/// The running fake server; stops with the test process.
pub struct FakeTelegram {
    shared: Arc<Shared>,
    address: SocketAddr,
}

impl FakeTelegram {
    pub fn start() -> FakeTelegram {
        FakeTelegram::start_with(FakeOptions::default())
    }

    pub fn start_with(options: FakeOptions) -> FakeTelegram {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                next_update_id: 1,
                next_message_id: 1000,
                ..Inner::default()
            }),
            changed: Condvar::new(),
            queued: tokio::sync::Notify::new(),
            options,
        });
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .expect("a free loopback port for the fake Bot API");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let address = listener.local_addr().expect("the fake's address");
        let state = Arc::clone(&shared);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime for the fake Bot API");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                if let Some(targets) = state.options.webhook.clone() {
                    tokio::spawn(self::webhook::deliver(Arc::clone(&state), targets));
                }
                let app = Router::new()
                    .route("/{bot}/{method}", post(answer))
                    .with_state(state);
                axum::serve(listener, app)
                    .await
                    .expect("the fake Bot API serves");
            });
        });
        FakeTelegram { shared, address }
    }

    /// What `TELOXIDE_API_URL` should be.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Queues a text message from person `chat` in their private chat.
    pub fn send_text(&self, chat: i64, text: &str) {
        self.push(|id, message_id| {
            json!({
                "update_id": id,
                "message": private_message(chat, message_id, chat, text),
            })
        });
    }

    /// Queues an edit of an earlier message of person `chat`, now reading `text`.
    pub fn edit_text(&self, chat: i64, text: &str) {
        self.push(|id, message_id| {
            let mut message = private_message(chat, message_id, chat, text);
            message["edit_date"] = json!(1_800_000_060);
            json!({ "update_id": id, "edited_message": message })
        });
    }

    /// Queues a photo from person `chat` with `caption` under it.
    pub fn send_photo(&self, chat: i64, caption: &str) {
        self.push(|id, message_id| {
            let mut message = private_message(chat, message_id, chat, "");
            if let Some(fields) = message.as_object_mut() {
                fields.remove("text");
            }
            message["caption"] = json!(caption);
            message["photo"] = json!([{
                "file_id": "their-photo", "file_unique_id": "their-photo-1",
                "width": 90, "height": 90, "file_size": 1000,
            }]);
            json!({ "update_id": id, "message": message })
        });
    }

    /// Queues a text message from person `from` in group chat `group` (a negative id).
    pub fn send_group_text(&self, group: i64, from: i64, text: &str) {
        self.push(|id, message_id| {
            json!({
                "update_id": id,
                "message": {
                    "message_id": message_id,
                    "date": 1_800_000_000,
                    "chat": { "id": group, "type": "group", "title": "Friends" },
                    "from": user(from),
                    "text": text,
                },
            })
        });
    }

    /// Queues a press of `data` on message `message_id` by person `chat`.
    pub fn press(&self, chat: i64, message_id: i64, data: &str) {
        self.push(|id, _| {
            json!({
                "update_id": id,
                "callback_query": {
                    "id": format!("q{id}"),
                    "from": user(chat),
                    "chat_instance": "fake",
                    "data": data,
                    "message": {
                        "message_id": message_id,
                        "date": 1_800_000_000,
                        "chat": { "id": chat, "type": "private", "first_name": "Ana" },
                        "from": { "id": BOT_ID, "is_bot": true, "first_name": "Kintsugi" },
                        "text": "…",
                    },
                },
            })
        });
    }

    /// Queues Telegram's news that person `chat` now has `status` towards the bot in their
    /// private chat: `kicked` when they block it, `member` when they unblock it.
    pub fn member_status(&self, chat: i64, status: &str) {
        self.push(|id, _| {
            let old = if status == "kicked" {
                "member"
            } else {
                "kicked"
            };
            let mut old_member = json!({ "status": old, "user": bot_user() });
            let mut new_member = json!({ "status": status, "user": bot_user() });
            for member in [&mut old_member, &mut new_member] {
                if member["status"] == "kicked" {
                    member["until_date"] = json!(0);
                }
            }
            json!({
                "update_id": id,
                "my_chat_member": {
                    "chat": { "id": chat, "type": "private", "first_name": "Ana" },
                    "from": user(chat),
                    "date": 1_800_000_000,
                    "old_chat_member": old_member,
                    "new_chat_member": new_member,
                },
            })
        });
    }

    /// Presses the button labelled `label` on the latest message to `chat` that has it.
    pub fn press_label(&self, chat: i64, label: &str) {
        let sent = self.sent_to(chat);
        let (message_id, data) = sent
            .iter()
            .rev()
            .find_map(|message| {
                message
                    .buttons
                    .iter()
                    .find(|(text, _)| text == label)
                    .map(|(_, data)| (message.message_id, data.clone()))
            })
            .unwrap_or_else(|| panic!("no button {label:?} was sent to {chat}: {sent:#?}"));
        self.press(chat, message_id, &data);
    }

    /// Waits until a message with a button labelled `label` reaches `chat`, then presses it.
    pub fn press_when_shown(&self, chat: i64, label: &str, timeout: Duration) {
        self.wait_until(timeout, || {
            self.sent_to(chat)
                .iter()
                .any(|message| message.buttons.iter().any(|(text, _)| text == label))
                .then_some(())
        })
        .unwrap_or_else(|| {
            panic!(
                "no button {label:?} reached {chat} within {timeout:?}; sent: {:#?}",
                self.sent_to(chat)
            )
        });
        self.press_label(chat, label);
    }

    /// Waits until a message starting with `prefix` reaches `chat` after the first `skip`
    /// messages; returns it.
    pub fn wait_for_text(&self, chat: i64, skip: usize, prefix: &str, timeout: Duration) -> Sent {
        self.wait_for_message(chat, skip, timeout, |text| text.starts_with(prefix))
    }

    /// Waits until a message to `chat`, after the first `skip`, satisfies `wanted`; returns it.
    pub fn wait_for_message(
        &self,
        chat: i64,
        skip: usize,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Sent {
        self.wait_until(timeout, || {
            self.sent_to(chat)
                .into_iter()
                .skip(skip)
                .find(|message| wanted(&message.text))
        })
        .unwrap_or_else(|| {
            panic!(
                "the awaited message did not reach {chat} within {timeout:?}; sent: {:#?}",
                self.sent_to(chat)
            )
        })
    }

    /// Hands the most recent update out once more, whatever offset the bot asks from.
    pub fn redeliver_last(&self) {
        let mut inner = self.shared.inner.lock().expect("the fake's lock");
        let last = inner
            .history
            .last()
            .cloned()
            .expect("an update to deliver again");
        inner.redeliveries.push_back(last);
        drop(inner);
        self.shared.changed.notify_all();
        self.shared.queued.notify_waiters();
    }

    /// Answers the next request to `method` with an HTTP `status` and Telegram's error body.
    pub fn fail_next(
        &self,
        method: &str,
        status: u16,
        description: &str,
        retry_after: Option<u64>,
    ) {
        let mut body = json!({ "ok": false, "error_code": status, "description": description });
        if let Some(seconds) = retry_after {
            body["parameters"] = json!({ "retry_after": seconds });
        }
        let mut inner = self.shared.inner.lock().expect("the fake's lock");
        inner.failures.push_back(Failure {
            method: method.to_lowercase(),
            status,
            body,
        });
    }

    /// Closes the connection of the next call of `method` without answering, as a network
    /// failure does.
    pub fn break_next(&self, method: &str) {
        let mut inner = self.shared.inner.lock().expect("the fake's lock");
        inner.failures.push_back(Failure {
            method: method.to_lowercase(),
            status: BROKEN_CONNECTION,
            body: Value::Null,
        });
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared
            .inner
            .lock()
            .expect("the fake's lock")
            .requests
            .clone()
    }

    /// How many sends were refused with a 429 for breaking Telegram's limits.
    pub fn rejected(&self) -> usize {
        self.shared.inner.lock().expect("the fake's lock").rejected
    }

    /// Every message sent to `chat` so far, in order.
    pub fn sent_to(&self, chat: i64) -> Vec<Sent> {
        self.requests()
            .iter()
            .filter(|request| SENDING.contains(&request.method.as_str()))
            .filter_map(sent)
            .filter(|message| message.chat == chat)
            .collect()
    }

    /// Waits until `chat` has been sent at least `count` messages in all; panics after
    /// `timeout` with what was sent. Returns every message sent to `chat`.
    pub fn wait_for_messages(&self, chat: i64, count: usize, timeout: Duration) -> Vec<Sent> {
        self.wait_until(timeout, || {
            let sent = self.sent_to(chat);
            (sent.len() >= count).then_some(sent)
        })
        .unwrap_or_else(|| {
            panic!(
                "expected {count} messages to {chat} within {timeout:?}; got {:#?}",
                self.sent_to(chat)
            )
        })
    }

    /// Waits until a request to `method` has been made at least `count` times.
    pub fn wait_for_requests(&self, method: &str, count: usize, timeout: Duration) {
        let method = method.to_lowercase();
        self.wait_until(timeout, || {
            let made = self
                .requests()
                .iter()
                .filter(|request| request.method == method)
                .count();
            (made >= count).then_some(())
        })
        .unwrap_or_else(|| panic!("expected {count} {method} requests within {timeout:?}"));
    }

    /// Waits until every queued update has been acknowledged (an offset past it was asked for).
    pub fn wait_until_acknowledged(&self, timeout: Duration) {
        self.wait_until(timeout, || {
            let inner = self.shared.inner.lock().expect("the fake's lock");
            inner.updates.is_empty().then_some(())
        })
        .unwrap_or_else(|| panic!("updates were not acknowledged within {timeout:?}"));
    }

    fn wait_until<T>(&self, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = check() {
                return Some(found);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let inner = self.shared.inner.lock().expect("the fake's lock");
            let _ = self
                .shared
                .changed
                .wait_timeout(inner, left.min(Duration::from_millis(50)));
        }
    }

    fn push(&self, make: impl FnOnce(i64, i64) -> Value) {
        let mut inner = self.shared.inner.lock().expect("the fake's lock");
        let (id, message_id) = (inner.next_update_id, inner.next_message_id);
        inner.next_update_id += 1;
        inner.next_message_id += 1;
        let update = make(id, message_id);
        if self.shared.options.record {
            inner.history.push(update.clone());
        }
        inner.updates.push_back(update);
        drop(inner);
        self.shared.changed.notify_all();
        self.shared.queued.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_refuses_a_sixth_message_at_once_to_one_chat_and_the_31st_in_a_second() {
        let mut limits = TelegramLimits::default();
        let start = Instant::now();
        // Five in a fifth of a second (as fast as the bot's own limit lets one chat go).
        let moments: Vec<Instant> = (0..7)
            .map(|n| start + Duration::from_millis(40) * n)
            .collect();
        for at in &moments[..5] {
            assert_eq!(limits.admit(1, *at), Ok(()));
        }
        let wait = limits
            .admit(1, moments[5])
            .expect_err("a sixth is too many");
        assert!(wait > Duration::from_millis(700), "{wait:?}");
        assert_eq!(limits.admit(1, moments[5] + wait), Ok(()));

        let mut limits = TelegramLimits::default();
        let refused = (0..40)
            .filter(|chat| limits.admit(*chat, start).is_err())
            .count();
        // 30 a second, with a tenth of a second's tolerance: the first 4 go at once.
        assert_eq!(refused, 36);
    }
}
