//! Per-person state, kept in Redis (when `REDIS_URL` is set) or in an embedded store on disk.
//! This folder is the only code that talks to either. Both backends offer the same operations
//! with the same guarantees, and one conformance suite (`tests/storage.rs`) runs against both.
//!
//! # Key layout (Redis)
//!
//! Every key of one person shares the hash tag `{u:<person id>}`, so in Redis Cluster they all
//! live in one slot and can be deleted together:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<prefix>:{u:<id>}:state` | hash | `v`: the state's version (a counter), `d`: the state as JSON, `u`: the last Telegram update applied (`id:time`) |
//! | `<prefix>:{u:<id>}:meta` | hash | `blocked`: when the person blocked the bot (absent while they have not) |
//!
//!
//! Reminders live in an index of their own, under one hash tag so a script can claim them:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<prefix>:{reminders}:due` | sorted set | person id, scored by when their reminder is next due (or leased until) |
//! | `<prefix>:{reminders}:occurrence` | hash | person id to the due time of their pending reminder |
//! | `<prefix>:{reminders}:sent` | hash | person id to the last occurrence marked as being sent |
//!
//! `<prefix>` comes from `KINTSUGI_REDIS_PREFIX` (default `kintsugi`), so several bots can share
//! one Redis. Each key expires after the retention period, refreshed on every write.

mod embedded;
mod redis;

use std::time::Duration;

pub use self::embedded::EmbeddedStore;
pub use self::redis::RedisStore;
use crate::dialogue::PersonState;

/// Who a state belongs to: the Telegram user id (or a local id in the shell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonId(pub i64);

/// The names of every per-person key; deleting a person deletes all of them.
pub const PERSON_KEYS: &[&str] = &["state", "meta"];

/// A person's state with the version it was read at (0 when nothing is stored yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub state: PersonState,
    pub version: u64,
    /// The last Telegram update applied to this state, written with it.
    pub last_update: Option<LastUpdate>,
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
    fn encode(self) -> String {
        format!("{}:{}", self.id, self.at)
    }

    fn decode(text: &str) -> Option<LastUpdate> {
        let (id, at) = text.split_once(':')?;
        Some(LastUpdate {
            id: id.parse().ok()?,
            at: at.parse().ok()?,
        })
    }
}

/// The result of a compare-and-set write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Written; the state now has this version.
    Written { version: u64 },
    /// Someone else wrote first; read again and retry.
    Conflict,
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
}

/// How long a person's keys live after their last write; `None` keeps them for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Option<Duration>);

/// The store in use: one of the two backends.
#[derive(Clone)]
pub enum Storage {
    Redis(RedisStore),
    Embedded(EmbeddedStore),
}

impl Storage {
    /// A short name for logs: `redis` or `embedded`.
    pub fn kind(&self) -> &'static str {
        match self {
            Storage::Redis(_) => "redis",
            Storage::Embedded(_) => "embedded",
        }
    }

    /// Reads a person's state; a person never seen gets the default state at version 0.
    /// `now` (seconds since the epoch) decides expiry in the embedded store.
    pub async fn load(&self, person: PersonId, now: i64) -> Result<Stored, StorageError> {
        match self {
            Storage::Redis(store) => store.load(person).await,
            Storage::Embedded(store) => store.load(person, now).await,
        }
    }

    /// Writes `state` if the stored version is still `expected`, and refreshes its expiry.
    pub async fn save(
        &self,
        person: PersonId,
        state: &PersonState,
        expected: u64,
        now: i64,
    ) -> Result<Saved, StorageError> {
        self.save_handled(person, state, expected, now, None).await
    }

    /// Like `save`, and records `update` as the last one applied, in the same atomic write
    /// (when given; otherwise the recorded one stays).
    pub async fn save_handled(
        &self,
        person: PersonId,
        state: &PersonState,
        expected: u64,
        now: i64,
        update: Option<LastUpdate>,
    ) -> Result<Saved, StorageError> {
        match self {
            Storage::Redis(store) => store.save(person, state, expected, update).await,
            Storage::Embedded(store) => store.save(person, state, expected, now, update).await,
        }
    }

    /// Records whether the person can be written to: `false` once they block the bot (a 403,
    /// or Telegram saying so), `true` again when they unblock it.
    pub async fn set_reachable(
        &self,
        person: PersonId,
        reachable: bool,
        now: i64,
    ) -> Result<(), StorageError> {
        match self {
            Storage::Redis(store) => store.set_reachable(person, reachable, now).await,
            Storage::Embedded(store) => store.set_reachable(person, reachable, now).await,
        }
    }

    /// Whether the person can be written to (has not blocked the bot).
    pub async fn is_reachable(&self, person: PersonId, now: i64) -> Result<bool, StorageError> {
        match self {
            Storage::Redis(store) => store.is_reachable(person).await,
            Storage::Embedded(store) => store.is_reachable(person, now).await,
        }
    }

    /// Schedules a person's next reminder for `due` (seconds since the epoch), replacing any
    /// pending one.
    pub async fn schedule_reminder(&self, person: PersonId, due: i64) -> Result<(), StorageError> {
        match self {
            Storage::Redis(store) => store.schedule_reminder(person, due).await,
            Storage::Embedded(store) => store.schedule_reminder(person, due).await,
        }
    }

    /// Removes a person's pending reminder.
    pub async fn cancel_reminder(&self, person: PersonId) -> Result<(), StorageError> {
        match self {
            Storage::Redis(store) => store.cancel_reminder(person).await,
            Storage::Embedded(store) => store.cancel_reminder(person).await,
        }
    }

    /// When a person's pending reminder is due, if they have one.
    pub async fn reminder_due(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        match self {
            Storage::Redis(store) => store.reminder_due(person).await,
            Storage::Embedded(store) => store.reminder_due(person).await,
        }
    }

    /// Claims up to `limit` reminders due at `now`, leasing each for `lease` seconds: another
    /// scheduler sees them again only if this one has not rescheduled them by then.
    pub async fn claim_due(
        &self,
        now: i64,
        limit: usize,
        lease: i64,
    ) -> Result<Vec<DueReminder>, StorageError> {
        match self {
            Storage::Redis(store) => store.claim_due(now, limit, lease).await,
            Storage::Embedded(store) => store.claim_due(now, limit, lease).await,
        }
    }

    /// Marks an occurrence as being sent, right before sending it. True if this call marked
    /// it; false if it was marked before, and so must not be sent again (at most once).
    pub async fn mark_sending(&self, due: DueReminder) -> Result<bool, StorageError> {
        match self {
            Storage::Redis(store) => store.mark_sending(due).await,
            Storage::Embedded(store) => store.mark_sending(due).await,
        }
    }

    /// When the last reminder marked as sent to a person was due, if any.
    pub async fn last_sent(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        match self {
            Storage::Redis(store) => store.last_sent(person).await,
            Storage::Embedded(store) => store.last_sent(person).await,
        }
    }

    /// Takes back the mark of an occurrence that was certainly not sent (the request failed
    /// before reaching Telegram), so it is tried again once its lease ends.
    pub async fn unmark_sending(&self, due: DueReminder) -> Result<(), StorageError> {
        match self {
            Storage::Redis(store) => store.unmark_sending(due).await,
            Storage::Embedded(store) => store.unmark_sending(due).await,
        }
    }

    /// Deletes every key of a person.
    pub async fn delete_person(&self, person: PersonId) -> Result<(), StorageError> {
        match self {
            Storage::Redis(store) => store.delete_person(person).await,
            Storage::Embedded(store) => store.delete_person(person).await,
        }
    }

    /// The names of the keys stored for a person (for audits and tests).
    pub async fn keys_of(&self, person: PersonId, now: i64) -> Result<Vec<String>, StorageError> {
        match self {
            Storage::Redis(store) => store.keys_of(person).await,
            Storage::Embedded(store) => store.keys_of(person, now).await,
        }
    }

    /// Seconds until a person's state expires; `None` when it does not or does not exist.
    pub async fn expires_in(
        &self,
        person: PersonId,
        now: i64,
    ) -> Result<Option<i64>, StorageError> {
        match self {
            Storage::Redis(store) => store.expires_in(person).await,
            Storage::Embedded(store) => store.expires_in(person, now).await,
        }
    }
}

fn encode(state: &PersonState) -> Result<String, StorageError> {
    Ok(serde_json::to_string(state)?)
}

fn decode(data: &str) -> Result<PersonState, StorageError> {
    Ok(serde_json::from_str(data)?)
}
