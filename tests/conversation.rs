//! One input for one person against the in-memory store (which passes the same conformance
//! suite as Redis and the embedded store): the engine's decision written with compare-and-set,
//! and Telegram's redeliveries applied once; and, on a real Redis, a long poller's remembered
//! states.

use std::path::Path;

use kintsugi::conversation::handle_update;
use kintsugi::dialogue::{Input, Library};
use kintsugi::dialogue_dir::compile_dir;
use kintsugi::storage::Applied;
use kintsugi::storage::{
    DueReminder, MemoryStore, PersonId, RedisStore, ReminderQueue, Retention, Storage, StorageError,
};
use kintsugi::testkit::RedisServer;
use kintsugi::vault::{MasterKey, Vault};

const NOW: i64 = 1_800_000_000;
const PERSON: PersonId = PersonId(7);

fn setup() -> (Library, Storage, ()) {
    let library = compile_dir(Path::new("tests/fixtures/engine")).expect("the fixtures load");
    let storage = Storage::new(MemoryStore::new(Retention(None)));
    (library, storage, ())
}

#[tokio::test]
async fn an_update_seen_before_gets_no_reply_and_changes_nothing() {
    let (library, storage, _directory) = setup();
    let start = Input::from_text("/start practice");
    let first = handle_update(&storage, &library, PERSON, &start, NOW, Some(10))
        .await
        .expect("handled");
    assert!(!first.is_empty());
    let before = storage.read(PERSON, NOW).await.expect("load");
    let again = handle_update(&storage, &library, PERSON, &start, NOW + 5, Some(10))
        .await
        .expect("handled");
    assert!(again.is_empty());
    assert_eq!(storage.read(PERSON, NOW).await.expect("load"), before);
    // An earlier update arriving after a later one (two replicas racing) is no duplicate.
    let earlier = handle_update(
        &storage,
        &library,
        PERSON,
        &Input::from_text("/help"),
        NOW + 5,
        Some(9),
    )
    .await
    .expect("handled");
    assert!(
        !earlier.is_empty(),
        "an earlier id not yet applied is applied"
    );
    let again = handle_update(
        &storage,
        &library,
        PERSON,
        &Input::from_text("/help"),
        NOW + 6,
        Some(9),
    )
    .await
    .expect("handled");
    assert!(again.is_empty());
}

#[tokio::test]
async fn the_ids_applied_lately_are_kept_with_the_state_up_to_a_bound() {
    let (library, storage, _directory) = setup();
    let help = Input::from_text("/help");
    for id in 1..=40 {
        handle_update(&storage, &library, PERSON, &help, NOW + id, Some(id))
            .await
            .expect("handled");
    }
    let stored = storage.read(PERSON, NOW).await.expect("load");
    assert!(stored.applied.contains(40, NOW + 41));
    assert!(
        stored
            .applied
            .contains(40 - Applied::KEPT as i64 + 1, NOW + 41)
    );
    assert!(!stored.applied.contains(40 - Applied::KEPT as i64, NOW + 41));
}

#[tokio::test]
async fn a_lower_id_long_after_is_a_new_update_since_telegram_restarts_its_numbering() {
    let (library, storage, _directory) = setup();
    let help = Input::from_text("/help");
    handle_update(&storage, &library, PERSON, &help, NOW, Some(5000))
        .await
        .expect("handled");
    let later = NOW + Applied::WINDOW;
    let replies = handle_update(&storage, &library, PERSON, &help, later, Some(3))
        .await
        .expect("handled");
    assert!(!replies.is_empty());
    let stored = storage.read(PERSON, later).await.expect("load");
    assert_eq!(stored.applied.latest().map(|update| update.id), Some(3));
}

#[tokio::test]
async fn setting_up_check_ins_schedules_the_reminder_and_turning_them_off_removes_it() {
    let (library, storage, _directory) = setup();
    walk(
        &library,
        &storage,
        &["/checkin", "press:Daily", "18:30", "press:Berlin"],
        NOW,
    )
    .await;
    // 18:30 in Berlin on 15 January 2027 is 17:30 UTC, later the same day as NOW.
    let due = storage.reminders().due_at(PERSON).await.expect("read");
    assert_eq!(due, Some(NOW + 9 * 3600 + 1800));
    walk(&library, &storage, &["/checkin off"], NOW).await;
    assert_eq!(
        storage.reminders().due_at(PERSON).await.expect("read"),
        None
    );
}

/// Walks `inputs` (a `press:` prefix presses the button with that label) at `now`.
async fn walk(library: &Library, storage: &Storage, inputs: &[&str], now: i64) {
    let mut buttons: Vec<(String, String)> = Vec::new();
    for text in inputs {
        let input = match text.strip_prefix("press:") {
            Some(label) => Input::Press(
                buttons
                    .iter()
                    .find(|(shown, _)| shown == label)
                    .map(|(_, data)| data.clone())
                    .unwrap_or_else(|| panic!("no button {label:?} in {buttons:?}")),
            ),
            None => Input::from_text(text),
        };
        let replies = kintsugi::conversation::handle(storage, library, PERSON, &input, now)
            .await
            .expect("handled");
        buttons = replies
            .iter()
            .flat_map(|ready| ready.reply.buttons.iter())
            .map(|button| (button.label.clone(), button.data.clone()))
            .collect();
    }
}

#[tokio::test]
async fn moving_to_a_new_zone_brings_no_second_reminder_that_day() {
    let (library, storage, _directory) = setup();
    // NOW is 09:00 in Berlin: a 10:00 reminder there is due in an hour.
    walk(
        &library,
        &storage,
        &["/checkin", "press:Daily", "10:00", "press:Berlin"],
        NOW,
    )
    .await;
    let first = NOW + 3600;
    assert_eq!(
        storage.reminders().due_at(PERSON).await.expect("read"),
        Some(first)
    );
    // It is sent.
    let claimed = storage
        .reminders()
        .claim_due(first, 10, 300)
        .await
        .expect("claim");
    assert!(
        storage
            .reminders()
            .mark_sending(claimed[0])
            .await
            .expect("mark")
    );

    // An hour later they move their zone to New York, where 10:00 that same day is still ahead.
    let later = first + 3600;
    walk(
        &library,
        &storage,
        &[
            "/checkin change",
            "press:Daily",
            "10:00",
            "press:Elsewhere",
            "new york",
        ],
        later,
    )
    .await;
    // 10:00 in New York on 16 January, not on the 15th: 15:00 UTC the next day.
    let next = storage.reminders().due_at(PERSON).await.expect("read");
    assert_eq!(next, Some(NOW + 7 * 3600 + 24 * 3600));
}

#[tokio::test]
async fn export_sends_every_answer_and_what_storage_keeps_beside_it() {
    let (library, storage, _directory) = setup();
    walk(
        &library,
        &storage,
        &["/checkin", "press:Daily", "18:30", "press:Berlin"],
        NOW,
    )
    .await;
    handle_update(
        &storage,
        &library,
        PERSON,
        &Input::from_text("/help"),
        NOW,
        Some(41),
    )
    .await
    .expect("handled");
    storage
        .set_reachable(PERSON, false, NOW)
        .await
        .expect("blocked");
    let replies = handle_update(
        &storage,
        &library,
        PERSON,
        &Input::from_text("/export"),
        NOW + 60,
        Some(42),
    )
    .await
    .expect("handled");
    let file = replies[0].file.clone().expect("a file");
    assert_eq!(file.name, "kintsugi-export.json");
    assert_eq!(file.kind, kintsugi::files::FileKind::Document);
    let json: serde_json::Value = serde_json::from_slice(&file.bytes).expect("JSON");
    assert_eq!(json["checkin_reminders"]["zone"], "Europe/Berlin");
    assert_eq!(json["next_reminder_due"], "2027-01-15T17:30:00+00:00");
    assert_eq!(json["last_reminder_sent"], serde_json::Value::Null);
    assert_eq!(json["blocked_the_bot"], true);
    assert_eq!(json["last_telegram_update"]["id"], 42);
    assert_eq!(json["exported_at"], "2027-01-15T08:01:00+00:00");
}

#[tokio::test]
async fn progress_with_ratings_sends_the_chart_as_a_png() {
    let (library, storage, _directory) = setup();
    walk(
        &library,
        &storage,
        &["/checkin now", "7", "A calm evening."],
        NOW,
    )
    .await;
    let replies = kintsugi::conversation::handle(
        &storage,
        &library,
        PERSON,
        &Input::from_text("/progress"),
        NOW + 60,
    )
    .await
    .expect("handled");
    let file = replies[0].file.clone().expect("a chart");
    assert_eq!(
        (file.kind, file.name.as_str()),
        (kintsugi::files::FileKind::Photo, "progress.png")
    );
    assert!(file.bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
}

/// The in-memory reminder queue, whose `schedule` fails while `failing` is set, as Redis
/// failing between a state's save and its effect would.
#[derive(Clone)]
struct FlakyQueue {
    inner: MemoryStore,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl ReminderQueue for FlakyQueue {
    async fn schedule(&self, person: PersonId, due: i64) -> Result<(), StorageError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StorageError::Worker(
                tokio::task::spawn(async { panic!("the queue is down") })
                    .await
                    .expect_err("a failed task"),
            ));
        }
        self.inner.schedule(person, due).await
    }
    async fn cancel(&self, person: PersonId) -> Result<(), StorageError> {
        self.inner.cancel(person).await
    }
    async fn due_at(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        self.inner.due_at(person).await
    }
    async fn last_sent(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        self.inner.last_sent(person).await
    }
    async fn claim_due(
        &self,
        now: i64,
        limit: usize,
        lease: i64,
    ) -> Result<Vec<DueReminder>, StorageError> {
        self.inner.claim_due(now, limit, lease).await
    }
    async fn mark_sending(&self, due: DueReminder) -> Result<bool, StorageError> {
        self.inner.mark_sending(due).await
    }
    async fn unmark_sending(&self, due: DueReminder) -> Result<(), StorageError> {
        self.inner.unmark_sending(due).await
    }
    async fn note_outbox(&self, person: PersonId) -> Result<(), StorageError> {
        self.inner.note_outbox(person).await
    }
    async fn clear_outbox(&self, person: PersonId) -> Result<(), StorageError> {
        self.inner.clear_outbox(person).await
    }
    async fn outboxes(&self, limit: usize) -> Result<Vec<PersonId>, StorageError> {
        self.inner.outboxes(limit).await
    }
}

#[tokio::test]
async fn an_effect_that_fails_after_the_save_is_kept_in_the_outbox_and_carried_out_later() {
    let library = compile_dir(Path::new("tests/fixtures/engine")).expect("the fixtures load");
    let memory = MemoryStore::new(Retention(None));
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let queue = FlakyQueue {
        inner: memory.clone(),
        failing: std::sync::Arc::clone(&failing),
    };
    let storage = Storage::with_queue(memory.clone(), queue);
    walk(
        &library,
        &storage,
        &["/checkin", "press:Daily", "18:30"],
        NOW,
    )
    .await;
    failing.store(true, std::sync::atomic::Ordering::SeqCst);
    // The last answer saves the schedule; scheduling the reminder then fails.
    let replies = handle_update(
        &storage,
        &library,
        PERSON,
        &Input::Press(last_press(&library, &storage).await),
        NOW,
        None,
    )
    .await
    .expect("the person is not told about a failure after the save");
    assert!(!replies.is_empty());
    let stored = storage.read(PERSON, NOW).await.expect("read");
    assert!(stored.state.checkin.is_some(), "the schedule is saved");
    assert!(
        !stored.state.outbox.is_empty(),
        "its effect waits in the outbox"
    );
    assert_eq!(
        storage.reminders().due_at(PERSON).await.expect("read"),
        None
    );
    assert_eq!(
        storage.reminders().outboxes(10).await.expect("read"),
        [PERSON]
    );

    // Later, with the queue back, the scheduler carries it out.
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let drained = kintsugi::reminders::drain_outboxes(&storage, NOW + 60)
        .await
        .expect("drained");
    assert_eq!(drained, 1);
    assert_eq!(
        storage.reminders().due_at(PERSON).await.expect("read"),
        Some(NOW + 9 * 3600 + 1800)
    );
    let stored = storage.read(PERSON, NOW).await.expect("read");
    assert!(stored.state.outbox.is_empty());
    assert!(
        storage
            .reminders()
            .outboxes(10)
            .await
            .expect("read")
            .is_empty()
    );
}

/// The data of the "Berlin" button on the latest check-in setup question.
async fn last_press(library: &Library, storage: &Storage) -> String {
    let replies = handle_update(
        storage,
        library,
        PERSON,
        &Input::from_text("/continue"),
        NOW,
        None,
    )
    .await
    .expect("handled");
    replies
        .iter()
        .flat_map(|ready| &ready.reply.buttons)
        .find(|button| button.label == "Berlin")
        .map(|button| button.data.clone())
        .expect("the Berlin button")
}

/// The scripts Redis has run so far (`EVALSHA`), from `INFO commandstats`: each is one round
/// trip (the commands a script runs inside Redis are counted apart, under their own names).
async fn scripts_run(url: &str) -> u64 {
    let client = redis::Client::open(url).expect("a client");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("a connection");
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut connection)
        .await
        .expect("info");
    info.lines()
        .filter(|line| line.starts_with("cmdstat_evalsha:"))
        .filter_map(|line| {
            let calls = line.split("calls=").nth(1)?;
            calls.split(',').next()?.parse::<u64>().ok()
        })
        .sum()
}

/// A long poller remembers the state it wrote last and writes over it without reading it
/// (one round trip); a write by another process in between (a shell, `/forget` and a fresh
/// start, another bot) is never hidden by it: the write over fails and the state is read.
#[tokio::test]
async fn a_remembered_state_saves_a_round_trip_and_never_hides_another_processs_write() {
    let server = RedisServer::start();
    let master = MasterKey::generate("k1");
    let open = || {
        Storage::new(RedisStore::connect(&server.url(), "test", Retention(None)).expect("a client"))
            .with_vault(
                Vault::new(MasterKey::parse(&master).expect("a key"), Vec::new()).expect("a vault"),
            )
    };
    let (poller, other) = (open().remembering(), open());
    let library = compile_dir(Path::new("tests/fixtures/engine")).expect("the fixtures load");
    let help = Input::from_text("/help");
    let handle = |storage: &Storage, input: &Input, id: i64| {
        let (storage, library, input) = (storage.clone(), library.clone(), input.clone());
        async move {
            handle_update(&storage, &library, PERSON, &input, NOW, Some(id))
                .await
                .expect("handled")
        }
    };
    // The first write makes the person's key; from the second on, the poller remembers.
    handle(&poller, &Input::from_text("/start practice"), 1).await;
    handle(&poller, &help, 2).await;
    // (The first write over loads its script.)
    handle(&poller, &help, 3).await;
    let before = scripts_run(&server.url()).await;
    assert!(!handle(&poller, &help, 4).await.is_empty());
    assert_eq!(
        scripts_run(&server.url()).await - before,
        1,
        "one round trip: the write over the remembered state (reading first would be two)"
    );
    let remembered = other.read(PERSON, NOW).await.expect("read").version;

    // Another process forgets the person, who starts again, up to the same version.
    other.delete_person(PERSON).await.expect("forget");
    handle(&other, &Input::from_text("/start practice"), 11).await;
    for id in 12..=(11 + remembered as i64 - 1) {
        handle(&other, &help, id).await;
    }
    let theirs = other.read(PERSON, NOW).await.expect("read");
    assert_eq!(
        theirs.version, remembered,
        "the same version, another write"
    );
    assert!(!handle(&poller, &help, 20).await.is_empty());
    let stored = other.read(PERSON, NOW).await.expect("read");
    assert_eq!(stored.version, remembered + 1);
    assert!(stored.applied.contains(11, NOW) && stored.applied.contains(20, NOW));
    assert!(
        !stored.applied.contains(3, NOW),
        "nothing of the forgotten state"
    );

    // A plain write by another process is seen too.
    handle(&other, &help, 21).await;
    handle(&poller, &help, 22).await;
    let stored = other.read(PERSON, NOW).await.expect("read");
    assert!(stored.applied.contains(21, NOW) && stored.applied.contains(22, NOW));
    assert_eq!(stored.version, remembered + 3);

    // Telegram delivering an update twice: applied once on the remembered path as well.
    assert!(!handle(&poller, &help, 23).await.is_empty());
    assert!(handle(&poller, &help, 23).await.is_empty());
}
