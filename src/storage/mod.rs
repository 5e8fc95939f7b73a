//! Per-person state and the reminder queue, kept in Redis (when `REDIS_URL` is set), in an
//! embedded store on disk, or in memory (for tests). This folder is the only code that talks
//! to any of them. Each implements two traits, [`PersonStore`] and [`ReminderQueue`], with the
//! same guarantees, and one conformance suite (`tests/storage.rs`) runs against all of them
//! (Redis both as one server and as a cluster).
//! It knows nothing of Telegram or the flows: it keeps sealed strings and versions.
//!
//! # Key layout (Redis)
//!
//! Every key of one person shares the hash tag `{u:<person id>}`, so in Redis Cluster they all
//! live in one slot and can be deleted together:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<prefix>:{u:<id>}:state` | hash | `v`: the state's version (a counter), `d`: the state, sealed (see `crate::vault`), `k`: the person's data key, wrapped by the master key, `u`: the Telegram updates applied lately (`id:time,id:time,...`, at most 32 within the redelivery window), `i`: updates in flight on some replica (`id:deadline:phase,...`, `h` while handled, `s` while their replies go out), `ft`/`fn`: their flood-control bucket |
//! | `<prefix>:{u:<id>}:meta` | hash | `blocked`: when the person blocked the bot (absent while they have not) |
//! | `<prefix>:{u:<id>}:inbox` | list | notices for the person from a partner's shell, each sealed with the person's data key |
//!
//! Reminders live in an index of their own, split into 16 shards: a person's entries are in
//! shard `<n>` = their id modulo 16, whose keys share the hash tag `{reminders:<n>}` so a
//! script can claim from one shard:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<prefix>:{reminders:<n>}:due` | sorted set | person id, scored by when their reminder is next due (or leased until) |
//! | `<prefix>:{reminders:<n>}:occurrence` | hash | person id to the due time of their pending reminder |
//! | `<prefix>:{reminders:<n>}:sent` | hash | person id to the last occurrence marked as being sent |
//! | `<prefix>:{reminders:<n>}:outbox` | set | person ids whose state may hold effects not yet carried out |
//!
//! `<prefix>:{turns}:<name>:us` is a schedule every replica shares (`bot`: the bot's overall send
//! rate), as the moment its next turn is free, in microseconds of Redis's clock.
//!
//! `<prefix>:lease:<name>` holds who has a lease (`poller`: the one process long-polling
//! Telegram), expiring unless renewed.
//!
//! `<prefix>:vault` holds a value sealed by the master key, so that a wrong key is caught at
//! start-up rather than when someone writes.
//!
//! `<prefix>` comes from `KINTSUGI_REDIS_PREFIX` (default `kintsugi`), so several bots can share
//! one Redis. Each key expires after the retention period, refreshed on every write.
//!
//! The stores keep strings; [`Storage`] seals and opens them with the `Vault`, so no store
//! ever sees a person's words in the clear.

mod embedded;
mod memory;
mod pairs;
mod redis;
mod remembered;

use std::sync::Arc;
use std::time::Duration;

pub use self::embedded::EmbeddedStore;
pub use self::memory::MemoryStore;
pub use self::pairs::{Invitation, PairId, PairStore, RawPair, StoredPair, new_invitation_token};
pub use self::redis::RedisStore;
use async_trait::async_trait;

use crate::dialogue::PersonState;
use crate::flood::{FloodGate, FloodLimit, Verdict};
use crate::vault::{DataKey, Owner, Vault, VaultError};

use self::remembered::{Kept, Remembered};

/// A state this process wrote last, opened again: the caller writes over it with
/// [`Storage::write_over`] (or reads the state after a conflict).
#[derive(Debug)]
pub(crate) struct Recalled {
    pub stored: Stored,
    /// The start of the sealed text written, unique to that write.
    pub mark: String,
}

/// Who a state belongs to: the Telegram user id (or a local id in the shell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonId(pub i64);

/// The names of every per-person key; deleting a person deletes all of them.
pub(crate) const PERSON_KEYS: &[&str] = &["state", "meta", "inbox"];

/// A person's state with the version it was read at (0 when nothing is stored yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub state: PersonState,
    pub version: u64,
    /// The Telegram updates applied to this state lately, written with it.
    pub applied: Applied,
    /// The person's data key, opened, when one is stored.
    key: Option<StoredKey>,
}

impl Stored {
    /// What a person never seen starts with.
    fn new_person() -> Stored {
        Stored {
            state: PersonState::default(),
            version: 0,
            applied: Applied::default(),
            key: None,
        }
    }
}

/// A data key (a person's, or a linked pair's) as read: opened, and as it is stored.
#[derive(Debug, Clone)]
struct StoredKey {
    key: DataKey,
    wrapped: String,
    /// Wrapped by the current master key (otherwise the next write rewraps it).
    current: bool,
}

/// Two keys are the same when they are stored the same.
impl PartialEq for StoredKey {
    fn eq(&self, other: &Self) -> bool {
        self.wrapped == other.wrapped
    }
}

impl Eq for StoredKey {}

/// A person's state as a backend keeps it: still sealed.
#[derive(Debug, Clone, Default)]
pub struct RawState {
    /// The state's version: how many times it was written (0: never).
    pub version: u64,
    /// The state, sealed (or plain JSON, written in plaintext mode); `None` if none is stored.
    pub data: Option<String>,
    /// The wrapped data key.
    pub key: Option<String>,
    /// The Telegram updates applied lately.
    pub applied: Applied,
}

/// What a backend writes: the sealed state, and the wrapped data key when it is new.
#[derive(Debug, Clone)]
pub struct RawWrite {
    /// The state, sealed (or plain JSON in plaintext mode).
    pub data: String,
    /// The person's wrapped data key, when it is new or rewrapped; otherwise the stored one stays.
    pub new_key: Option<String>,
    /// The Telegram update this write applies, if any: a store shared by several processes
    /// holds it back while an earlier update of the person is being handled elsewhere.
    pub update: Option<i64>,
}

/// A read for handling one message: the state, and what flood control said about the message.
#[derive(Debug)]
pub struct Admitted {
    /// `None` when the store keeps no flood state of its own (one process: the caller's gate
    /// decides).
    pub verdict: Option<Verdict>,
    /// The state as read (opened only for a message to serve).
    pub state: RawState,
}

/// A reminder found due: whose, and which occurrence (its due time, seconds since the epoch),
/// which is what makes sending it at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DueReminder {
    pub person: PersonId,
    pub occurrence: i64,
}

/// A Telegram update id and when it was handled (seconds since the epoch), kept beside the
/// state so that an update Telegram delivers twice is applied once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LastUpdate {
    pub id: i64,
    pub at: i64,
}

impl LastUpdate {
    fn decode(text: &str) -> Option<LastUpdate> {
        let (id, at) = text.split_once(':')?;
        Some(LastUpdate {
            id: id.trim().parse().ok()?,
            at: at.trim().parse().ok()?,
        })
    }
}

/// The Telegram updates applied to a person's state lately, kept with it so that an update
/// delivered twice (after a crash, or to two replicas) is applied once, while an earlier
/// update arriving after a later one (replicas race) is still applied: a set of ids, not a
/// high-water mark.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Applied(Vec<LastUpdate>);

impl Applied {
    /// How many ids are kept; far more than one person sends within the window.
    pub const KEPT: usize = 32;
    /// How long Telegram may deliver an update again, in seconds.
    pub const WINDOW: i64 = 24 * 60 * 60;

    /// Whether update `id` was applied within the window before `now`.
    pub fn contains(&self, id: i64, now: i64) -> bool {
        self.0
            .iter()
            .any(|update| update.id == id && now - update.at < Self::WINDOW)
    }

    /// These and `update`, without those past the window, the newest `KEPT`.
    pub fn with(&self, update: LastUpdate) -> Applied {
        let mut kept: Vec<LastUpdate> = self
            .0
            .iter()
            .copied()
            .filter(|old| old.id != update.id && update.at - old.at < Self::WINDOW)
            .collect();
        kept.push(update);
        kept.sort_by_key(|old| old.at);
        let skip = kept.len().saturating_sub(Self::KEPT);
        Applied(kept.split_off(skip))
    }

    /// The most recent one (the highest id).
    pub fn latest(&self) -> Option<LastUpdate> {
        self.0.iter().copied().max_by_key(|update| update.id)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `id:at,id:at`, as Redis keeps it.
    pub(crate) fn encode(&self) -> String {
        use std::fmt::Write;
        // Written into one buffer: this runs on every update.
        let mut text = String::with_capacity(self.0.len() * 22);
        for (index, update) in self.0.iter().enumerate() {
            let comma = if index == 0 { "" } else { "," };
            let _ = write!(text, "{comma}{}:{}", update.id, update.at);
        }
        text
    }

    /// Reads `encode`'s form (and the single `id:at` written before the list).
    pub(crate) fn decode(text: &str) -> Applied {
        Applied(text.split(',').filter_map(LastUpdate::decode).collect())
    }
}

impl From<Option<LastUpdate>> for Applied {
    fn from(update: Option<LastUpdate>) -> Applied {
        Applied(update.into_iter().collect())
    }
}

/// The result of a compare-and-set write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Written; the state now has this version.
    Written { version: u64 },
    /// Someone else wrote first; read again and retry.
    Conflict,
    /// An earlier update of the person is being handled by another process: wait a moment,
    /// read again and retry, so the person's updates are applied in order.
    EarlierInFlight,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("redis is unavailable: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("the embedded store failed: {0}")]
    Embedded(#[from] ::redb::Error),
    #[error("a stored state could not be read: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("the embedded store's worker stopped: {0}")]
    Worker(#[from] tokio::task::JoinError),
    #[error("encrypted data could not be opened: {0}")]
    Vault(#[from] VaultError),
    /// The store's settings cannot be used (a malformed URL, say).
    #[error("{0}")]
    Config(String),
}

/// How long a person's keys live after their last write; `None` keeps them for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Option<Duration>);

impl Retention {
    /// When a record written at `now` (seconds since the epoch) expires; `None`: never.
    pub(crate) fn expires_at(self, now: i64) -> Option<i64> {
        self.0
            .map(|period| now.saturating_add(i64::try_from(period.as_secs()).unwrap_or(i64::MAX)))
    }
}

/// Where people's state is kept, as sealed strings: Redis, the embedded store on disk, or
/// memory. [`Storage`] seals and opens what goes through it; an implementation never sees a
/// person's words in the clear. `tests/storage.rs` holds every implementation to the same
/// guarantees. `now` is seconds since the epoch (stores that expire keys themselves ignore it).
#[async_trait]
pub trait PersonStore: Send + Sync {
    /// A short name for logs: `redis`, `embedded` or `memory`.
    fn kind(&self) -> &'static str;
    /// A person's state as kept; [`RawState::default`] if there is none (or it expired).
    async fn read_state(&self, person: PersonId, now: i64) -> Result<RawState, StorageError>;

    /// Reads a person's state to handle one message: takes the message through flood
    /// control (`flood`, when given) and notes `update` as being handled, in the same round
    /// trip, where the store is shared by several processes. By default (one process) it only
    /// reads, and says nothing about the flood.
    /// Whether the store has [`PersonStore::write_over`].
    fn writes_over(&self) -> bool {
        false
    }

    /// Writes `write` over the state this process wrote last, without reading it first: only
    /// if its version is still `expected` and its sealed text still starts with `mark`, after
    /// taking the message through flood control (`flood`, when given), in one round trip.
    /// Returns the flood verdict (when `flood` was given) and whether it was written. `None`
    /// where the store has no such write.
    async fn write_over(
        &self,
        _person: PersonId,
        _write: RawWrite,
        _expected: u64,
        _mark: &str,
        _applied: Option<Applied>,
        _flood: Option<FloodLimit>,
    ) -> Result<Option<(Option<Verdict>, Saved)>, StorageError> {
        Ok(None)
    }

    async fn read_for_update(
        &self,
        person: PersonId,
        now: i64,
        _flood: Option<FloodLimit>,
        _update: Option<i64>,
    ) -> Result<Admitted, StorageError> {
        Ok(Admitted {
            verdict: None,
            state: self.read_state(person, now).await?,
        })
    }
    /// Writes the state if its version is still `expected`, with `applied` as the updates
    /// applied (when given; otherwise the recorded ones stay), and refreshes its expiry.
    async fn write_state(
        &self,
        person: PersonId,
        write: RawWrite,
        expected: u64,
        now: i64,
        applied: Option<Applied>,
    ) -> Result<Saved, StorageError>;
    /// Records whether the person can be written to (see [`Storage::set_reachable`]).
    async fn set_reachable(
        &self,
        person: PersonId,
        reachable: bool,
        now: i64,
    ) -> Result<(), StorageError>;
    /// Whether the person can be written to.
    async fn is_reachable(&self, person: PersonId, now: i64) -> Result<bool, StorageError>;
    /// Deletes every key of a person, their pending reminder included.
    async fn delete_person(&self, person: PersonId) -> Result<(), StorageError>;
    /// The value that recognises the master key, if one was stored.
    async fn vault_check(&self) -> Result<Option<String>, StorageError>;
    /// Writes the check value if the stored one is still `expected` (`None`: absent).
    async fn set_vault_check(
        &self,
        expected: Option<String>,
        value: String,
    ) -> Result<bool, StorageError>;
    /// The names of the keys stored for a person (for audits and tests).
    async fn keys_of(&self, person: PersonId, now: i64) -> Result<Vec<String>, StorageError>;
    /// Seconds until a person's state expires; `None` when it does not or does not exist.
    async fn expires_in(&self, person: PersonId, now: i64) -> Result<Option<i64>, StorageError>;
    /// Whether the store answers (for readiness checks); stores in this process always do.
    async fn ping(&self) -> Result<(), StorageError> {
        Ok(())
    }
    /// Ends the note that update `update` of `person` is in flight, once its replies are sent,
    /// so the person's next update may be applied and answered. A store not shared between
    /// processes keeps no notes.
    async fn release_update(&self, _person: PersonId, _update: i64) -> Result<(), StorageError> {
        Ok(())
    }

    /// Reserves `count` turns, `interval` apart, on the schedule `name` that every process
    /// of this bot shares (the bot's overall send rate); returns how long until the first.
    /// `None`: the store is not shared between processes, so each keeps its own schedule.
    async fn reserve_turns(
        &self,
        _name: &str,
        _count: u32,
        _interval: Duration,
    ) -> Result<Option<Duration>, StorageError> {
        Ok(None)
    }

    /// Says `sender` sends on the shared schedule `name` (for `ttl`, unless said again) and
    /// returns how many senders it has, this one included; with a `lead`, first moves the
    /// schedule's next free turn to at least `lead` from now (the turns a sender gave out on
    /// its own schedule). `None`: the store is not shared between processes.
    async fn count_senders(
        &self,
        _name: &str,
        _sender: &str,
        _ttl: Duration,
        _lead: Duration,
    ) -> Result<Option<u32>, StorageError> {
        Ok(None)
    }

    /// Takes, or renews, the lease `name` for `holder` for `ttl_ms` milliseconds; false while
    /// another holder has it. A store only one process can open (the embedded one) always
    /// grants it.
    async fn hold_lease(
        &self,
        _name: &str,
        _holder: &str,
        _ttl_ms: u64,
    ) -> Result<bool, StorageError> {
        Ok(true)
    }
    /// Gives the lease back, if `holder` still has it.
    async fn release_lease(&self, _name: &str, _holder: &str) -> Result<(), StorageError> {
        Ok(())
    }
    /// Deletes everything kept about people whose records expired by `now`; returns how many.
    /// Redis expires keys by itself, so by default there is nothing to do.
    async fn sweep_expired(&self, _now: i64) -> Result<usize, StorageError> {
        Ok(0)
    }

    /// Moves records kept in an earlier version's layout into the current one; returns how
    /// many moved. Run at start; a store that never changed its layout has nothing to do.
    async fn upgrade_layout(&self) -> Result<usize, StorageError> {
        Ok(0)
    }

    /// Adds a sealed notice to a person's inbox (notices for someone on another terminal,
    /// such as a partner's shell), refreshing its expiry.
    async fn push_inbox(
        &self,
        person: PersonId,
        sealed: String,
        now: i64,
    ) -> Result<(), StorageError>;
    /// Takes every notice in a person's inbox, oldest first, and empties it.
    async fn take_inbox(&self, person: PersonId, now: i64) -> Result<Vec<String>, StorageError>;
}

/// The queue of check-in reminders, one pending reminder a person, which the scheduler claims
/// and sends at most once. Kept in the same place as people's state.
#[async_trait]
pub trait ReminderQueue: Send + Sync {
    /// Schedules a person's next reminder for `due` (seconds since the epoch), replacing any
    /// pending one.
    async fn schedule(&self, person: PersonId, due: i64) -> Result<(), StorageError>;
    /// Removes a person's pending reminder.
    async fn cancel(&self, person: PersonId) -> Result<(), StorageError>;
    /// When a person's pending reminder is due, if they have one.
    async fn due_at(&self, person: PersonId) -> Result<Option<i64>, StorageError>;
    /// When the last reminder marked as sent to a person was due, if any.
    async fn last_sent(&self, person: PersonId) -> Result<Option<i64>, StorageError>;
    /// Claims up to `limit` reminders due at `now`, leasing each for `lease` seconds: another
    /// scheduler sees them again only if this one has not rescheduled them by then.
    async fn claim_due(
        &self,
        now: i64,
        limit: usize,
        lease: i64,
    ) -> Result<Vec<DueReminder>, StorageError>;
    /// Marks an occurrence as being sent, right before sending it. True if this call marked
    /// it; false if it was marked before, and so must not be sent again (at most once).
    async fn mark_sending(&self, due: DueReminder) -> Result<bool, StorageError>;
    /// Takes back the mark of an occurrence that was certainly not sent (the request failed
    /// before reaching Telegram), so it is tried again once its lease ends.
    async fn unmark_sending(&self, due: DueReminder) -> Result<(), StorageError>;
    /// Notes that a person's state holds effects not yet carried out (its outbox), so the
    /// scheduler finds them if the process that saved them stops first.
    async fn note_outbox(&self, person: PersonId) -> Result<(), StorageError>;
    /// Forgets that note, once the effects are carried out.
    async fn clear_outbox(&self, person: PersonId) -> Result<(), StorageError>;
    /// Up to `limit` people whose outbox may hold effects.
    async fn outboxes(&self, limit: usize) -> Result<Vec<PersonId>, StorageError>;
}

/// People's state in one [`PersonStore`], sealed by a vault, and the reminder queue kept
/// beside it.
#[derive(Clone)]
pub struct Storage {
    people: Arc<dyn PersonStore>,
    reminders: Arc<dyn ReminderQueue>,
    pairs: Arc<dyn PairStore>,
    vault: Arc<Vault>,
    /// The states this process wrote last, for a long poller (see `remembered.rs`).
    remembered: Option<Arc<Remembered>>,
}

impl Storage {
    /// A store that keeps plain JSON until `with_vault` gives it a master key.
    pub fn new<S: PersonStore + ReminderQueue + PairStore + 'static>(store: S) -> Storage {
        let store = Arc::new(store);
        Storage {
            people: store.clone(),
            reminders: store.clone(),
            pairs: store,
            vault: Arc::new(Vault::plaintext()),
            remembered: None,
        }
    }

    /// People's state in `people` and the reminder queue in `reminders` (for tests that wrap
    /// one of them); pairs are kept in memory. In production all three are one store, so
    /// forgetting a person also removes their reminder.
    pub fn with_queue(
        people: impl PersonStore + 'static,
        reminders: impl ReminderQueue + 'static,
    ) -> Storage {
        Storage {
            people: Arc::new(people),
            reminders: Arc::new(reminders),
            pairs: Arc::new(MemoryStore::new(Retention(None))),
            vault: Arc::new(Vault::plaintext()),
            remembered: None,
        }
    }

    /// Seals every state with `vault`'s master key from now on.
    pub fn with_vault(self, vault: Vault) -> Storage {
        Storage {
            vault: Arc::new(vault),
            ..self
        }
    }

    /// Remembers the states this process writes for a few minutes, so that a person's next
    /// message is handled without reading their state first (one round trip instead of two),
    /// where the store can check such a write and states are sealed (the mark of a write is
    /// its nonce). Only for the one process handling the bot's updates: a long poller.
    pub fn remembering(self) -> Storage {
        let remembers = self.people.writes_over() && self.vault.encrypts();
        Storage {
            remembered: remembers.then(|| {
                Arc::new(Remembered::new(
                    remembered::REMEMBERED_PEOPLE,
                    remembered::REMEMBERED_BYTES,
                    remembered::REMEMBERED_FOR,
                ))
            }),
            ..self
        }
    }

    /// What this process remembers of the state it wrote last for `person`, taken out: the
    /// caller writes over it with [`Storage::write_over`], or reads the state on a conflict.
    pub(crate) fn recall(&self, person: PersonId) -> Option<Recalled> {
        let kept = self
            .remembered
            .as_ref()?
            .recall(person, std::time::Instant::now())?;
        let mark = remembered::mark_of(&kept.sealed)?.to_owned();
        let json = self
            .open_sealed(person.into(), STATE_FIELD, kept.sealed, Some(&kept.key))
            .ok()?;
        let state = serde_json::from_slice(&json).ok()?;
        Some(Recalled {
            stored: Stored {
                state,
                version: kept.version,
                applied: kept.applied,
                key: Some(kept.key),
            },
            mark,
        })
    }

    /// Writes `state` over `base`, a recalled state whose write was marked `mark` (see
    /// [`PersonStore::write_over`]), adding `update` to the updates applied; returns the flood
    /// verdict and whether it was written.
    pub(crate) async fn write_over(
        &self,
        person: PersonId,
        state: &PersonState,
        base: &Stored,
        mark: &str,
        update: Option<LastUpdate>,
        gate: Option<&FloodGate>,
    ) -> Result<(Verdict, Saved), StorageError> {
        let mut write = self.seal(person, state, base.key.as_ref())?;
        write.update = update.map(|update| update.id);
        let sealed = self.remembered.as_ref().map(|_| write.data.clone());
        let applied = update.map(|update| base.applied.with(update));
        let written = self
            .people
            .write_over(
                person,
                write,
                base.version,
                mark,
                applied.clone(),
                gate.map(FloodGate::limit),
            )
            .await?;
        let Some((verdict, saved)) = written else {
            return Ok((Verdict::Serve, Saved::Conflict));
        };
        let verdict = settle_flood(verdict, gate, person);
        if let Some(sealed) = sealed {
            self.remember(person, base, applied, &saved, sealed);
        }
        Ok((verdict, saved))
    }

    /// After a write (sealed as `sealed`) over `base`: remembers it when written, with its key
    /// as it was (so only when no new key was made); forgets the person otherwise.
    fn remember(
        &self,
        person: PersonId,
        base: &Stored,
        applied: Option<Applied>,
        saved: &Saved,
        sealed: String,
    ) {
        let Some(remembered) = &self.remembered else {
            return;
        };
        match (saved, &base.key) {
            (Saved::Written { version }, Some(key)) if key.current => remembered.keep(
                person,
                Kept {
                    sealed,
                    version: *version,
                    applied: applied.unwrap_or_else(|| base.applied.clone()),
                    key: key.clone(),
                },
                std::time::Instant::now(),
            ),
            _ => remembered.forget(person),
        }
    }

    /// A short name for logs: `redis`, `embedded` or `memory`.
    pub fn kind(&self) -> &'static str {
        self.people.kind()
    }

    /// The reminder queue kept beside people's state.
    pub fn reminders(&self) -> &Arc<dyn ReminderQueue> {
        &self.reminders
    }

    /// Checks that the master key is the one the store was written with (a precise error if
    /// not, before anything is read or written), and records it in a store seen for the first
    /// time.
    pub async fn check_vault(&self) -> Result<(), StorageError> {
        // Another instance may write the check value between our read and our write: then
        // read again and check against what it wrote.
        for _ in 0..3 {
            let stored = self.people.vault_check().await?;
            let write = match &stored {
                Some(value) if self.vault.encrypts() => self.vault.verify_check_value(value)?,
                Some(_) => return Err(VaultError::NoKey.into()),
                None => self.vault.check_value()?,
            };
            let Some(value) = write else {
                return Ok(());
            };
            let written = self.people.set_vault_check(stored, value).await?;
            if written {
                return Ok(());
            }
        }
        Err(VaultError::Damaged.into())
    }

    /// Reads a person's state; a person never seen gets the default state at version 0.
    /// `now` (seconds since the epoch) decides expiry in the embedded store.
    pub async fn read(&self, person: PersonId, now: i64) -> Result<Stored, StorageError> {
        let raw = self.people.read_state(person, now).await?;
        self.open(person, raw)
    }

    /// Reads a person's state to handle update `update` from them, after taking the message
    /// through flood control (`gate`, when given): in the store when it keeps flood state for
    /// every process (Redis, in the same round trip), else in `gate`. The state is read only
    /// for a message to serve.
    pub async fn read_for_update(
        &self,
        person: PersonId,
        now: i64,
        gate: Option<&FloodGate>,
        update: Option<i64>,
    ) -> Result<(Verdict, Option<Stored>), StorageError> {
        let admitted = self
            .people
            .read_for_update(person, now, gate.map(FloodGate::limit), update)
            .await?;
        let verdict = settle_flood(admitted.verdict, gate, person);
        let stored = match verdict {
            Verdict::Serve => Some(self.open(person, admitted.state)?),
            Verdict::NoteAndDrop | Verdict::Drop => None,
        };
        Ok((verdict, stored))
    }

    /// Writes `state` if the stored version is still `expected`, and refreshes its expiry.
    /// For tools and tests: it reads the person's data key first. The conversation uses
    /// `write_handled` with what `read` returned.
    pub async fn write(
        &self,
        person: PersonId,
        state: &PersonState,
        expected: u64,
        now: i64,
    ) -> Result<Saved, StorageError> {
        let mut base = self.read(person, now).await?;
        base.version = expected;
        self.write_handled(person, state, &base, now, None).await
    }

    /// Writes `state` if the stored version is still `base`'s (what `read` returned), and
    /// adds `update` to the updates applied, in the same atomic write (when given; otherwise
    /// the recorded ones stay). Refreshes the expiry.
    pub async fn write_handled(
        &self,
        person: PersonId,
        state: &PersonState,
        base: &Stored,
        now: i64,
        update: Option<LastUpdate>,
    ) -> Result<Saved, StorageError> {
        let mut write = self.seal(person, state, base.key.as_ref())?;
        write.update = update.map(|update| update.id);
        let expected = base.version;
        let applied = update.map(|update| base.applied.with(update));
        let sealed = self.remembered.as_ref().map(|_| write.data.clone());
        let saved = self
            .people
            .write_state(person, write, expected, now, applied.clone())
            .await?;
        if let Some(sealed) = sealed {
            self.remember(person, base, applied, &saved, sealed);
        }
        Ok(saved)
    }

    /// Opens what a backend read.
    fn open(&self, person: PersonId, raw: RawState) -> Result<Stored, StorageError> {
        let Some(data) = raw.data else {
            return Ok(Stored::new_person());
        };
        // Written in plaintext mode, a state is sealed at its next write once a key is set.
        let (key, json) = self.open_record(person.into(), STATE_FIELD, data, raw.key)?;
        Ok(Stored {
            state: serde_json::from_slice(&json)?,
            version: raw.version,
            applied: raw.applied,
            key,
        })
    }

    /// Seals a state for writing, with the person's data key (made now if they have none).
    fn seal(
        &self,
        person: PersonId,
        state: &PersonState,
        key: Option<&StoredKey>,
    ) -> Result<RawWrite, StorageError> {
        let json = serde_json::to_string(state)?;
        let (data, new_key) = self.seal_record(person.into(), STATE_FIELD, json, key)?;
        Ok(RawWrite {
            data,
            new_key,
            update: None,
        })
    }

    /// Opens a record `owner` keeps as `field`: its data key (from `wrapped`, when stored) and
    /// its JSON (sealed, or plain as written in plaintext mode).
    fn open_record(
        &self,
        owner: Owner,
        field: &str,
        data: String,
        wrapped: Option<String>,
    ) -> Result<(Option<StoredKey>, Vec<u8>), StorageError> {
        let key = match wrapped {
            Some(wrapped) => {
                let opened = self.vault.open_data_key(owner, &wrapped)?;
                Some(StoredKey {
                    key: opened.key,
                    wrapped,
                    current: opened.current,
                })
            }
            None => None,
        };
        let json = self.open_sealed(owner, field, data, key.as_ref())?;
        Ok((key, json))
    }

    /// Opens `data` sealed as `owner`'s `field` with their opened `key` (plain JSON, written in
    /// plaintext mode, needs none).
    fn open_sealed(
        &self,
        owner: Owner,
        field: &str,
        data: String,
        key: Option<&StoredKey>,
    ) -> Result<Vec<u8>, StorageError> {
        if !Vault::is_sealed(&data) {
            return Ok(data.into_bytes());
        }
        let key = key.ok_or(VaultError::Damaged)?;
        Ok(self.vault.open(&key.key, owner, field, &data)?)
    }

    /// Seals `json` as `owner`'s `field` with their data key (made now if they have none, and
    /// rewrapped after a rotation); returns it and the wrapped key when that is new. Plain JSON
    /// in plaintext mode.
    fn seal_record(
        &self,
        owner: Owner,
        field: &str,
        json: String,
        key: Option<&StoredKey>,
    ) -> Result<(String, Option<String>), StorageError> {
        if !self.vault.encrypts() {
            return Ok((json, None));
        }
        let (data_key, new_key) = match key {
            Some(key) if key.current => (key.key.clone(), None),
            Some(key) => (key.key.clone(), self.vault.rewrap(owner, &key.wrapped)?),
            None => {
                let (key, wrapped) = self.vault.new_data_key(owner)?.ok_or(VaultError::NoKey)?;
                (key, Some(wrapped))
            }
        };
        let sealed = self.vault.seal(&data_key, owner, field, json.as_bytes())?;
        Ok((sealed, new_key))
    }

    /// Records whether the person can be written to: `false` once they block the bot (a 403,
    /// or Telegram saying so), `true` again when they unblock it.
    pub async fn set_reachable(
        &self,
        person: PersonId,
        reachable: bool,
        now: i64,
    ) -> Result<(), StorageError> {
        self.people.set_reachable(person, reachable, now).await
    }

    /// Whether the person can be written to (has not blocked the bot).
    pub async fn is_reachable(&self, person: PersonId, now: i64) -> Result<bool, StorageError> {
        self.people.is_reachable(person, now).await
    }

    /// Deletes every key of a person.
    pub async fn delete_person(&self, person: PersonId) -> Result<(), StorageError> {
        if let Some(remembered) = &self.remembered {
            remembered.forget(person);
        }
        self.people.delete_person(person).await
    }

    /// The names of the keys stored for a person (for audits and tests).
    pub async fn keys_of(&self, person: PersonId, now: i64) -> Result<Vec<String>, StorageError> {
        self.people.keys_of(person, now).await
    }

    /// Seconds until a person's state expires; `None` when it does not or does not exist.
    pub async fn expires_in(
        &self,
        person: PersonId,
        now: i64,
    ) -> Result<Option<i64>, StorageError> {
        self.people.expires_in(person, now).await
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.people.ping().await
    }

    /// Ends the note that update `update` of `person` is in flight (its replies are sent).
    pub async fn release_update(&self, person: PersonId, update: i64) -> Result<(), StorageError> {
        self.people.release_update(person, update).await
    }

    /// Reserves `count` turns, `interval` apart, on the shared schedule `name`; returns how
    /// long until the first, or `None` when the store is not shared between processes.
    pub async fn reserve_turns(
        &self,
        name: &str,
        count: u32,
        interval: Duration,
    ) -> Result<Option<Duration>, StorageError> {
        self.people.reserve_turns(name, count, interval).await
    }

    /// Says `sender` sends on the shared schedule `name` and counts its senders (see
    /// [`PersonStore::count_senders`]); `None` when the store is not shared.
    pub async fn count_senders(
        &self,
        name: &str,
        sender: &str,
        ttl: Duration,
        lead: Duration,
    ) -> Result<Option<u32>, StorageError> {
        self.people.count_senders(name, sender, ttl, lead).await
    }

    /// Takes or renews lease `name` for `holder`; false while someone else holds it.
    pub async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: u64,
    ) -> Result<bool, StorageError> {
        self.people.hold_lease(name, holder, ttl_ms).await
    }

    /// Gives lease `name` back if `holder` still has it.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StorageError> {
        self.people.release_lease(name, holder).await
    }

    /// Deletes everything kept about people whose records expired by `now` (a store that
    /// expires keys by itself has nothing to do); returns how many people.
    pub async fn sweep_expired(&self, now: i64) -> Result<usize, StorageError> {
        self.people.sweep_expired(now).await
    }

    /// Moves records kept in an earlier version's layout into the current one; returns how
    /// many moved.
    pub async fn upgrade_layout(&self) -> Result<usize, StorageError> {
        self.people.upgrade_layout().await
    }

    /// Leaves `texts` in `person`'s inbox, sealed with their data key, for a terminal of
    /// theirs to show (a partner's notice in the shell). Nothing is left for someone with no
    /// state stored.
    pub async fn post_notice(
        &self,
        person: PersonId,
        texts: &[String],
        now: i64,
    ) -> Result<(), StorageError> {
        let stored = self.read(person, now).await?;
        if stored.version == 0 {
            return Ok(());
        }
        let json = serde_json::to_string(texts)?;
        // The person's own key, never a new one: a notice is no reason to make them one.
        let key = match (&stored.key, self.vault.encrypts()) {
            (None, true) => return Err(VaultError::Damaged.into()),
            (key, _) => key.as_ref(),
        };
        let (sealed, _) = self.seal_record(person.into(), INBOX_FIELD, json, key)?;
        self.people.push_inbox(person, sealed, now).await
    }

    /// Takes the notices left in `person`'s inbox, oldest first.
    pub async fn take_notices(
        &self,
        person: PersonId,
        now: i64,
    ) -> Result<Vec<String>, StorageError> {
        let sealed = self.people.take_inbox(person, now).await?;
        if sealed.is_empty() {
            return Ok(Vec::new());
        }
        let stored = self.read(person, now).await?;
        let mut texts = Vec::new();
        for notice in sealed {
            let json = self.open_sealed(person.into(), INBOX_FIELD, notice, stored.key.as_ref())?;
            texts.extend(serde_json::from_slice::<Vec<String>>(&json)?);
        }
        Ok(texts)
    }
}

/// How often a running bot deletes the people whose records expired (the embedded store also
/// sweeps, and compacts, each time it opens).
pub const SWEEP_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Deletes expired people every [`SWEEP_EVERY`], at the time `clock` gives; runs until
/// dropped. Failures are logged and tried again at the next sweep.
pub async fn sweep_daily(storage: Storage, clock: fn() -> i64) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        match storage.sweep_expired(clock()).await {
            Ok(swept) => log::info!("event=retention_sweep people={swept}"),
            Err(error) => log::warn!("event=retention_sweep_failed error={error}"),
        }
    }
}

/// The flood verdict for a message: the store's, when it keeps flood state for every process;
/// else this process's `gate`'s; with neither, served.
fn settle_flood(
    from_store: Option<Verdict>,
    gate: Option<&FloodGate>,
    person: PersonId,
) -> Verdict {
    match (from_store, gate) {
        (Some(verdict), _) => verdict,
        (None, Some(gate)) => gate.check(person.0, std::time::Instant::now()),
        (None, None) => Verdict::Serve,
    }
}

/// The associated data's field name for a sealed state.
const STATE_FIELD: &str = "state";
/// The associated data's field name for a sealed notice.
const INBOX_FIELD: &str = "inbox";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_updates_applied_are_written_as_redis_keeps_them_and_read_back() {
        let applied = Applied::default()
            .with(LastUpdate { id: -3, at: 10 })
            .with(LastUpdate { id: 42, at: 11 });
        let text = applied.encode();
        assert_eq!(text.split(',').count(), 2);
        assert!(text.contains("-3:10") && text.contains("42:11"), "{text}");
        assert_eq!(Applied::decode(&text), applied);
        assert_eq!(Applied::default().encode(), "");
        assert_eq!(Applied::decode(""), Applied::default());
    }
}
