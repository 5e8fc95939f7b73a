//! The in-memory store: people's state and the reminder queue in a map behind a lock, with the
//! same guarantees as Redis and the embedded store (compare-and-set, expiry by `now`, leases,
//! at-most-once marks), for engine-level tests that need no server and no disk. Nothing
//! survives the process.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    Applied, DueReminder, PairId, PairStore, PersonId, PersonStore, RawPair, RawState, RawWrite,
    ReminderQueue, Retention, Saved, StorageError,
};

/// One person's stored state.
#[derive(Debug, Clone)]
struct Record {
    version: u64,
    expires_at: Option<i64>,
    data: String,
    applied: Applied,
    key: Option<String>,
}

/// A person's pending reminder: `at` is when it is due or until when it is leased.
#[derive(Debug, Clone, Copy)]
struct Reminder {
    at: i64,
    occurrence: i64,
    sent: Option<i64>,
}

#[derive(Debug, Default)]
struct Inner {
    states: HashMap<i64, Record>,
    /// Person id to when they blocked the bot, and when that record expires.
    blocked: HashMap<i64, Option<i64>>,
    reminders: HashMap<i64, Reminder>,
    by_time: BTreeSet<(i64, i64)>,
    vault_check: Option<String>,
    outboxes: BTreeSet<i64>,
    pairs: HashMap<i64, PairRecord>,
    /// Person id to their sealed notices and when the inbox expires.
    inboxes: HashMap<i64, (Vec<String>, Option<i64>)>,
    /// Invitation id to (sealed invitation, when it expires).
    invitations: HashMap<String, (String, i64)>,
}

/// One pair's stored record.
#[derive(Debug, Clone)]
struct PairRecord {
    version: u64,
    expires_at: Option<i64>,
    data: String,
    key: Option<String>,
}

/// A store in memory; clones share the same data.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    retention: Retention,
}

impl MemoryStore {
    pub fn new(retention: Retention) -> MemoryStore {
        MemoryStore {
            inner: Arc::default(),
            retention,
        }
    }

    /// The data, even after a panic elsewhere while it was held (every change below is made
    /// whole before the lock is let go).
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn alive(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_none_or(|expires_at| now < expires_at)
}

impl Inner {
    fn remove_reminder(&mut self, person: PersonId) {
        if let Some(old) = self.reminders.remove(&person.0) {
            self.by_time.remove(&(old.at, person.0));
        }
    }
}

#[async_trait]
impl PersonStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn read_state(&self, person: PersonId, now: i64) -> Result<RawState, StorageError> {
        let inner = self.lock();
        Ok(match inner.states.get(&person.0) {
            Some(record) if alive(record.expires_at, now) => RawState {
                version: record.version,
                data: Some(record.data.clone()),
                key: record.key.clone(),
                applied: record.applied.clone(),
            },
            _ => RawState::default(),
        })
    }

    async fn write_state(
        &self,
        person: PersonId,
        write: RawWrite,
        expected: u64,
        now: i64,
        applied: Option<Applied>,
    ) -> Result<Saved, StorageError> {
        let expires_at = self.retention.expires_at(now);
        let mut inner = self.lock();
        let current = inner
            .states
            .get(&person.0)
            .filter(|record| alive(record.expires_at, now));
        let (version, recorded, key) = current.map_or((0, Applied::default(), None), |record| {
            (record.version, record.applied.clone(), record.key.clone())
        });
        if version != expected {
            return Ok(Saved::Conflict);
        }
        inner.states.insert(
            person.0,
            Record {
                version: version + 1,
                expires_at,
                data: write.data,
                applied: applied.unwrap_or(recorded),
                key: write.new_key.or(key),
            },
        );
        Ok(Saved::Written {
            version: version + 1,
        })
    }

    async fn set_reachable(
        &self,
        person: PersonId,
        reachable: bool,
        now: i64,
    ) -> Result<(), StorageError> {
        let expires_at = self.retention.expires_at(now);
        let mut inner = self.lock();
        if reachable {
            inner.blocked.remove(&person.0);
        } else {
            inner.blocked.insert(person.0, expires_at);
        }
        Ok(())
    }

    async fn is_reachable(&self, person: PersonId, now: i64) -> Result<bool, StorageError> {
        let inner = self.lock();
        let blocked = inner
            .blocked
            .get(&person.0)
            .is_some_and(|&expires_at| alive(expires_at, now));
        Ok(!blocked)
    }

    async fn delete_person(&self, person: PersonId) -> Result<(), StorageError> {
        let mut inner = self.lock();
        inner.states.remove(&person.0);
        inner.blocked.remove(&person.0);
        inner.remove_reminder(person);
        inner.outboxes.remove(&person.0);
        inner.inboxes.remove(&person.0);
        Ok(())
    }

    async fn push_inbox(
        &self,
        person: PersonId,
        sealed: String,
        now: i64,
    ) -> Result<(), StorageError> {
        let expires_at = self.retention.expires_at(now);
        let mut inner = self.lock();
        let inbox = inner.inboxes.entry(person.0).or_default();
        if !alive(inbox.1, now) {
            inbox.0.clear();
        }
        inbox.0.push(sealed);
        inbox.1 = expires_at;
        Ok(())
    }

    async fn take_inbox(&self, person: PersonId, now: i64) -> Result<Vec<String>, StorageError> {
        let mut inner = self.lock();
        Ok(match inner.inboxes.remove(&person.0) {
            Some((notices, expires_at)) if alive(expires_at, now) => notices,
            _ => Vec::new(),
        })
    }

    async fn vault_check(&self) -> Result<Option<String>, StorageError> {
        Ok(self.lock().vault_check.clone())
    }

    async fn set_vault_check(
        &self,
        expected: Option<String>,
        value: String,
    ) -> Result<bool, StorageError> {
        let mut inner = self.lock();
        if inner.vault_check != expected {
            return Ok(false);
        }
        inner.vault_check = Some(value);
        Ok(true)
    }

    async fn keys_of(&self, person: PersonId, now: i64) -> Result<Vec<String>, StorageError> {
        let inner = self.lock();
        let mut keys = Vec::new();
        if inner
            .blocked
            .get(&person.0)
            .is_some_and(|&expires_at| alive(expires_at, now))
        {
            keys.push("meta".to_owned());
        }
        if inner
            .states
            .get(&person.0)
            .is_some_and(|record| alive(record.expires_at, now))
        {
            keys.push("state".to_owned());
        }
        if inner
            .inboxes
            .get(&person.0)
            .is_some_and(|(notices, expires_at)| !notices.is_empty() && alive(*expires_at, now))
        {
            keys.push("inbox".to_owned());
        }
        Ok(keys)
    }

    async fn expires_in(&self, person: PersonId, now: i64) -> Result<Option<i64>, StorageError> {
        let inner = self.lock();
        Ok(inner
            .states
            .get(&person.0)
            .filter(|record| alive(record.expires_at, now))
            .and_then(|record| record.expires_at)
            .map(|expires_at| expires_at - now))
    }
}

#[async_trait]
impl ReminderQueue for MemoryStore {
    async fn note_outbox(&self, person: PersonId) -> Result<(), StorageError> {
        self.lock().outboxes.insert(person.0);
        Ok(())
    }

    async fn clear_outbox(&self, person: PersonId) -> Result<(), StorageError> {
        self.lock().outboxes.remove(&person.0);
        Ok(())
    }

    async fn outboxes(&self, limit: usize) -> Result<Vec<PersonId>, StorageError> {
        Ok(self
            .lock()
            .outboxes
            .iter()
            .take(limit)
            .map(|&person| PersonId(person))
            .collect())
    }

    async fn schedule(&self, person: PersonId, due: i64) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let sent = inner
            .reminders
            .get(&person.0)
            .and_then(|reminder| reminder.sent);
        inner.remove_reminder(person);
        inner.by_time.insert((due, person.0));
        inner.reminders.insert(
            person.0,
            Reminder {
                at: due,
                occurrence: due,
                sent,
            },
        );
        Ok(())
    }

    async fn cancel(&self, person: PersonId) -> Result<(), StorageError> {
        self.lock().remove_reminder(person);
        Ok(())
    }

    async fn due_at(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        Ok(self
            .lock()
            .reminders
            .get(&person.0)
            .map(|reminder| reminder.occurrence))
    }

    async fn last_sent(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        Ok(self
            .lock()
            .reminders
            .get(&person.0)
            .and_then(|reminder| reminder.sent))
    }

    async fn claim_due(
        &self,
        now: i64,
        limit: usize,
        lease: i64,
    ) -> Result<Vec<DueReminder>, StorageError> {
        let mut inner = self.lock();
        let due: Vec<(i64, i64)> = inner
            .by_time
            .range(..=(now, i64::MAX))
            .take(limit)
            .copied()
            .collect();
        let mut claimed = Vec::new();
        for (at, person) in due {
            inner.by_time.remove(&(at, person));
            let Some(reminder) = inner.reminders.get_mut(&person) else {
                continue;
            };
            reminder.at = now.saturating_add(lease);
            let (leased_until, occurrence) = (reminder.at, reminder.occurrence);
            inner.by_time.insert((leased_until, person));
            claimed.push(DueReminder {
                person: PersonId(person),
                occurrence,
            });
        }
        Ok(claimed)
    }

    async fn mark_sending(&self, due: DueReminder) -> Result<bool, StorageError> {
        let mut inner = self.lock();
        let Some(reminder) = inner.reminders.get_mut(&due.person.0) else {
            return Ok(false);
        };
        if reminder.sent == Some(due.occurrence) {
            return Ok(false);
        }
        reminder.sent = Some(due.occurrence);
        Ok(true)
    }

    async fn unmark_sending(&self, due: DueReminder) -> Result<(), StorageError> {
        let mut inner = self.lock();
        if let Some(reminder) = inner.reminders.get_mut(&due.person.0)
            && reminder.sent == Some(due.occurrence)
        {
            reminder.sent = None;
        }
        Ok(())
    }
}

#[async_trait]
impl PairStore for MemoryStore {
    async fn read_pair(&self, pair: PairId, now: i64) -> Result<RawPair, StorageError> {
        let inner = self.lock();
        Ok(match inner.pairs.get(&pair.0) {
            Some(record) if alive(record.expires_at, now) => RawPair {
                version: record.version,
                data: Some(record.data.clone()),
                key: record.key.clone(),
            },
            _ => RawPair::default(),
        })
    }

    async fn write_pair(
        &self,
        pair: PairId,
        data: String,
        new_key: Option<String>,
        expected: u64,
        now: i64,
    ) -> Result<Saved, StorageError> {
        let expires_at = self.retention.expires_at(now);
        let mut inner = self.lock();
        let current = inner
            .pairs
            .get(&pair.0)
            .filter(|record| alive(record.expires_at, now));
        let (version, key) =
            current.map_or((0, None), |record| (record.version, record.key.clone()));
        if version != expected {
            return Ok(Saved::Conflict);
        }
        inner.pairs.insert(
            pair.0,
            PairRecord {
                version: version + 1,
                expires_at,
                data,
                key: new_key.or(key),
            },
        );
        Ok(Saved::Written {
            version: version + 1,
        })
    }

    async fn delete_pair(&self, pair: PairId) -> Result<(), StorageError> {
        self.lock().pairs.remove(&pair.0);
        Ok(())
    }

    async fn put_invitation(
        &self,
        id: &str,
        sealed: String,
        expires_at: i64,
        _now: i64,
    ) -> Result<(), StorageError> {
        self.lock()
            .invitations
            .insert(id.to_owned(), (sealed, expires_at));
        Ok(())
    }

    async fn read_invitation(&self, id: &str, now: i64) -> Result<Option<String>, StorageError> {
        let inner = self.lock();
        Ok(inner
            .invitations
            .get(id)
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(sealed, _)| sealed.clone()))
    }

    async fn take_invitation(&self, id: &str, now: i64) -> Result<Option<String>, StorageError> {
        let mut inner = self.lock();
        Ok(inner
            .invitations
            .remove(id)
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(sealed, _)| sealed))
    }

    async fn delete_invitation(&self, id: &str) -> Result<(), StorageError> {
        self.lock().invitations.remove(id);
        Ok(())
    }

    async fn keys_of_pair(&self, pair: PairId, now: i64) -> Result<Vec<String>, StorageError> {
        let inner = self.lock();
        Ok(inner
            .pairs
            .get(&pair.0)
            .filter(|record| alive(record.expires_at, now))
            .map(|_| vec!["pair".to_owned()])
            .unwrap_or_default())
    }
}
