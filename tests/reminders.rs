//! The reminder worker against a real store (one Redis, a Redis Cluster, the embedded store):
//! two workers and 1000 due reminders send each exactly once; a worker that dies mid-batch and
//! a new one loses none and repeats none; old reminders after downtime are skipped, not sent in
//! a burst. The clock is passed in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use kintsugi::calendar::{Frequency, Schedule};
use kintsugi::dialogue::PersonState;
use kintsugi::reminders::{Deliver, DeliverError, Delivered, WorkerSettings, run_pass};
use kintsugi::storage::{EmbeddedStore, PersonId, RedisStore, Retention, Storage};
use kintsugi::testkit::{RedisCluster, RedisServer};

/// Records what it sends; fails on call number `fail_at` (counting from 1) as a crash would.
#[derive(Default)]
struct Recorder {
    sent: Mutex<HashMap<(i64, i64), usize>>,
    calls: AtomicUsize,
    fail_at: Option<usize>,
    blocked: Vec<i64>,
}

impl Deliver for Recorder {
    async fn deliver(&self, person: PersonId, occurrence: i64) -> Result<Delivered, DeliverError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_at == Some(call) {
            return Err(DeliverError {
                maybe_sent: false,
                reason: "the process died before sending".to_owned(),
            });
        }
        if self.blocked.contains(&person.0) {
            return Ok(Delivered::Blocked);
        }
        *self
            .sent
            .lock()
            .expect("the recorder")
            .entry((person.0, occurrence))
            .or_default() += 1;
        Ok(Delivered::Yes)
    }
}

impl Recorder {
    fn sent(&self) -> HashMap<(i64, i64), usize> {
        self.sent.lock().expect("the recorder").clone()
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an instant")
        .with_timezone(&Utc)
}

fn nine_in_berlin() -> Schedule {
    Schedule {
        frequency: Frequency::Daily,
        time: NaiveTime::from_hms_opt(9, 0, 0).expect("a time"),
        zone: chrono_tz::Europe::Berlin,
        start: NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date"),
    }
}

/// A person with a 09:00 Berlin check-in.
fn reminded_state() -> PersonState {
    PersonState {
        checkin: Some(nine_in_berlin()),
        ..PersonState::default()
    }
}

/// `people` people with a 09:00 Berlin check-in, each due at 09:00 on 26 November 2026.
async fn people_due(storage: &Storage, people: i64) -> i64 {
    let due = at("2026-11-26T08:00:00Z").timestamp();
    for id in 1..=people {
        storage
            .write(PersonId(id), &reminded_state(), 0, due)
            .await
            .expect("save");
        storage
            .reminders()
            .schedule(PersonId(id), due)
            .await
            .expect("schedule");
    }
    due
}

fn redis_storage(server: &RedisServer) -> Storage {
    storage_at(&server.url())
}

fn storage_at(url: &str) -> Storage {
    Storage::new(RedisStore::connect(url, "test", Retention(None)).expect("a redis client"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_two_workers_and_a_thousand_due_reminders_send_each_exactly_once() {
    let server = RedisServer::start();
    two_workers_and_a_thousand_due_reminders_send_each_exactly_once(&server.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_two_workers_and_a_thousand_due_reminders_send_each_exactly_once() {
    let cluster = RedisCluster::start();
    two_workers_and_a_thousand_due_reminders_send_each_exactly_once(&cluster.url()).await;
    // The index is spread over shards on more than one node: no one slot holds every reminder.
    let shards = cluster.keys("test:{reminders:*}:occurrence");
    assert_eq!(shards.len(), 16, "{shards:?}");
    let holding = cluster
        .nodes()
        .iter()
        .filter(|node| {
            !node
                .query::<Vec<String>>(&["KEYS", "test:{reminders:*}:occurrence"])
                .is_empty()
        })
        .count();
    assert!(holding >= 2, "the shards sit on {holding} node(s)");
}

async fn two_workers_and_a_thousand_due_reminders_send_each_exactly_once(url: &str) {
    let setup = storage_at(url);
    let due = people_due(&setup, 1000).await;
    let now = at("2026-11-26T08:01:00Z");
    let settings = WorkerSettings {
        batch: 50,
        ..WorkerSettings::default()
    };
    let recorder = std::sync::Arc::new(Recorder::default());
    let mut workers = Vec::new();
    for _ in 0..2 {
        // Each worker has its own connection, as two bot instances would.
        let storage = storage_at(url);
        let recorder = std::sync::Arc::clone(&recorder);
        workers.push(tokio::spawn(async move {
            let mut sent = 0;
            loop {
                let pass = run_pass(&storage, &*recorder, settings, now)
                    .await
                    .expect("a pass");
                if pass.claimed == 0 {
                    return sent;
                }
                sent += pass.sent;
            }
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await.expect("a worker");
    }
    let sent = recorder.sent();
    assert_eq!(total, 1000);
    assert_eq!(sent.len(), 1000, "every person got their reminder");
    assert!(
        sent.values().all(|&count| count == 1),
        "none was sent twice"
    );
    assert!(sent.keys().all(|&(_, occurrence)| occurrence == due));
    // Each is scheduled for 09:00 Berlin the next day.
    let next = at("2026-11-27T08:00:00Z").timestamp();
    for id in [1, 500, 1000] {
        assert_eq!(
            setup.reminders().due_at(PersonId(id)).await.expect("due"),
            Some(next)
        );
    }
}

async fn a_worker_that_dies_mid_batch_loses_none_and_repeats_none(storage: Storage) {
    let due = people_due(&storage, 100).await;
    let now = at("2026-11-26T08:01:00Z");
    let settings = WorkerSettings {
        batch: 100,
        ..WorkerSettings::default()
    };
    let dying = Recorder {
        fail_at: Some(41),
        ..Recorder::default()
    };
    assert!(run_pass(&storage, &dying, settings, now).await.is_err());
    assert_eq!(dying.sent().len(), 40);

    // A new worker, once the dead one's lease has run out.
    let later = now + settings.lease + Duration::seconds(1);
    let fresh = Recorder::default();
    let pass = run_pass(&storage, &fresh, settings, later)
        .await
        .expect("a pass");
    assert_eq!(pass.sent, 60);
    let mut everyone = dying.sent();
    for (key, count) in fresh.sent() {
        *everyone.entry(key).or_default() += count;
    }
    assert_eq!(everyone.len(), 100, "none lost");
    assert!(everyone.values().all(|&count| count == 1), "none repeated");
    assert!(everyone.keys().all(|&(_, occurrence)| occurrence == due));
}

#[tokio::test]
async fn on_redis_a_worker_that_dies_mid_batch_loses_none_and_repeats_none() {
    let server = RedisServer::start();
    a_worker_that_dies_mid_batch_loses_none_and_repeats_none(redis_storage(&server)).await;
}

#[tokio::test]
async fn on_a_redis_cluster_a_worker_that_dies_mid_batch_loses_none_and_repeats_none() {
    let cluster = RedisCluster::start();
    a_worker_that_dies_mid_batch_loses_none_and_repeats_none(storage_at(&cluster.url())).await;
}

#[tokio::test]
async fn an_index_left_by_the_earlier_layout_moves_into_the_shards_and_is_sent() {
    let server = RedisServer::start();
    // What an earlier version wrote: every reminder under one `{reminders}` tag.
    let due = at("2026-11-26T08:00:00Z").timestamp();
    for person in 1..=20 {
        let id = person.to_string();
        server.command(&["ZADD", "test:{reminders}:due", &due.to_string(), &id]);
        server.command(&["HSET", "test:{reminders}:occurrence", &id, &due.to_string()]);
    }
    let storage = redis_storage(&server);
    for id in 1..=20 {
        storage
            .write(PersonId(id), &reminded_state(), 0, due)
            .await
            .expect("save");
    }
    assert_eq!(storage.upgrade_layout().await.expect("upgrade"), 40);
    assert_eq!(
        storage.upgrade_layout().await.expect("again"),
        0,
        "once only"
    );
    let old: Vec<String> = server.query(&["KEYS", "test:{reminders}:*"]);
    assert!(old.is_empty(), "{old:?}");
    let recorder = Recorder::default();
    let settings = WorkerSettings {
        batch: 50,
        ..WorkerSettings::default()
    };
    let pass = run_pass(&storage, &recorder, settings, at("2026-11-26T08:01:00Z"))
        .await
        .expect("a pass");
    assert_eq!(pass.sent, 20);
}

#[tokio::test]
async fn on_the_embedded_store_a_worker_that_dies_mid_batch_loses_none_and_repeats_none() {
    let directory = tempfile::tempdir().expect("a temporary folder");
    let storage = Storage::new(
        EmbeddedStore::open(directory.path(), Retention(None)).expect("an embedded store"),
    );
    a_worker_that_dies_mid_batch_loses_none_and_repeats_none(storage).await;
}

#[tokio::test]
async fn after_downtime_an_old_reminder_is_skipped_to_its_next_occurrence() {
    let server = RedisServer::start();
    let storage = redis_storage(&server);
    people_due(&storage, 3).await;
    // The bot was down from 08:00 to 13:00 UTC; the grace is two hours.
    let now = at("2026-11-26T13:00:00Z");
    let recorder = Recorder::default();
    let pass = run_pass(&storage, &recorder, WorkerSettings::default(), now)
        .await
        .expect("a pass");
    assert_eq!((pass.sent, pass.skipped), (0, 3));
    assert!(recorder.sent().is_empty(), "no burst of old reminders");
    let next = at("2026-11-27T08:00:00Z").timestamp();
    assert_eq!(
        storage.reminders().due_at(PersonId(2)).await.expect("due"),
        Some(next)
    );
}

#[tokio::test]
async fn reminders_stop_for_a_person_who_blocked_the_bot_or_turned_them_off() {
    let server = RedisServer::start();
    let storage = redis_storage(&server);
    people_due(&storage, 3).await;
    // Person 2 turned check-ins off; person 3 has blocked the bot.
    let off = PersonState::default();
    storage.write(PersonId(2), &off, 1, 0).await.expect("save");
    let recorder = Recorder {
        blocked: vec![3],
        ..Recorder::default()
    };
    let now = at("2026-11-26T08:00:30Z");
    let pass = run_pass(&storage, &recorder, WorkerSettings::default(), now)
        .await
        .expect("a pass");
    assert_eq!((pass.sent, pass.stopped), (1, 2));
    assert_eq!(
        storage.reminders().due_at(PersonId(2)).await.expect("due"),
        None
    );
    assert_eq!(
        storage.reminders().due_at(PersonId(3)).await.expect("due"),
        None
    );
    assert!(!storage.is_reachable(PersonId(3), 0).await.expect("read"));
    let again = run_pass(
        &storage,
        &recorder,
        WorkerSettings::default(),
        now + Duration::days(1),
    )
    .await
    .expect("a pass");
    assert_eq!(again.sent, 1, "only the person who still wants them");
}

#[tokio::test]
async fn only_reminders_that_are_due_are_claimed() {
    let server = RedisServer::start();
    let storage = redis_storage(&server);
    people_due(&storage, 2).await;
    let early = at("2026-11-26T07:59:59Z");
    let recorder = Recorder::default();
    let pass = run_pass(&storage, &recorder, WorkerSettings::default(), early)
        .await
        .expect("a pass");
    assert_eq!(pass.claimed, 0);
}

#[tokio::test]
async fn a_reminder_waits_while_a_safety_episode_is_open() {
    use kintsugi::dialogue::{Input, advance};
    use kintsugi::dialogue_dir::compile_dir;
    let library = compile_dir(std::path::Path::new("dialogues")).expect("the shipped dialogues");
    let server = RedisServer::start();
    let storage = redis_storage(&server);
    let due = people_due(&storage, 2).await;
    // Person 1 wrote something that opened a safety episode; person 2 did not.
    let stored = storage.read(PersonId(1), due).await.expect("load");
    let crisis = Input::from_text("I want to end my life").screened(&library);
    let outcome = advance(&library, &stored.state, &crisis, due);
    assert!(outcome.state.safety.is_some());
    storage
        .write_handled(PersonId(1), &outcome.state, &stored, due, None)
        .await
        .expect("save");

    let recorder = Recorder::default();
    let now = at("2026-11-26T08:01:00Z");
    let pass = run_pass(&storage, &recorder, WorkerSettings::default(), now)
        .await
        .expect("a pass");
    assert_eq!((pass.sent, pass.paused), (1, 1));
    assert_eq!(
        recorder.sent().keys().copied().collect::<Vec<_>>(),
        [(2, due)]
    );
    // Not dropped: the next occurrence waits for tomorrow.
    let next = storage
        .reminders()
        .due_at(PersonId(1))
        .await
        .expect("due")
        .expect("still scheduled");
    assert_eq!(next, at("2026-11-27T08:00:00Z").timestamp());
}

#[tokio::test]
async fn a_stopping_worker_hands_back_the_rest_of_its_batch_for_another_to_send_at_once() {
    let server = RedisServer::start();
    let storage = redis_storage(&server);
    let due = people_due(&storage, 10).await;
    let now = at("2026-11-26T08:01:00Z");
    let recorder = Recorder::default();
    // Stops after the first three sends.
    let stopping = || recorder.sent().len() >= 3;
    let pass = kintsugi::reminders::run_pass_until(
        &storage,
        &recorder,
        WorkerSettings::default(),
        now,
        &stopping,
    )
    .await
    .expect("a pass");
    assert_eq!((pass.claimed, pass.sent, pass.released), (10, 3, 7));
    // Another worker, a moment later, takes the seven at once instead of after the lease.
    let other = Recorder::default();
    let pass = run_pass(&storage, &other, WorkerSettings::default(), now)
        .await
        .expect("a pass");
    assert_eq!((pass.claimed, pass.sent), (7, 7));
    let mut everyone: Vec<i64> = recorder
        .sent()
        .into_iter()
        .chain(other.sent())
        .map(|((person, occurrence), times)| {
            assert_eq!((occurrence, times), (due, 1));
            person
        })
        .collect();
    everyone.sort();
    assert_eq!(everyone, (1..=10).collect::<Vec<i64>>(), "each once");
}
