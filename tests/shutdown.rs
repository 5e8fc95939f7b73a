//! `telegram::run` in this process, against the fake Bot API on loopback, stopped by the
//! shutdown future it is given while an update is in flight: the update finishes (its reply
//! reaches the person and its state is written) before `run` returns.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kintsugi::config::ReminderConfig;
use kintsugi::dialogue_dir::compile_dir;
use kintsugi::flood::FloodGate;
use kintsugi::flood::FloodLimit;
use kintsugi::storage::{
    Applied, MemoryStore, PersonId, PersonStore, RawState, RawWrite, Retention, Saved, Storage,
    StorageError,
};
use kintsugi::telegram::pace::SendLimits;
use kintsugi::telegram::queue::SendQueue;
use kintsugi::telegram::{App, Listen};
use kintsugi::testkit::FakeTelegram;
use tokio::sync::{Notify, oneshot};

const PERSON: i64 = 4242;

/// The in-memory store, with each state read held up until the test has seen it start.
#[derive(Clone)]
struct SlowStore {
    inner: MemoryStore,
    reading: Arc<Notify>,
}

#[async_trait]
impl PersonStore for SlowStore {
    fn kind(&self) -> &'static str {
        "slow memory"
    }
    async fn read_state(&self, person: PersonId, now: i64) -> Result<RawState, StorageError> {
        self.reading.notify_one();
        tokio::time::sleep(Duration::from_millis(400)).await;
        self.inner.read_state(person, now).await
    }
    async fn write_state(
        &self,
        person: PersonId,
        write: RawWrite,
        expected: u64,
        now: i64,
        applied: Option<Applied>,
    ) -> Result<Saved, StorageError> {
        self.inner
            .write_state(person, write, expected, now, applied)
            .await
    }
    async fn set_reachable(
        &self,
        person: PersonId,
        reachable: bool,
        now: i64,
    ) -> Result<(), StorageError> {
        self.inner.set_reachable(person, reachable, now).await
    }
    async fn is_reachable(&self, person: PersonId, now: i64) -> Result<bool, StorageError> {
        self.inner.is_reachable(person, now).await
    }
    async fn delete_person(&self, person: PersonId) -> Result<(), StorageError> {
        self.inner.delete_person(person).await
    }
    async fn vault_check(&self) -> Result<Option<String>, StorageError> {
        self.inner.vault_check().await
    }
    async fn set_vault_check(
        &self,
        expected: Option<String>,
        value: String,
    ) -> Result<bool, StorageError> {
        self.inner.set_vault_check(expected, value).await
    }
    async fn keys_of(&self, person: PersonId, now: i64) -> Result<Vec<String>, StorageError> {
        self.inner.keys_of(person, now).await
    }
    async fn expires_in(&self, person: PersonId, now: i64) -> Result<Option<i64>, StorageError> {
        self.inner.expires_in(person, now).await
    }
    async fn push_inbox(
        &self,
        person: PersonId,
        sealed: String,
        now: i64,
    ) -> Result<(), StorageError> {
        self.inner.push_inbox(person, sealed, now).await
    }
    async fn take_inbox(&self, person: PersonId, now: i64) -> Result<Vec<String>, StorageError> {
        self.inner.take_inbox(person, now).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_the_update_in_flight_finish_before_run_returns() {
    let fake = FakeTelegram::start();
    let memory = MemoryStore::new(Retention(None));
    let reading = Arc::new(Notify::new());
    let store = SlowStore {
        inner: memory.clone(),
        reading: Arc::clone(&reading),
    };
    let storage = Storage::with_queue(store, memory.clone());
    let library = compile_dir(Path::new("dialogues")).expect("the shipped dialogues");
    let app = App {
        library: Arc::new(library),
        storage: storage.clone(),
        clock: kintsugi::cli::unix_now,
        flood: FloodGate::new(FloodLimit::default()),
        sends: SendQueue::new(Some(SendLimits::TELEGRAM)),
        replicas: false,
        invite_link: None,
    };
    let bot = kintsugi::telegram::bot("123:test", Some(&fake.url())).expect("a bot");
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(kintsugi::telegram::run(
        bot,
        app,
        Listen::Polling,
        ReminderConfig {
            tick: Duration::from_secs(5),
            grace: Duration::from_secs(7200),
            per_second: 25,
        },
        async move {
            let _ = stopped.await;
        },
    ));

    fake.send_text(PERSON, "/start");
    tokio::time::timeout(Duration::from_secs(20), reading.notified())
        .await
        .expect("the update reaches the store");
    // The update is in flight (its state read is under way): stop now.
    stop.send(()).expect("run is listening");
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("run returns after the stop")
        .expect("the task did not panic")
        .expect("run ends without an error");

    let sent = fake.sent_to(PERSON);
    assert!(
        !sent.is_empty(),
        "the reply reached the person before run returned"
    );
    let stored = storage
        .read(PersonId(PERSON), kintsugi::cli::unix_now())
        .await
        .expect("read back");
    assert_eq!(stored.version, 1, "the state was written");
    assert!(!stored.applied.is_empty());
}
