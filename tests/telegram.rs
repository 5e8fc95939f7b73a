//! The Telegram handler tree, driven by `teloxide_tests`' fake Bot API: every command, button
//! and bad input a person can send, on the real flows and a real embedded store.

use std::path::Path;
use std::sync::Arc;

use kintsugi::dialogue::Library;
use kintsugi::dialogue_dir::compile_dir;
use kintsugi::flood::FloodGate;
use kintsugi::flood::FloodLimit;
use kintsugi::storage::{EmbeddedStore, PersonId, RedisStore, Retention, Storage};
use kintsugi::telegram::queue::SendQueue;
use kintsugi::telegram::{App, schema};
use kintsugi::testkit::RedisServer;
use kintsugi::vault::{MasterKey, Vault};
use teloxide::dptree;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButtonKind, ReplyMarkup};
use teloxide_tests::mock_bot::DistributionKey;
use teloxide_tests::{
    MockBot, MockCallbackQuery, MockGroupChat, MockMessageSticker, MockMessageText, MockUser,
};

const NOW: i64 = 1_800_000_000;

fn clock() -> i64 {
    NOW
}

fn library() -> Arc<Library> {
    Arc::new(compile_dir(Path::new("dialogues")).expect("the shipped dialogues are valid"))
}

/// A fake Bot API and the real handler tree on an embedded store in a temporary folder.
struct Harness {
    bot: MockBot<kintsugi::telegram::handlers::HandlerError, DistributionKey>,
    storage: Storage,
    library: Arc<Library>,
    _directory: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        let directory = tempfile::tempdir().expect("a temporary folder");
        let storage = Storage::new(
            EmbeddedStore::open(directory.path(), Retention(None)).expect("an embedded store"),
        );
        Harness::with(storage, directory, FloodLimit::default())
    }

    fn with(storage: Storage, directory: tempfile::TempDir, flood: FloodLimit) -> Harness {
        let library = library();
        let mut bot = MockBot::new(MockMessageText::new().text("/start"), schema());
        bot.dependencies(dptree::deps![Arc::new(App {
            library: Arc::clone(&library),
            storage: storage.clone(),
            clock,
            flood: FloodGate::new(flood),
            sends: SendQueue::inline(),
            replicas: false,
            invite_link: None,
        })]);
        Harness {
            bot,
            storage,
            library,
            _directory: directory,
        }
    }

    /// A harness whose Redis is not there: nothing listens on its loopback port.
    fn unreachable_store() -> Harness {
        let port = kintsugi::testkit::free_port();
        let storage = Storage::new(
            RedisStore::connect(
                &format!("redis://127.0.0.1:{port}/"),
                "test",
                Retention(None),
            )
            .expect("a lazy client"),
        );
        Harness::with(
            storage,
            tempfile::tempdir().expect("a temporary folder"),
            FloodLimit::default(),
        )
    }

    /// Sends a text from the default private chat; returns the texts the bot sent.
    async fn send(&mut self, text: &str) -> Vec<String> {
        self.bot.update(MockMessageText::new().text(text));
        self.bot.dispatch().await;
        self.texts()
    }

    /// Presses the button labelled `label` on the last message with buttons.
    async fn press(&mut self, label: &str) -> Vec<String> {
        let (message, data) = self.button(label);
        self.bot
            .update(MockCallbackQuery::new().data(data).message(message));
        self.bot.dispatch().await;
        self.texts()
    }

    fn texts(&self) -> Vec<String> {
        self.bot
            .get_responses()
            .sent_messages
            .iter()
            .filter_map(|message| message.text().map(str::to_owned))
            .collect()
    }

    fn labels(&self) -> Vec<String> {
        self.last_keyboard()
            .map(|(_, buttons)| buttons.into_iter().map(|(label, _)| label).collect())
            .unwrap_or_default()
    }

    fn last_keyboard(&self) -> Option<(Message, Vec<(String, String)>)> {
        let responses = self.bot.get_responses();
        responses.sent_messages.iter().rev().find_map(|message| {
            let markup = message.reply_markup()?;
            let buttons = markup
                .inline_keyboard
                .iter()
                .flatten()
                .filter_map(|button| match &button.kind {
                    InlineKeyboardButtonKind::CallbackData(data) => {
                        Some((button.text.clone(), data.clone()))
                    }
                    _ => None,
                })
                .collect();
            Some((message.clone(), buttons))
        })
    }

    fn button(&self, label: &str) -> (Message, String) {
        let (message, buttons) = self.last_keyboard().expect("a message with buttons");
        let data = buttons
            .into_iter()
            .find(|(text, _)| text == label)
            .unwrap_or_else(|| panic!("no button {label:?}; buttons: {:?}", self.labels()))
            .1;
        (message, data)
    }

    fn message(&self, key: &str) -> String {
        self.library.bot.message(key).to_owned()
    }

    /// Whether the last update took no keyboard off a message.
    fn no_keyboard_removed(&self) -> bool {
        self.bot
            .get_responses()
            .edited_messages_reply_markup
            .is_empty()
    }
}

#[tokio::test]
async fn start_welcomes_and_asks_who_the_person_is_with_buttons() {
    let mut harness = Harness::new();
    let texts = harness.send("/start").await;
    assert!(texts[0].starts_with("Hi, I'm Kintsugi."), "{texts:?}");
    assert_eq!(
        harness.labels(),
        [
            "I was the one hurt",
            "I broke the trust",
            "We're working on it together"
        ]
    );
}

#[tokio::test]
async fn a_press_is_answered_its_keyboard_removed_and_the_flow_moves_on() {
    let mut harness = Harness::new();
    harness.send("/start ground-rules").await;
    let texts = harness.press("Let's begin").await;
    let responses = harness.bot.get_responses();
    assert_eq!(responses.answered_callback_queries.len(), 1);
    assert_eq!(responses.edited_messages_reply_markup.len(), 1);
    assert!(
        responses.edited_messages_reply_markup[0]
            .message
            .reply_markup()
            .is_none(),
        "the pressed message keeps no buttons"
    );
    assert!(
        texts[0].starts_with("First, a good time and place."),
        "{texts:?}"
    );
}

#[tokio::test]
async fn a_press_on_an_old_message_gets_a_note_and_the_current_step_again() {
    let mut harness = Harness::new();
    harness.send("/start ground-rules").await;
    let old = harness.button("Let's begin");
    harness.press("Let's begin").await;
    harness
        .bot
        .update(MockCallbackQuery::new().data(old.1).message(old.0));
    harness.bot.dispatch().await;
    let texts = harness.texts();
    assert_eq!(texts[0], harness.message("stale_button"));
    assert!(
        texts[1].starts_with("When and where could that be"),
        "{texts:?}"
    );
    assert_eq!(
        harness.bot.get_responses().answered_callback_queries.len(),
        1
    );
}

#[tokio::test]
async fn forged_button_data_changes_nothing() {
    let mut harness = Harness::new();
    harness.send("/start ground-rules").await;
    let before = harness
        .storage
        .read(PersonId(MockUser::ID as i64), NOW)
        .await
        .expect("load");
    let (message, _) = harness.button("Let's begin");
    harness.bot.update(
        MockCallbackQuery::new()
            .data("99|f:../../etc/passwd".to_owned())
            .message(message),
    );
    harness.bot.dispatch().await;
    assert_eq!(harness.texts()[0], harness.message("stale_button"));
    let after = harness
        .storage
        .read(PersonId(MockUser::ID as i64), NOW)
        .await
        .expect("load");
    assert_eq!(after.state.position, before.state.position);
}

#[tokio::test]
async fn a_typed_answer_is_saved_and_shown_back_exactly_as_written() {
    let mut harness = Harness::new();
    harness.send("/start ground-rules").await;
    harness.press("Let's begin").await;
    let written = "Sunday <b>10am</b> & *no* phones_";
    harness.send(written).await;
    let stored = harness
        .storage
        .read(PersonId(MockUser::ID as i64), NOW)
        .await
        .expect("load");
    assert_eq!(
        stored.state.answers[&kintsugi::dialogue::FlowId("ground-rules".to_owned())]["time_place"]
            .value,
        written
    );
    // Plain text, no parse mode: the characters arrive untouched.
    let sent = harness.bot.get_responses().sent_messages_text;
    assert!(
        sent.iter()
            .all(|message| message.bot_request.parse_mode.is_none())
    );
}

#[tokio::test]
async fn a_sticker_gets_a_kind_reply_and_the_current_step_again() {
    let mut harness = Harness::new();
    harness.send("/start ground-rules").await;
    harness.bot.update(MockMessageSticker::new());
    harness.bot.dispatch().await;
    let texts = harness.texts();
    assert_eq!(texts[0], harness.message("unsupported"));
    assert!(
        texts[1].starts_with("Let's make a small ground-rules card"),
        "{texts:?}"
    );
    assert_eq!(harness.labels(), ["Let's begin", "Not right now"]);
}

#[tokio::test]
async fn faq_shows_questions_and_a_question_button_keeps_its_list() {
    let mut harness = Harness::new();
    let texts = harness.send("/faq").await;
    assert_eq!(texts, [harness.message("faq")]);
    assert_eq!(harness.labels().len(), harness.library.faq.questions.len());
    let texts = harness.press("1. How long it takes").await;
    assert!(
        texts[0].contains('?'),
        "the answer starts with its question: {texts:?}"
    );
    assert!(
        harness.no_keyboard_removed(),
        "the FAQ list stays pressable"
    );
}

#[tokio::test]
async fn commands_from_bot_toml_work_on_telegram() {
    let mut harness = Harness::new();
    let texts = harness.send("/rules").await;
    assert!(
        texts[0].starts_with("You haven't made a ground-rules card yet"),
        "{texts:?}"
    );
    let texts = harness.send("/safety").await;
    assert!(!texts.is_empty());
    assert!(
        !harness.labels().is_empty(),
        "the safety flow offers buttons"
    );
}

#[tokio::test]
async fn in_a_group_the_bot_says_one_line_and_keeps_no_state() {
    let mut harness = Harness::new();
    harness.bot.update(
        MockMessageText::new()
            .text("/start")
            .chat(MockGroupChat::new().build()),
    );
    harness.bot.dispatch().await;
    assert_eq!(harness.texts(), [harness.message("group_leave")]);
    let keys = harness
        .storage
        .keys_of(PersonId(MockGroupChat::ID), NOW)
        .await
        .expect("keys");
    assert!(keys.is_empty(), "{keys:?}");
    let person = harness
        .storage
        .keys_of(PersonId(MockUser::ID as i64), NOW)
        .await
        .expect("keys");
    assert!(person.is_empty(), "{person:?}");
}

#[tokio::test]
async fn when_the_store_is_unreachable_the_person_is_told_kindly() {
    let mut harness = Harness::unreachable_store();
    let texts = harness.send("/start").await;
    assert_eq!(texts, [harness.message("storage_down")]);
}

#[tokio::test]
async fn crisis_words_get_the_safety_reply_even_when_the_store_is_unreachable() {
    let mut harness = Harness::unreachable_store();
    let texts = harness.send("I want to kill myself").await;
    assert_eq!(texts, [harness.message("safety_self_harm")]);
    assert!(
        harness
            .labels()
            .contains(&harness.message("safety_grounding")),
        "{:?}",
        harness.labels()
    );
}

#[tokio::test]
async fn the_keyboard_is_inline_under_the_message() {
    let mut harness = Harness::new();
    harness.send("/start").await;
    let responses = harness.bot.get_responses();
    let request = &responses
        .sent_messages_text
        .last()
        .expect("a sent message")
        .bot_request;
    assert!(matches!(
        request.reply_markup,
        Some(ReplyMarkup::InlineKeyboard(_))
    ));
}

#[tokio::test]
async fn a_flood_gets_one_gentle_note_and_the_rest_is_dropped() {
    let directory = tempfile::tempdir().expect("a temporary folder");
    let storage = Storage::new(
        EmbeddedStore::open(directory.path(), Retention(None)).expect("an embedded store"),
    );
    a_flood_gets_one_note(storage, directory).await;
}

/// A long poller on Redis writes over the state it remembers, and flood control rides in that
/// write: the same note once, the same drops.
#[tokio::test]
async fn a_flood_gets_one_gentle_note_over_a_remembered_state_on_redis() {
    let server = RedisServer::start();
    let vault = Vault::new(
        MasterKey::parse(&MasterKey::generate("k1")).expect("a key"),
        Vec::new(),
    )
    .expect("a vault");
    let storage = Storage::new(
        RedisStore::connect(&server.url(), "test", Retention(None)).expect("a client"),
    )
    .with_vault(vault)
    .remembering();
    let directory = tempfile::tempdir().expect("a temporary folder");
    a_flood_gets_one_note(storage, directory).await;
}

async fn a_flood_gets_one_note(storage: Storage, directory: tempfile::TempDir) {
    let limit = FloodLimit {
        burst: 2,
        per_minute: 1,
    };
    let mut harness = Harness::with(storage, directory, limit);
    let burst: Vec<MockMessageText> = (0..6)
        .map(|_| MockMessageText::new().text("/faq 1"))
        .collect();
    harness.bot.update(burst);
    harness.bot.dispatch().await;
    let texts = harness.texts();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert_eq!(texts[2], harness.message("flood"));
}

#[tokio::test]
async fn menu_help_continue_and_cancel_work_anywhere() {
    let mut harness = Harness::new();
    harness.send("/start ground-rules").await;
    let help = harness.send("/help").await;
    assert_eq!(help[0], harness.message("help"));
    assert!(
        help[1].starts_with("Let's make a small ground-rules card"),
        "{help:?}"
    );
    let again = harness.send("/continue").await;
    assert!(
        again[0].starts_with("Let's make a small ground-rules card"),
        "{again:?}"
    );
    let cancelled = harness.send("/cancel").await;
    assert_eq!(cancelled[0], harness.message("cancelled"));
    let menu = harness.send("/menu").await;
    assert_eq!(menu.len(), 1);
    assert!(menu[0].starts_with(&harness.message("menu")), "{menu:?}");
    assert!(harness.labels().len() > 5, "{:?}", harness.labels());
    let unknown = harness.send("/frobnicate").await;
    assert_eq!(unknown[0], harness.message("unknown_command"));
}

#[tokio::test]
async fn a_typed_question_outside_a_flow_is_offered_faq_answers() {
    let mut harness = Harness::new();
    harness.send("/start").await;
    harness.send("/cancel").await;
    let texts = harness.send("how long does this take?").await;
    assert_eq!(texts, [harness.message("faq_suggest")]);
    // The whole list and the menu a tap away, not the whole menu under the offer.
    let labels = harness.labels();
    assert_eq!(
        labels.last(),
        Some(&harness.message("menu_button")),
        "{labels:?}"
    );
    assert!(
        labels.contains(&harness.message("faq_all_button")),
        "{labels:?}"
    );
    let menu = harness.press(&harness.message("menu_button")).await;
    assert!(menu[0].starts_with(&harness.message("menu")), "{menu:?}");
}

#[tokio::test]
async fn none_of_the_offered_questions_shows_them_all_and_the_offer_keeps_its_buttons() {
    let mut harness = Harness::new();
    let texts = harness
        .send("/faq he laughed when i said we should see someone together")
        .await;
    assert_eq!(texts, [harness.message("faq_suggest")]);
    let texts = harness.press(&harness.message("faq_all_button")).await;
    assert_eq!(texts, [harness.message("faq")]);
    assert_eq!(harness.labels().len(), harness.library.faq.questions.len());
    assert!(
        harness.no_keyboard_removed(),
        "the offered questions stay pressable"
    );
}

#[tokio::test]
async fn a_deep_link_opens_its_flow_directly() {
    let mut harness = Harness::new();
    let texts = harness.send("/start forgiveness").await;
    assert!(
        texts[0].starts_with("Forgiveness isn't a switch"),
        "{texts:?}"
    );
}
