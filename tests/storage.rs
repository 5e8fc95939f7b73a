//! One conformance suite for every store. Every behaviour is a function taking a `Backend`; the
//! `conformance!` macro runs it four times: against a real `redis-server` started on a free
//! loopback port, against a real three-master Redis Cluster, against the embedded redb store in
//! a temporary directory, and against the in-memory store.

use std::collections::BTreeMap;
use std::time::Duration;

use kintsugi::dialogue::pair::{PairChange, PairNews, PairState, Side};
use kintsugi::dialogue::{Answer, FlowId, PersonState, Role};
use kintsugi::flood::{FloodGate, FloodLimit, Verdict};
use kintsugi::storage::{
    DueReminder, EmbeddedStore, Invitation, LastUpdate, MemoryStore, PairId, PairStore, PersonId,
    PersonStore, RedisStore, Retention, Saved, Storage, new_invitation_token,
};
use kintsugi::testkit::{RedisCluster, RedisServer};
use kintsugi::vault::{MasterKey, Vault};

const DAY: u64 = 24 * 60 * 60;
const NOW: i64 = 1_790_000_000;

/// A backend under test, with whatever keeps it alive (the server or the directory).
struct Backend {
    storage: Storage,
    _server: Option<RedisServer>,
    cluster: Option<RedisCluster>,
    _directory: Option<tempfile::TempDir>,
    memory: Option<MemoryStore>,
}

/// A vault with a fresh master key called `id`.
fn vault(id: &str) -> Vault {
    let key = MasterKey::parse(&MasterKey::generate(id)).expect("a generated key");
    Vault::new(key, Vec::new()).expect("a vault")
}

impl Backend {
    /// Everything the backend keeps on disk: an RDB dump of Redis, or the redb file.
    fn at_rest(&self) -> Vec<u8> {
        if let Some(cluster) = &self.cluster {
            let mut dumps = Vec::new();
            for node in cluster.nodes() {
                node.command(&["CONFIG", "SET", "rdbcompression", "no"]);
                node.command(&["SAVE"]);
                dumps.extend(std::fs::read(node.dir().join("dump.rdb")).expect("a dump"));
            }
            return dumps;
        }
        match (&self._server, &self._directory) {
            (Some(server), _) => {
                // Uncompressed, so a plain string would show as it is.
                server.command(&["CONFIG", "SET", "rdbcompression", "no"]);
                server.command(&["SAVE"]);
                std::fs::read(server.dir().join("dump.rdb")).expect("the dump")
            }
            (None, Some(directory)) => {
                std::fs::read(directory.path().join("kintsugi.redb")).expect("the redb file")
            }
            (None, None) => {
                // Memory has no file: what it holds is what it gives back.
                let memory = self.memory.as_ref().expect("the memory store");
                let mut held = Vec::new();
                for person in 0..100 {
                    let raw = tokio::task::block_in_place(|| {
                        tokio::runtime::Handle::current()
                            .block_on(memory.read_state(PersonId(person), NOW))
                    })
                    .expect("read");
                    held.extend(raw.data.unwrap_or_default().into_bytes());
                    held.extend(raw.key.unwrap_or_default().into_bytes());
                    let pair = tokio::task::block_in_place(|| {
                        tokio::runtime::Handle::current()
                            .block_on(memory.read_pair(PairId(person), NOW))
                    })
                    .expect("read");
                    held.extend(pair.data.unwrap_or_default().into_bytes());
                    held.extend(pair.key.unwrap_or_default().into_bytes());
                }
                held
            }
        }
    }
}

fn redis_backend(retention: Retention) -> Backend {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url(), "test", retention).expect("a redis client");
    Backend {
        storage: Storage::new(store).with_vault(vault("k1")),
        _server: Some(server),
        cluster: None,
        _directory: None,
        memory: None,
    }
}

fn cluster_backend(retention: Retention) -> Backend {
    let cluster = RedisCluster::start();
    let store = RedisStore::connect(&cluster.url(), "test", retention).expect("a cluster client");
    assert!(store.is_cluster());
    Backend {
        storage: Storage::new(store).with_vault(vault("k1")),
        _server: None,
        cluster: Some(cluster),
        _directory: None,
        memory: None,
    }
}

fn embedded_backend(retention: Retention) -> Backend {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = EmbeddedStore::open(directory.path(), retention).expect("an embedded store");
    Backend {
        storage: Storage::new(store).with_vault(vault("k1")),
        _server: None,
        cluster: None,
        _directory: Some(directory),
        memory: None,
    }
}

fn memory_backend(retention: Retention) -> Backend {
    let store = MemoryStore::new(retention);
    Backend {
        storage: Storage::new(store.clone()).with_vault(vault("k1")),
        _server: None,
        cluster: None,
        _directory: None,
        memory: Some(store),
    }
}

/// Runs each listed behaviour against every store, as four tests in a module per behaviour.
macro_rules! conformance {
    ($($behaviour:ident),* $(,)?) => {$(
        mod $behaviour {
            #[tokio::test]
            async fn on_redis() {
                super::$behaviour(super::redis_backend(super::retention())).await;
            }
            #[tokio::test]
            async fn on_a_redis_cluster() {
                super::$behaviour(super::cluster_backend(super::retention())).await;
            }
            #[tokio::test]
            async fn on_the_embedded_store() {
                super::$behaviour(super::embedded_backend(super::retention())).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_memory() {
                super::$behaviour(super::memory_backend(super::retention())).await;
            }
        }
    )*};
}

conformance!(
    a_person_never_seen_has_the_default_state_at_version_zero,
    a_saved_state_reads_back_equal_with_the_next_version,
    a_write_at_a_stale_version_is_a_conflict_and_changes_nothing,
    concurrent_writers_that_retry_lose_no_update,
    every_write_sets_the_retention_expiry,
    deleting_a_person_removes_every_key_and_only_theirs,
    a_person_who_blocked_the_bot_is_unreachable_until_they_unblock_it,
    the_store_at_rest_holds_none_of_the_words_people_wrote,
    a_wrong_or_missing_master_key_is_a_clear_error_and_loses_nothing,
    a_rotated_master_key_still_opens_old_data_and_rewraps_it,
    two_instances_starting_at_once_with_different_keys_cannot_both_take_the_store,
    a_scheduled_reminder_replaces_the_pending_one_and_can_be_cancelled,
    a_claimed_reminder_is_leased_and_comes_back_when_the_lease_ends,
    each_occurrence_is_marked_as_sending_once,
    forgetting_a_person_removes_their_pending_reminder,
    outboxes_are_noted_listed_and_cleared_and_go_with_the_person,
    a_pair_record_is_written_with_compare_and_set_and_deleted_whole,
    an_invitation_opens_with_its_token_only_is_taken_once_and_expires,
    what_partners_share_is_sealed_at_rest,
    two_partners_answering_at_once_make_exactly_one_reveal,
    notices_wait_sealed_in_an_inbox_until_taken_and_go_with_the_person,
);

fn retention() -> Retention {
    Retention(Some(Duration::from_secs(180 * DAY)))
}

fn state_with(answer: &str, value: &str) -> PersonState {
    let mut answers = BTreeMap::new();
    answers.insert(
        answer.to_owned(),
        Answer {
            value: value.to_owned(),
            at: NOW,
        },
    );
    PersonState {
        role: Some(Role::Hurt),
        answers: BTreeMap::from([(FlowId("forgiveness".to_owned()), answers)]),
        ..PersonState::default()
    }
}

async fn a_person_never_seen_has_the_default_state_at_version_zero(backend: Backend) {
    let stored = backend.storage.read(PersonId(1), NOW).await.expect("load");
    assert_eq!(stored.version, 0);
    assert_eq!(stored.state, PersonState::default());
    let keys = backend
        .storage
        .keys_of(PersonId(1), NOW)
        .await
        .expect("keys");
    assert!(keys.is_empty(), "reading must not create keys: {keys:?}");
}

async fn a_saved_state_reads_back_equal_with_the_next_version(backend: Backend) {
    let person = PersonId(42);
    let state = state_with("hurt", "Ünïcode, \"quotes\" and\nnew lines ✨");
    let saved = backend
        .storage
        .write(person, &state, 0, NOW)
        .await
        .expect("save");
    assert_eq!(saved, Saved::Written { version: 1 });
    let stored = backend.storage.read(person, NOW).await.expect("load");
    assert_eq!(stored.version, 1);
    assert_eq!(stored.state, state);

    let second = state_with("hurt", "changed");
    let saved = backend
        .storage
        .write(person, &second, 1, NOW)
        .await
        .expect("save");
    assert_eq!(saved, Saved::Written { version: 2 });
    assert_eq!(
        backend.storage.read(person, NOW).await.expect("load").state,
        second
    );
}

async fn a_write_at_a_stale_version_is_a_conflict_and_changes_nothing(backend: Backend) {
    let person = PersonId(7);
    let first = state_with("hurt", "first");
    backend
        .storage
        .write(person, &first, 0, NOW)
        .await
        .expect("save");
    // A second writer that read before the first write still expects version 0.
    let late = state_with("hurt", "late");
    let saved = backend
        .storage
        .write(person, &late, 0, NOW)
        .await
        .expect("save");
    assert_eq!(saved, Saved::Conflict);
    let stored = backend.storage.read(person, NOW).await.expect("load");
    assert_eq!((stored.version, stored.state), (1, first));
}

async fn concurrent_writers_that_retry_lose_no_update(backend: Backend) {
    const WRITERS: usize = 16;
    let person = PersonId(99);
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let storage = backend.storage.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let mut stored = storage.read(person, NOW).await.expect("load");
                stored
                    .state
                    .answers
                    .entry(FlowId("race".to_owned()))
                    .or_default()
                    .insert(
                        format!("writer_{writer}"),
                        Answer {
                            value: writer.to_string(),
                            at: NOW,
                        },
                    );
                match storage
                    .write(person, &stored.state, stored.version, NOW)
                    .await
                    .expect("save")
                {
                    Saved::Written { .. } => break,
                    Saved::Conflict | Saved::EarlierInFlight => tokio::task::yield_now().await,
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("a writer task");
    }
    let stored = backend.storage.read(person, NOW).await.expect("load");
    let written = &stored.state.answers[&FlowId("race".to_owned())];
    assert_eq!(written.len(), WRITERS, "an update was lost: {written:?}");
    assert_eq!(stored.version, WRITERS as u64);
}

async fn every_write_sets_the_retention_expiry(backend: Backend) {
    let person = PersonId(5);
    assert_eq!(
        backend.storage.expires_in(person, NOW).await.expect("ttl"),
        None
    );
    backend
        .storage
        .write(person, &state_with("a", "b"), 0, NOW)
        .await
        .expect("save");
    let ttl = backend
        .storage
        .expires_in(person, NOW)
        .await
        .expect("ttl")
        .expect("the state carries an expiry");
    let retention = (180 * DAY) as i64;
    assert!(
        (retention - 5..=retention).contains(&ttl),
        "expiry {ttl}s, retention {retention}s"
    );
}

async fn a_person_who_blocked_the_bot_is_unreachable_until_they_unblock_it(backend: Backend) {
    let person = PersonId(31);
    let reachable = |storage: &Storage| {
        let storage = storage.clone();
        async move { storage.is_reachable(person, NOW).await.expect("read") }
    };
    assert!(reachable(&backend.storage).await);
    backend
        .storage
        .set_reachable(person, false, NOW)
        .await
        .expect("write");
    assert!(!reachable(&backend.storage).await);
    assert!(
        !backend
            .storage
            .keys_of(person, NOW)
            .await
            .expect("keys")
            .is_empty()
    );
    backend
        .storage
        .set_reachable(person, true, NOW)
        .await
        .expect("write");
    assert!(reachable(&backend.storage).await);
}

async fn deleting_a_person_removes_every_key_and_only_theirs(backend: Backend) {
    let (leaving, staying) = (PersonId(11), PersonId(12));
    for person in [leaving, staying] {
        backend
            .storage
            .write(person, &state_with("letter", "private words"), 0, NOW)
            .await
            .expect("save");
        backend
            .storage
            .set_reachable(person, false, NOW)
            .await
            .expect("write");
        backend
            .storage
            .reminders()
            .schedule(person, NOW + 60)
            .await
            .expect("schedule");
    }
    assert!(
        !backend
            .storage
            .keys_of(leaving, NOW)
            .await
            .expect("keys")
            .is_empty()
    );
    backend
        .storage
        .delete_person(leaving)
        .await
        .expect("delete");
    assert_eq!(
        backend.storage.keys_of(leaving, NOW).await.expect("keys"),
        Vec::<String>::new()
    );
    assert_eq!(
        backend
            .storage
            .reminders()
            .due_at(leaving)
            .await
            .expect("due"),
        None,
        "their reminder goes too"
    );
    assert_eq!(
        backend
            .storage
            .reminders()
            .due_at(staying)
            .await
            .expect("due"),
        Some(NOW + 60)
    );
    let gone = backend.storage.read(leaving, NOW).await.expect("load");
    assert_eq!((gone.version, gone.state), (0, PersonState::default()));
    let kept = backend.storage.read(staying, NOW).await.expect("load");
    assert_eq!(kept.version, 1);
}

async fn the_store_at_rest_holds_none_of_the_words_people_wrote(backend: Backend) {
    let words = "my private letter about the night of the party";
    backend
        .storage
        .check_vault()
        .await
        .expect("a new store takes the key");
    for person in 1..=20 {
        backend
            .storage
            .write(PersonId(person), &state_with("letter", words), 0, NOW)
            .await
            .expect("save");
    }
    let stored = backend.storage.read(PersonId(7), NOW).await.expect("load");
    assert_eq!(stored.state, state_with("letter", words), "it opens again");
    let at_rest = backend.at_rest();
    assert!(at_rest.len() > 1000, "the store holds the 20 states");
    for needle in ["private letter", "party", "forgiveness", "letter"] {
        assert!(
            !at_rest
                .windows(needle.len())
                .any(|window| window == needle.as_bytes()),
            "{needle:?} is readable at rest"
        );
    }
}

async fn a_wrong_or_missing_master_key_is_a_clear_error_and_loses_nothing(backend: Backend) {
    let person = PersonId(40);
    backend.storage.check_vault().await.expect("first start");
    backend
        .storage
        .write(person, &state_with("a", "kept"), 0, NOW)
        .await
        .expect("save");

    let wrong = backend.storage.clone().with_vault(vault("k1"));
    let error = wrong.check_vault().await.expect_err("a wrong key");
    assert_eq!(
        error.to_string(),
        "encrypted data could not be opened: master key `k1` cannot open data it claims to have sealed: the key is wrong, or the data was altered or copied from another person"
    );
    assert!(wrong.read(person, NOW).await.is_err());
    let renamed = backend.storage.clone().with_vault(vault("k9"));
    assert!(
        renamed
            .check_vault()
            .await
            .expect_err("an unknown key")
            .to_string()
            .contains("master key `k1`, which is not configured")
    );
    let missing = backend.storage.clone().with_vault(Vault::plaintext());
    assert!(
        missing
            .check_vault()
            .await
            .expect_err("no key")
            .to_string()
            .contains("no master key is set")
    );
    assert!(missing.read(person, NOW).await.is_err());

    let stored = backend.storage.read(person, NOW).await.expect("load");
    assert_eq!(stored.state, state_with("a", "kept"), "nothing was lost");
    assert_eq!(stored.version, 1);
}

async fn a_rotated_master_key_still_opens_old_data_and_rewraps_it(backend: Backend) {
    let person = PersonId(41);
    let old_text = MasterKey::generate("k1");
    let old = || Vault::new(MasterKey::parse(&old_text).expect("key"), Vec::new()).expect("vault");
    let before = backend.storage.clone().with_vault(old());
    before.check_vault().await.expect("first start");
    before
        .write(person, &state_with("a", "old"), 0, NOW)
        .await
        .expect("save");

    let new_text = MasterKey::generate("k2");
    let rotated = backend.storage.clone().with_vault(
        Vault::new(
            MasterKey::parse(&new_text).expect("key"),
            vec![MasterKey::parse(&old_text).expect("key")],
        )
        .expect("vault"),
    );
    rotated.check_vault().await.expect("the old key is listed");
    let stored = rotated.read(person, NOW).await.expect("load");
    assert_eq!(stored.state, state_with("a", "old"));
    rotated
        .write_handled(person, &state_with("a", "new"), &stored, NOW, None)
        .await
        .expect("save");

    // Once rewritten, the new key alone opens it; the old key alone no longer fits the store.
    let only_new = backend.storage.clone().with_vault(
        Vault::new(MasterKey::parse(&new_text).expect("key"), Vec::new()).expect("vault"),
    );
    only_new
        .check_vault()
        .await
        .expect("the check value was rewrapped");
    let stored = only_new.read(person, NOW).await.expect("load");
    assert_eq!(stored.state, state_with("a", "new"));
    assert!(before.check_vault().await.is_err());
}

async fn two_instances_starting_at_once_with_different_keys_cannot_both_take_the_store(
    backend: Backend,
) {
    let first = backend.storage.clone().with_vault(vault("k1"));
    let second = backend.storage.clone().with_vault(vault("k1"));
    let (a, b) = tokio::join!(first.check_vault(), second.check_vault());
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one key takes a fresh store: {a:?} {b:?}"
    );
    // And the winner keeps it.
    let winner = if a.is_ok() { first } else { second };
    winner.check_vault().await.expect("the winner's key fits");
}

async fn a_scheduled_reminder_replaces_the_pending_one_and_can_be_cancelled(backend: Backend) {
    let queue = backend.storage.reminders();
    let person = PersonId(50);
    assert_eq!(queue.due_at(person).await.expect("due"), None);
    queue.schedule(person, NOW + 60).await.expect("schedule");
    queue.schedule(person, NOW + 120).await.expect("reschedule");
    assert_eq!(queue.due_at(person).await.expect("due"), Some(NOW + 120));
    assert!(
        queue
            .claim_due(NOW + 60, 10, 30)
            .await
            .expect("claim")
            .is_empty(),
        "the replaced time is gone"
    );
    queue.cancel(person).await.expect("cancel");
    assert_eq!(queue.due_at(person).await.expect("due"), None);
    assert!(
        queue
            .claim_due(NOW + 999, 10, 30)
            .await
            .expect("claim")
            .is_empty()
    );
}

async fn a_claimed_reminder_is_leased_and_comes_back_when_the_lease_ends(backend: Backend) {
    let queue = backend.storage.reminders();
    for id in 1..=3 {
        queue
            .schedule(PersonId(id), NOW + id)
            .await
            .expect("schedule");
    }
    // A sharded index gives each shard's oldest first, not one global order.
    let mut claimed = queue.claim_due(NOW + 2, 10, 30).await.expect("claim");
    claimed.sort_by_key(|due| due.occurrence);
    let due = |id: i64| DueReminder {
        person: PersonId(id),
        occurrence: NOW + id,
    };
    assert_eq!(claimed, vec![due(1), due(2)], "due ones only");
    assert!(
        queue.claim_due(NOW + 3, 10, 30).await.expect("claim") == vec![due(3)],
        "leased ones are not claimed twice"
    );
    let again = queue.claim_due(NOW + 40, 1, 30).await.expect("claim");
    assert_eq!(
        again.len(),
        1,
        "after the lease, at most `limit`: {again:?}"
    );
    assert!([due(1), due(2), due(3)].contains(&again[0]));
    let rest = queue.claim_due(NOW + 40, 10, 30).await.expect("claim");
    assert_eq!(rest.len(), 2, "and then the others: {rest:?}");
    assert!(!rest.contains(&again[0]));
}

async fn each_occurrence_is_marked_as_sending_once(backend: Backend) {
    let queue = backend.storage.reminders();
    let person = PersonId(60);
    queue.schedule(person, NOW).await.expect("schedule");
    let due = DueReminder {
        person,
        occurrence: NOW,
    };
    assert!(queue.mark_sending(due).await.expect("mark"));
    assert!(!queue.mark_sending(due).await.expect("mark again"));
    assert_eq!(queue.last_sent(person).await.expect("last"), Some(NOW));
    queue.unmark_sending(due).await.expect("unmark");
    assert_eq!(queue.last_sent(person).await.expect("last"), None);
    assert!(queue.mark_sending(due).await.expect("mark after unmark"));
    // The mark stays with the person when the next occurrence is scheduled.
    queue.schedule(person, NOW + 86_400).await.expect("next");
    assert_eq!(queue.last_sent(person).await.expect("last"), Some(NOW));
}

async fn forgetting_a_person_removes_their_pending_reminder(backend: Backend) {
    let queue = backend.storage.reminders();
    queue.schedule(PersonId(70), NOW).await.expect("schedule");
    queue.schedule(PersonId(71), NOW).await.expect("schedule");
    backend
        .storage
        .delete_person(PersonId(70))
        .await
        .expect("delete");
    assert_eq!(queue.due_at(PersonId(70)).await.expect("due"), None);
    assert_eq!(queue.due_at(PersonId(71)).await.expect("due"), Some(NOW));
}

async fn outboxes_are_noted_listed_and_cleared_and_go_with_the_person(backend: Backend) {
    let queue = backend.storage.reminders();
    assert!(queue.outboxes(10).await.expect("list").is_empty());
    for person in [80, 81, 82] {
        queue.note_outbox(PersonId(person)).await.expect("note");
    }
    queue
        .note_outbox(PersonId(81))
        .await
        .expect("noted twice is noted once");
    let mut listed = queue.outboxes(10).await.expect("list");
    listed.sort();
    assert_eq!(listed, [PersonId(80), PersonId(81), PersonId(82)]);
    assert_eq!(queue.outboxes(2).await.expect("list").len(), 2);
    queue.clear_outbox(PersonId(80)).await.expect("clear");
    backend
        .storage
        .delete_person(PersonId(81))
        .await
        .expect("delete");
    assert_eq!(queue.outboxes(10).await.expect("list"), [PersonId(82)]);
}

#[tokio::test]
async fn every_redis_key_of_a_person_expires() {
    let backend = redis_backend(retention());
    let (storage, server) = (
        &backend.storage,
        backend._server.as_ref().expect("a server"),
    );
    let person = PersonId(77);
    storage
        .write(person, &state_with("a", "b"), 0, NOW)
        .await
        .expect("save");
    storage
        .set_reachable(person, false, NOW)
        .await
        .expect("write");
    let keys = storage.keys_of(person, NOW).await.expect("keys");
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in keys {
        let ttl: i64 = server.query(&["TTL", &key]);
        assert!(ttl > 0, "{key} has no expiry ({ttl})");
    }
}

#[tokio::test]
async fn a_sealed_state_copied_to_another_person_does_not_open() {
    let backend = redis_backend(retention());
    let (storage, server) = (
        &backend.storage,
        backend._server.as_ref().expect("a server"),
    );
    storage
        .write(PersonId(1), &state_with("a", "secret"), 0, NOW)
        .await
        .expect("save");
    for field in ["v", "d", "k"] {
        let value: String = server.query(&["HGET", "test:{u:1}:state", field]);
        server.command(&["HSET", "test:{u:2}:state", field, &value]);
    }
    let error = storage.read(PersonId(2), NOW).await.expect_err("copied");
    assert!(error.to_string().contains("cannot open"), "{error}");
}

#[tokio::test]
async fn redis_keys_of_one_person_share_a_hash_tag_under_the_prefix() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url(), "bot-a", retention()).expect("a client");
    Storage::new(store)
        .write(PersonId(314), &state_with("a", "b"), 0, NOW)
        .await
        .expect("save");
    let keys: Vec<String> = server.query(&["KEYS", "*"]);
    assert_eq!(keys, ["bot-a:{u:314}:state"]);
}

#[tokio::test]
async fn two_bots_with_different_prefixes_share_a_redis_without_meeting() {
    let server = RedisServer::start();
    let a = Storage::new(RedisStore::connect(&server.url(), "bot-a", retention()).expect("a"));
    let b = Storage::new(RedisStore::connect(&server.url(), "bot-b", retention()).expect("b"));
    a.write(PersonId(1), &state_with("x", "from a"), 0, NOW)
        .await
        .expect("save");
    let seen_by_b = b.read(PersonId(1), NOW).await.expect("load");
    assert_eq!(seen_by_b.version, 0);
    b.delete_person(PersonId(1)).await.expect("delete");
    assert_eq!(
        a.read(PersonId(1), NOW).await.expect("load").state,
        state_with("x", "from a")
    );
}

#[tokio::test]
async fn redis_recovers_by_itself_when_the_server_comes_back() {
    let mut server = RedisServer::start();
    let storage =
        Storage::new(RedisStore::connect(&server.url(), "test", retention()).expect("a client"));
    storage.read(PersonId(1), NOW).await.expect("load");
    server.stop();
    assert!(storage.read(PersonId(1), NOW).await.is_err());
    server.restart();
    // The connection manager reconnects on the next use; a couple of tries cover the first
    // request that only discovers the broken connection.
    let mut recovered = false;
    for _ in 0..5 {
        if storage.read(PersonId(1), NOW).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "redis did not recover; server log:\n{}",
        server.log()
    );
}

#[tokio::test]
async fn the_embedded_store_forgets_a_person_once_the_retention_has_passed() {
    let backend = embedded_backend(Retention(Some(Duration::from_secs(DAY))));
    let person = PersonId(8);
    backend
        .storage
        .write(person, &state_with("a", "b"), 0, NOW)
        .await
        .expect("save");
    let later = NOW + DAY as i64 - 1;
    assert_eq!(
        backend
            .storage
            .read(person, later)
            .await
            .expect("load")
            .version,
        1
    );
    let expired = NOW + DAY as i64;
    let stored = backend.storage.read(person, expired).await.expect("load");
    assert_eq!((stored.version, stored.state), (0, PersonState::default()));
    assert!(
        backend
            .storage
            .keys_of(person, expired)
            .await
            .expect("keys")
            .is_empty()
    );
}

#[tokio::test]
async fn the_embedded_store_keeps_state_across_a_reopen() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let state = state_with("hurt", "kept");
    {
        let store = Storage::new(
            EmbeddedStore::open(directory.path(), retention()).expect("an embedded store"),
        );
        store
            .write(PersonId(3), &state, 0, NOW)
            .await
            .expect("save");
    }
    let reopened =
        Storage::new(EmbeddedStore::open(directory.path(), retention()).expect("reopen"));
    let stored = reopened.read(PersonId(3), NOW).await.expect("load");
    assert_eq!((stored.version, stored.state), (1, state));
}

mod the_updates_applied_are_written_with_the_state {
    use kintsugi::storage::LastUpdate;

    async fn check(backend: super::Backend) {
        let person = super::PersonId(21);
        let update = LastUpdate {
            id: 900,
            at: super::NOW,
        };
        let new_person = backend
            .storage
            .read(person, super::NOW)
            .await
            .expect("load");
        backend
            .storage
            .write_handled(
                person,
                &super::state_with("a", "b"),
                &new_person,
                super::NOW,
                Some(update),
            )
            .await
            .expect("save");
        let stored = backend
            .storage
            .read(person, super::NOW)
            .await
            .expect("load");
        assert_eq!(stored.applied.latest(), Some(update));
        // A write without an update keeps the ones recorded.
        backend
            .storage
            .write(person, &super::state_with("a", "c"), 1, super::NOW)
            .await
            .expect("save");
        let stored = backend
            .storage
            .read(person, super::NOW)
            .await
            .expect("load");
        assert_eq!(stored.applied.latest(), Some(update));
        // A second update joins the first.
        let later = LastUpdate {
            id: 899,
            at: super::NOW + 1,
        };
        backend
            .storage
            .write_handled(
                person,
                &super::state_with("a", "d"),
                &stored,
                super::NOW,
                Some(later),
            )
            .await
            .expect("save");
        let stored = backend
            .storage
            .read(person, super::NOW)
            .await
            .expect("load");
        assert!(
            stored.applied.contains(900, super::NOW) && stored.applied.contains(899, super::NOW)
        );
    }

    #[tokio::test]
    async fn on_redis() {
        check(super::redis_backend(super::retention())).await;
    }

    #[tokio::test]
    async fn on_the_embedded_store() {
        check(super::embedded_backend(super::retention())).await;
    }

    #[tokio::test]
    async fn in_memory() {
        check(super::memory_backend(super::retention())).await;
    }
}

/// Whether `needle` occurs anywhere in `haystack`.
fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn the_embedded_store_deletes_expired_people_and_leaves_no_trace_of_them_in_its_file() {
    use kintsugi::storage::{PersonStore, RawWrite, ReminderQueue};
    let directory = tempfile::tempdir().expect("a temporary folder");
    let retention = Retention(Some(Duration::from_secs(3600)));
    let store = EmbeddedStore::open(directory.path(), retention).expect("an embedded store");
    let write = |data: &str, key: &str| RawWrite {
        data: data.repeat(50),
        new_key: Some(key.to_owned()),
        update: None,
    };
    // Enough people that their records fill many pages, which deleting frees.
    for person in 1..=200 {
        store
            .write_state(
                PersonId(person),
                write("EXPIRED-STATE-1111", &format!("EXPIRED-KEY-2222-{person}")),
                0,
                NOW,
                None,
            )
            .await
            .expect("save");
        store
            .schedule(PersonId(person), NOW + 100)
            .await
            .expect("schedule");
    }
    store
        .write_state(
            PersonId(1000),
            write("LIVE-STATE-3333", "LIVE-KEY-4444"),
            0,
            NOW + 3000,
            None,
        )
        .await
        .expect("save");
    drop(store);

    let later = NOW + 4000;
    let (store, swept) =
        EmbeddedStore::open_swept(directory.path(), retention, later).expect("reopen");
    assert_eq!(swept, 200);
    assert!(
        store
            .keys_of(PersonId(1), later)
            .await
            .expect("keys")
            .is_empty()
    );
    assert_eq!(store.due_at(PersonId(1)).await.expect("due"), None);
    assert!(
        store
            .read_state(PersonId(1000), later)
            .await
            .expect("read")
            .data
            .is_some()
    );
    drop(store);
    let file = std::fs::read(directory.path().join("kintsugi.redb")).expect("the file");
    assert!(
        holds(&file, "LIVE-KEY-4444"),
        "the search finds what is there"
    );
    assert!(
        !holds(&file, "EXPIRED-KEY-2222"),
        "an expired wrapped key stayed on disk"
    );
    assert!(
        !holds(&file, "EXPIRED-STATE-1111"),
        "an expired state stayed on disk"
    );

    // A running store sweeps too (and compacts when it next opens).
    let store = EmbeddedStore::open(directory.path(), retention).expect("reopen");
    assert_eq!(
        store.sweep_expired(NOW + 3000 + 3600).await.expect("sweep"),
        1
    );
    assert!(
        store
            .read_state(PersonId(1000), NOW)
            .await
            .expect("read")
            .data
            .is_none()
    );
}

/// Two stores on one Redis (one Redis server or a cluster), as two replicas would have.
fn two_replicas(url: &str, in_flight: Duration) -> (Storage, Storage) {
    let open = || {
        Storage::new(
            RedisStore::connect(url, "test", retention())
                .expect("a client")
                .with_in_flight(in_flight),
        )
    };
    (open(), open())
}

async fn flood_control_is_shared_by_every_replica(url: &str) {
    let (a, b) = two_replicas(url, Duration::from_secs(5));
    let limit = FloodLimit {
        burst: 4,
        per_minute: 60,
    };
    // Each replica has its own gate, as each process does; Redis keeps the one bucket.
    let (gate_a, gate_b) = (FloodGate::new(limit), FloodGate::new(limit));
    let person = PersonId(5);
    let mut verdicts = Vec::new();
    for message in 0..6 {
        let (storage, gate) = if message % 2 == 0 {
            (&a, &gate_a)
        } else {
            (&b, &gate_b)
        };
        let (verdict, stored) = storage
            .read_for_update(person, NOW, Some(gate), None)
            .await
            .expect("read");
        assert_eq!(stored.is_some(), verdict == Verdict::Serve);
        verdicts.push(verdict);
    }
    assert_eq!(
        verdicts,
        [
            Verdict::Serve,
            Verdict::Serve,
            Verdict::Serve,
            Verdict::Serve,
            Verdict::NoteAndDrop,
            Verdict::Drop
        ],
        "the bot's limit, not each replica's"
    );
    // One message a second comes back, for whichever replica.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (verdict, _) = b
        .read_for_update(person, NOW, Some(&gate_b), None)
        .await
        .expect("read");
    assert_eq!(verdict, Verdict::Serve);
    // Another person has their own bucket.
    let (verdict, _) = a
        .read_for_update(PersonId(6), NOW, Some(&gate_a), None)
        .await
        .expect("read");
    assert_eq!(verdict, Verdict::Serve);
}

#[tokio::test]
async fn on_redis_flood_control_is_shared_by_every_replica() {
    let server = RedisServer::start();
    flood_control_is_shared_by_every_replica(&server.url()).await;
}

#[tokio::test]
async fn on_a_redis_cluster_flood_control_is_shared_by_every_replica() {
    let cluster = RedisCluster::start();
    flood_control_is_shared_by_every_replica(&cluster.url()).await;
}

/// What replica `storage` writes for update `id`, after reading for it; once written, its
/// replies are taken as sent (the note is released), as the bot does after sending them.
async fn apply(storage: &Storage, person: PersonId, id: i64, answer: &str) -> Saved {
    let (_, stored) = storage
        .read_for_update(person, NOW, None, Some(id))
        .await
        .expect("read");
    let stored = stored.expect("served");
    let state = state_with(&format!("u{id}"), answer);
    let saved = storage
        .write_handled(
            person,
            &state,
            &stored,
            NOW,
            Some(LastUpdate { id, at: NOW }),
        )
        .await
        .expect("write");
    if matches!(saved, Saved::Written { .. }) {
        storage.release_update(person, id).await.expect("release");
    }
    saved
}

async fn a_later_update_waits_for_an_earlier_one_in_flight_on_another_replica(url: &str) {
    let (a, b) = two_replicas(url, Duration::from_secs(5));
    let person = PersonId(9);
    // Replica A has read for update 10 and is still handling it.
    let (_, held) = a
        .read_for_update(person, NOW, None, Some(10))
        .await
        .expect("read");
    let held = held.expect("served");
    // Replica B, with update 11, is held back until A has written.
    assert_eq!(
        apply(&b, person, 11, "second").await,
        Saved::EarlierInFlight
    );
    let state = state_with("u10", "first");
    assert!(matches!(
        a.write_handled(
            person,
            &state,
            &held,
            NOW,
            Some(LastUpdate { id: 10, at: NOW })
        )
        .await
        .expect("write"),
        Saved::Written { .. }
    ));
    // Written, but its replies are still going out: B waits for them too.
    assert_eq!(
        apply(&b, person, 11, "second").await,
        Saved::EarlierInFlight
    );
    a.release_update(person, 10).await.expect("release");
    assert!(matches!(
        apply(&b, person, 11, "second").await,
        Saved::Written { .. }
    ));
    let stored = a.read(person, NOW).await.expect("read");
    assert_eq!(stored.version, 2);
    assert!(stored.applied.contains(10, NOW) && stored.applied.contains(11, NOW));
    // A later update never holds back an earlier one.
    let (_, _) = a
        .read_for_update(person, NOW, None, Some(13))
        .await
        .expect("read");
    assert!(matches!(
        apply(&b, person, 12, "third").await,
        Saved::Written { .. }
    ));
}

#[tokio::test]
async fn on_redis_a_later_update_waits_for_an_earlier_one_in_flight_on_another_replica() {
    let server = RedisServer::start();
    a_later_update_waits_for_an_earlier_one_in_flight_on_another_replica(&server.url()).await;
}

#[tokio::test]
async fn on_a_redis_cluster_a_later_update_waits_for_an_earlier_one_in_flight_on_another_replica() {
    let cluster = RedisCluster::start();
    a_later_update_waits_for_an_earlier_one_in_flight_on_another_replica(&cluster.url()).await;
}

#[tokio::test]
async fn an_update_whose_replica_died_holds_back_no_one_once_its_note_lapses() {
    let server = RedisServer::start();
    let (a, b) = two_replicas(&server.url(), Duration::from_millis(300));
    let person = PersonId(3);
    // A reads for update 20 and dies.
    a.read_for_update(person, NOW, None, Some(20))
        .await
        .expect("read");
    assert_eq!(apply(&b, person, 21, "x").await, Saved::EarlierInFlight);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(matches!(
        apply(&b, person, 21, "x").await,
        Saved::Written { .. }
    ));
    // An update already applied is not noted in flight again, so it holds back nothing.
    assert!(matches!(
        apply(&b, person, 22, "y").await,
        Saved::Written { .. }
    ));
    b.read_for_update(person, NOW, None, Some(21))
        .await
        .expect("read of a duplicate");
    assert!(matches!(
        apply(&a, person, 23, "z").await,
        Saved::Written { .. }
    ));
}

async fn replicas_share_the_bots_send_rate(url: &str) {
    use kintsugi::telegram::pace::{Pacer, SendLimits};
    let (a, b) = two_replicas(url, Duration::from_secs(5));
    let limits = SendLimits {
        chat_interval: Duration::from_secs(1),
        chat_burst: 4,
        bot_interval: Duration::from_millis(40),
    };
    let pacers = [
        std::sync::Arc::new(Pacer::new(Some(limits)).sharing(a)),
        std::sync::Arc::new(Pacer::new(Some(limits)).sharing(b)),
    ];
    // 60 messages at once, 30 from each replica, each taking the bot's turn concurrently.
    let mut tasks = Vec::new();
    for index in 0..60 {
        let pacer = std::sync::Arc::clone(&pacers[index % 2]);
        tasks.push(tokio::spawn(async move { pacer.take_bot_turn(0).await }));
    }
    let mut turns = Vec::new();
    for task in tasks {
        turns.push(task.await.expect("a turn"));
    }
    turns.sort();
    // Every turn keeps the bot's interval from the one before, whichever replica took it (a
    // few milliseconds are allowed for reading Redis's clock across the network).
    for pair in turns.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(35), "two turns {gap:?} apart");
    }
    assert!(turns[59] - turns[0] >= Duration::from_millis(59 * 35));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_replicas_share_the_bots_send_rate() {
    let server = RedisServer::start();
    replicas_share_the_bots_send_rate(&server.url()).await;
    // Reserved a few at a time, not once a message.
    let calls: String = server.query(&["INFO", "commandstats"]);
    let evals: u64 = calls
        .lines()
        .filter(|line| line.starts_with("cmdstat_evalsha:") || line.starts_with("cmdstat_eval:"))
        .filter_map(|line| {
            line.split([':', ',', '='])
                .skip_while(|part| *part != "calls")
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert!(evals < 60, "{evals} scripts for 60 turns");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_send_rate_keeps_intervals_shorter_than_a_millisecond() {
    // The load tool's `scaled` pacing: 40 µs between the bot's messages. Kept in
    // milliseconds, the schedule would space them 1 ms apart (59 ms for 60).
    use kintsugi::telegram::pace::{Pacer, SendLimits};
    let server = RedisServer::start();
    let (a, _) = two_replicas(&server.url(), Duration::from_secs(5));
    let limits = SendLimits::TELEGRAM.faster(1000);
    assert_eq!(limits.bot_interval, Duration::from_micros(40));
    let pacer = Pacer::new(Some(limits)).sharing(a);
    let mut turns = Vec::new();
    for _ in 0..60 {
        turns.push(pacer.take_bot_turn(0).await);
    }
    let span = turns[59] - turns[0];
    assert!(
        span >= Duration::from_micros(59 * 40 / 2),
        "{span:?} for 60 turns"
    );
    // Kept in milliseconds, every turn would come at least 1 ms after the one before. Each
    // turn is also a Redis round trip, so on a busy machine the span is the round trips'
    // (30 ms was once passed): what shows the microseconds is a gap shorter than 1 ms.
    let gaps: Vec<Duration> = turns.windows(2).map(|pair| pair[1] - pair[0]).collect();
    assert!(
        gaps.iter().any(|gap| *gap < Duration::from_millis(1)),
        "no gap under 1 ms: {gaps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_replicas_share_the_bots_send_rate() {
    let cluster = RedisCluster::start();
    replicas_share_the_bots_send_rate(&cluster.url()).await;
}

/// Two replicas counting each other every 100 ms: the first, alone, keeps the bot's schedule
/// itself; the second, joining, holds its messages until the first has counted it, and then
/// takes its turns after every turn the first gave out on its own schedule.
async fn a_replica_alone_keeps_the_bots_schedule_and_hands_it_over(url: &str) {
    use kintsugi::telegram::pace::{Pacer, SendLimits};
    let every = Duration::from_millis(100);
    let (a, b) = two_replicas(url, Duration::from_secs(5));
    let limits = SendLimits::TELEGRAM;
    let first = std::sync::Arc::new(Pacer::new(Some(limits)).sharing(a));
    first.count_company(every).await;
    let counting = tokio::spawn(std::sync::Arc::clone(&first).keep_company(every));
    // Alone: 20 turns on its own schedule, the bot's interval apart, the last 760 ms ahead.
    let mut turns = Vec::new();
    for _ in 0..20 {
        turns.push(first.take_bot_turn(0).await);
    }
    for pair in turns.windows(2) {
        assert_eq!(pair[1] - pair[0], limits.bot_interval);
    }
    let last_alone = turns[19];

    let second = Pacer::new(Some(limits)).sharing(b);
    let joined = std::time::Instant::now();
    second.count_company(every).await;
    let turn = second.take_bot_turn(0).await;
    assert!(
        turn - joined >= every * 2,
        "sent {:?} after joining, before the other had counted it",
        turn - joined
    );
    assert!(
        turn >= last_alone + limits.bot_interval - Duration::from_millis(5),
        "a shared turn {:?} before the last one the first gave out alone",
        last_alone + limits.bot_interval - turn
    );
    // The first now takes its turns on the shared schedule too, after the second's.
    let next = first.take_bot_turn(0).await;
    assert!(next >= turn + limits.bot_interval - Duration::from_millis(5));
    counting.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_replica_alone_keeps_the_bots_schedule_without_asking() {
    let server = RedisServer::start();
    a_replica_alone_keeps_the_bots_schedule_and_hands_it_over(&server.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_a_replica_alone_keeps_the_bots_schedule_without_asking() {
    let cluster = RedisCluster::start();
    a_replica_alone_keeps_the_bots_schedule_and_hands_it_over(&cluster.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_alone_reserves_no_turns_in_redis() {
    use kintsugi::telegram::pace::{Pacer, SendLimits};
    let server = RedisServer::start();
    let (a, _) = two_replicas(&server.url(), Duration::from_secs(5));
    let pacer = Pacer::new(Some(SendLimits::TELEGRAM.faster(1000))).sharing(a);
    pacer.count_company(Duration::from_secs(1)).await;
    for _ in 0..100 {
        pacer.take_bot_turn(2).await;
    }
    let kept: Vec<String> = server.query(&["KEYS", "test:{turns}:*"]);
    assert_eq!(kept, ["test:{turns}:bot:senders"]);
}

#[tokio::test]
async fn without_a_shared_store_each_process_keeps_the_bots_rate_itself() {
    use kintsugi::telegram::pace::{Pacer, SendLimits};
    let backend = embedded_backend(retention());
    let pacer = Pacer::new(Some(SendLimits::TELEGRAM)).sharing(backend.storage.clone());
    let first = pacer.take_bot_turn(0).await;
    let second = pacer.take_bot_turn(0).await;
    assert!(second - first >= SendLimits::TELEGRAM.bot_interval);
}

// --- Pairs and invitations ---

const PAIR: PairId = PairId(77);

async fn a_pair_record_is_written_with_compare_and_set_and_deleted_whole(backend: Backend) {
    let storage = &backend.storage;
    storage
        .check_vault()
        .await
        .expect("a new store takes the key");
    assert_eq!(storage.read_pair(PAIR, NOW).await.expect("read"), None);
    let mut pair = PairState::new(1, 2, NOW);
    let first = storage
        .write_pair(PAIR, &pair, None, NOW)
        .await
        .expect("write");
    assert_eq!(first, Saved::Written { version: 1 });
    assert_eq!(
        storage
            .write_pair(PAIR, &pair, None, NOW)
            .await
            .expect("write"),
        Saved::Conflict,
        "a second link cannot be made over the first"
    );
    let stored = storage
        .read_pair(PAIR, NOW)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(stored.state, pair);
    pair.apply(
        Side::First,
        &PairChange::Propose {
            text: "Phones down at dinner".to_owned(),
            at: NOW,
        },
    );
    assert_eq!(
        storage
            .write_pair(PAIR, &pair, Some(&stored), NOW)
            .await
            .expect("write"),
        Saved::Written { version: 2 }
    );
    assert_eq!(
        storage
            .write_pair(PAIR, &pair, Some(&stored), NOW)
            .await
            .expect("write"),
        Saved::Conflict,
        "a write from a stale read is refused"
    );
    let again = storage
        .read_pair(PAIR, NOW)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(again.state.rules.len(), 1);
    assert_eq!(again.version, 2);
    assert!(
        !storage
            .keys_of_pair(PAIR, NOW)
            .await
            .expect("keys")
            .is_empty()
    );
    assert_eq!(
        storage.read_pair(PairId(78), NOW).await.expect("read"),
        None,
        "another pair is untouched"
    );
    storage.delete_pair(PAIR).await.expect("delete");
    assert_eq!(storage.read_pair(PAIR, NOW).await.expect("read"), None);
    assert!(
        storage
            .keys_of_pair(PAIR, NOW)
            .await
            .expect("keys")
            .is_empty()
    );
}

async fn an_invitation_opens_with_its_token_only_is_taken_once_and_expires(backend: Backend) {
    let storage = &backend.storage;
    let token = new_invitation_token();
    let invitation = Invitation {
        inviter: 41,
        pair: 9,
        expires: NOW + 60,
    };
    storage
        .put_invitation(&token, &invitation, NOW)
        .await
        .expect("put");
    assert_eq!(
        storage.read_invitation(&token, NOW).await.expect("read"),
        Some(invitation),
        "reading leaves it in place"
    );
    assert_eq!(
        storage.read_invitation(&token, NOW).await.expect("read"),
        Some(invitation)
    );
    let forged = new_invitation_token();
    assert_eq!(
        storage.read_invitation(&forged, NOW).await.expect("read"),
        None
    );
    assert_eq!(
        storage.take_invitation(&forged, NOW).await.expect("take"),
        None
    );
    assert_eq!(
        storage
            .take_invitation(&token, NOW + 1)
            .await
            .expect("take"),
        Some(invitation)
    );
    assert_eq!(
        storage
            .take_invitation(&token, NOW + 2)
            .await
            .expect("take"),
        None,
        "used once"
    );
    assert_eq!(
        storage
            .read_invitation(&token, NOW + 2)
            .await
            .expect("read"),
        None
    );

    let late = new_invitation_token();
    storage
        .put_invitation(&late, &invitation, NOW)
        .await
        .expect("put");
    assert_eq!(
        storage
            .take_invitation(&late, NOW + 61)
            .await
            .expect("take"),
        None,
        "expired"
    );
    let dropped = new_invitation_token();
    storage
        .put_invitation(&dropped, &invitation, NOW)
        .await
        .expect("put");
    storage.delete_invitation(&dropped).await.expect("delete");
    assert_eq!(
        storage.read_invitation(&dropped, NOW).await.expect("read"),
        None
    );
}

async fn what_partners_share_is_sealed_at_rest(backend: Backend) {
    let storage = &backend.storage;
    storage
        .check_vault()
        .await
        .expect("a new store takes the key");
    let mut pair = PairState::new(1, 2, NOW);
    let answer = PairChange::Answer {
        item: "safe-this-week/need".to_owned(),
        value: "an honest answer about the gym evenings".to_owned(),
        at: NOW,
    };
    pair.apply(Side::First, &answer);
    storage
        .write_pair(PAIR, &pair, None, NOW)
        .await
        .expect("write");
    let token = new_invitation_token();
    let invitation = Invitation {
        inviter: 1,
        pair: 5,
        expires: NOW + 60,
    };
    storage
        .put_invitation(&token, &invitation, NOW)
        .await
        .expect("put");
    let stored = storage
        .read_pair(PAIR, NOW)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(stored.state, pair, "it opens again");
    let at_rest = backend.at_rest();
    for needle in ["gym evenings", "honest answer", token.as_str()] {
        assert!(
            !at_rest
                .windows(needle.len())
                .any(|window| window == needle.as_bytes()),
            "{needle:?} is readable at rest"
        );
    }
}

/// The partner on `side` answers shared item `f/a` of pair `pair_id`, reading and writing
/// again until their compare-and-set wins; returns what their answer brought about.
async fn answer_in_turn(storage: Storage, pair_id: PairId, side: Side) -> PairNews {
    let change = PairChange::Answer {
        item: "f/a".to_owned(),
        value: format!("{side:?}"),
        at: NOW,
    };
    loop {
        let stored = storage
            .read_pair(pair_id, NOW)
            .await
            .expect("read")
            .expect("linked");
        let mut state = stored.state.clone();
        let news = state.apply(side, &change);
        if let Saved::Written { .. } = storage
            .write_pair(pair_id, &state, Some(&stored), NOW)
            .await
            .expect("write")
        {
            return news;
        }
    }
}

async fn two_partners_answering_at_once_make_exactly_one_reveal(backend: Backend) {
    let storage = backend.storage.clone();
    storage
        .check_vault()
        .await
        .expect("a new store takes the key");
    for round in 0..10 {
        let pair_id = PairId(1000 + round);
        storage
            .write_pair(pair_id, &PairState::new(1, 2, NOW), None, NOW)
            .await
            .expect("link");
        let first = tokio::spawn(answer_in_turn(storage.clone(), pair_id, Side::First));
        let second = tokio::spawn(answer_in_turn(storage.clone(), pair_id, Side::Second));
        let news = [first.await.expect("ran"), second.await.expect("ran")];
        let reveals = news
            .iter()
            .filter(|news| **news == PairNews::Revealed)
            .count();
        assert_eq!(reveals, 1, "round {round}: {news:?}");
        let stored = storage
            .read_pair(pair_id, NOW)
            .await
            .expect("read")
            .expect("there");
        let view = stored.state.view("f/a", Side::First);
        assert_eq!(view.theirs.map(|a| a.value.as_str()), Some("Second"));
    }
}

async fn notices_wait_sealed_in_an_inbox_until_taken_and_go_with_the_person(backend: Backend) {
    let storage = &backend.storage;
    storage
        .check_vault()
        .await
        .expect("a new store takes the key");
    let person = PersonId(31);
    let notice = "Something is waiting for you, gently".to_owned();
    storage
        .post_notice(person, std::slice::from_ref(&notice), NOW)
        .await
        .expect("post");
    assert!(
        storage
            .take_notices(person, NOW)
            .await
            .expect("take")
            .is_empty(),
        "no inbox for someone with nothing stored"
    );
    storage
        .write(person, &state_with("note", "x"), 0, NOW)
        .await
        .expect("save");
    storage
        .post_notice(person, std::slice::from_ref(&notice), NOW)
        .await
        .expect("post");
    storage
        .post_notice(person, &["A second one".to_owned()], NOW + 1)
        .await
        .expect("post");
    assert!(
        storage.keys_of(person, NOW).await.expect("keys").len() >= 2,
        "the inbox is one of the person's keys"
    );
    let at_rest = backend.at_rest();
    assert!(
        !at_rest
            .windows(b"waiting for you".len())
            .any(|window| window == b"waiting for you"),
        "a notice is sealed at rest"
    );
    assert_eq!(
        storage.take_notices(person, NOW + 2).await.expect("take"),
        vec![notice.clone(), "A second one".to_owned()]
    );
    assert!(
        storage
            .take_notices(person, NOW + 3)
            .await
            .expect("take")
            .is_empty()
    );
    storage
        .post_notice(person, std::slice::from_ref(&notice), NOW)
        .await
        .expect("post");
    storage.delete_person(person).await.expect("delete");
    assert!(storage.keys_of(person, NOW).await.expect("keys").is_empty());
    assert!(
        storage
            .take_notices(person, NOW)
            .await
            .expect("take")
            .is_empty()
    );
}

/// Two replicas (two clients of one Redis or cluster) each apply one partner's answer at the
/// same moment: the pair's record shows the reveal happen exactly once.
async fn replicas_answering_at_once_reveal_once(url: &str) {
    let (a, b) = two_replicas(url, Duration::from_secs(5));
    for round in 0..20 {
        let pair_id = PairId(5000 + round);
        a.write_pair(pair_id, &PairState::new(1, 2, NOW), None, NOW)
            .await
            .expect("link");
        let first = tokio::spawn(answer_in_turn(a.clone(), pair_id, Side::First));
        let second = tokio::spawn(answer_in_turn(b.clone(), pair_id, Side::Second));
        let news = [first.await.expect("ran"), second.await.expect("ran")];
        let reveals = news
            .iter()
            .filter(|news| **news == PairNews::Revealed)
            .count();
        assert_eq!(reveals, 1, "round {round}: {news:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_replicas_answering_at_once_reveal_once() {
    let server = RedisServer::start();
    replicas_answering_at_once_reveal_once(&server.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_replicas_answering_at_once_reveal_once() {
    let cluster = RedisCluster::start();
    replicas_answering_at_once_reveal_once(&cluster.url()).await;
}

#[tokio::test]
async fn the_embedded_store_keeps_no_copy_of_a_deleted_pair_or_person_in_its_file() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = EmbeddedStore::open(directory.path(), retention()).expect("an embedded store");
    let storage = Storage::new(store.clone()).with_vault(vault("k1"));
    storage
        .check_vault()
        .await
        .expect("a new store takes the key");
    let mut pair = PairState::new(1, 2, NOW);
    storage
        .write_pair(PAIR, &pair, None, NOW)
        .await
        .expect("link");
    // Many writes, so freed pages hold old copies of every record.
    for round in 0..20 {
        for person in 1..=10 {
            let base = storage.read(PersonId(person), NOW).await.expect("read");
            storage
                .write(
                    PersonId(person),
                    &state_with("note", &format!("{round}")),
                    base.version,
                    NOW,
                )
                .await
                .expect("save");
        }
        let stored = storage
            .read_pair(PAIR, NOW)
            .await
            .expect("read")
            .expect("there");
        pair.apply(
            Side::First,
            &PairChange::Propose {
                text: format!("rule {round}"),
                at: NOW,
            },
        );
        storage
            .write_pair(PAIR, &pair, Some(&stored), NOW)
            .await
            .expect("write");
    }
    let file = directory.path().join("kintsugi.redb");
    let holds = |needle: &str| {
        let bytes = std::fs::read(&file).expect("the file");
        bytes
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
    };
    let pair_key = store
        .read_pair(PAIR, NOW)
        .await
        .expect("raw")
        .key
        .expect("a wrapped key");
    let person_key = store
        .read_state(PersonId(7), NOW)
        .await
        .expect("raw")
        .key
        .expect("a wrapped key");
    assert!(
        holds(&pair_key) && holds(&person_key),
        "the keys are in the file to begin with"
    );
    storage.delete_pair(PAIR).await.expect("unlink");
    assert!(!holds(&pair_key), "the link's key is still in the file");
    storage.delete_person(PersonId(7)).await.expect("forget");
    assert!(!holds(&person_key), "the person's key is still in the file");
    let other = store
        .read_state(PersonId(8), NOW)
        .await
        .expect("raw")
        .key
        .expect("a key");
    assert!(holds(&other), "someone else's record stays");
}

#[test]
fn a_shared_embedded_store_opens_while_another_shell_has_the_file_for_a_moment() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let held = EmbeddedStore::open(directory.path(), retention()).expect("an embedded store");
    // Another shell's call holds the file for a moment, then lets it go.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(held);
    });
    let opened = EmbeddedStore::open_shared(directory.path(), retention(), NOW);
    release.join().expect("the holder lets go");
    assert!(opened.is_ok(), "{:?}", opened.err());
}
