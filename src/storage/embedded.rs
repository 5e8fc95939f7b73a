//! The embedded backend: a redb database file in the data directory, for running anywhere
//! without Redis. Every write is one serialized redb transaction, which makes the version
//! compare-and-set atomic. redb is blocking, so calls run on tokio's blocking pool.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use async_trait::async_trait;

use super::{
    Applied, DueReminder, LastUpdate, PairId, PairStore, PersonId, PersonStore, RawPair, RawState,
    RawWrite, ReminderQueue, Retention, Saved, StorageError,
};

/// (person id, key name) → a JSON `Record`.
const PEOPLE: TableDefinition<(i64, &str), &[u8]> = TableDefinition::new("people");
/// person id → a JSON `Reminder`.
const REMINDERS: TableDefinition<i64, &[u8]> = TableDefinition::new("reminders");
/// (when due or leased until, person id): the reminders in the order they come due.
const REMINDERS_BY_TIME: TableDefinition<(i64, i64), ()> =
    TableDefinition::new("reminders_by_time");
/// person id → nothing: people whose state may hold effects not yet carried out.
const OUTBOXES: TableDefinition<i64, ()> = TableDefinition::new("outboxes");
/// `check` → the value that recognises the master key.
const VAULT: TableDefinition<&str, &str> = TableDefinition::new("vault");
/// pair id → a JSON `Record`: the pair's sealed record and the link's wrapped key.
const PAIRS: TableDefinition<i64, &[u8]> = TableDefinition::new("pairs");
/// invitation id → a JSON `Kept`: the sealed invitation and when it expires.
const INVITATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("invitations");

/// An invitation as kept.
#[derive(Serialize, Deserialize)]
struct Kept {
    sealed: String,
    expires_at: i64,
}

/// A person's pending reminder.
#[derive(Serialize, Deserialize)]
struct Reminder {
    /// Its place in `REMINDERS_BY_TIME`: when due, or until when it is leased.
    at: i64,
    /// The occurrence: when it is due.
    occurrence: i64,
    /// The last occurrence marked as being sent.
    sent: Option<i64>,
}

/// One stored key: its version, when it expires (seconds since the epoch) and its data.
#[derive(Serialize, Deserialize)]
struct Record {
    version: u64,
    expires_at: Option<i64>,
    data: String,
    /// The single update recorded before the list of those applied; read, never written.
    #[serde(default, skip_serializing)]
    last_update: Option<LastUpdate>,
    #[serde(default, skip_serializing_if = "Applied::is_empty")]
    applied: Applied,
    /// The person's wrapped data key (for the state record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl Record {
    /// The updates applied, from a record of either form.
    fn applied_updates(&self) -> Applied {
        if self.applied.is_empty() {
            Applied::from(self.last_update)
        } else {
            self.applied.clone()
        }
    }

    fn alive(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

#[derive(Clone)]
pub struct EmbeddedStore {
    source: Arc<Source>,
    retention: Retention,
}

/// Where the store's database comes from.
enum Source {
    /// Held open by this process for as long as the store lives (the bot). Operations share
    /// it (redb orders its own transactions); compacting takes it alone.
    Held(std::sync::RwLock<Database>),
    /// Opened for each operation and closed after it, so that several processes (two
    /// shells side by side) can take turns with one file; redb lets one process open it at
    /// a time.
    PerCall(std::path::PathBuf),
}

/// At most how many passes a compaction makes (each moves what it can toward the start).
const COMPACTION_ROUNDS: usize = 8;

/// How long an operation waits for another process to close a shared file.
const SHARED_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl EmbeddedStore {
    /// Opens (or creates) `kintsugi.redb` in `directory`, creating the directory if needed.
    pub fn open(directory: &Path, retention: Retention) -> Result<EmbeddedStore, StorageError> {
        Ok(EmbeddedStore {
            source: Arc::new(Source::Held(std::sync::RwLock::new(Self::open_database(
                directory,
            )?))),
            retention,
        })
    }

    /// Opens the store as `open` does, first deleting the people whose records expired by
    /// `now` and compacting the file, so that neither their sealed state nor their wrapped
    /// key stays in a freed page. Returns the store and how many people were deleted.
    pub fn open_swept(
        directory: &Path,
        retention: Retention,
        now: i64,
    ) -> Result<(EmbeddedStore, usize), StorageError> {
        let mut database = Self::open_database(directory)?;
        let swept = sweep(&database, now)?;
        if swept > 0 {
            database
                .compact()
                .map_err(|error| StorageError::Embedded(error.into()))?;
        }
        let store = EmbeddedStore {
            source: Arc::new(Source::Held(std::sync::RwLock::new(database))),
            retention,
        };
        Ok((store, swept))
    }

    /// Opens the store as `open_swept` does, then lets the file go: each operation opens it
    /// and closes it again, waiting while another process has it. For shells side by side on
    /// one machine; a bot holds its store with `open_swept`.
    pub fn open_shared(
        directory: &Path,
        retention: Retention,
        now: i64,
    ) -> Result<(EmbeddedStore, usize), StorageError> {
        let (held, swept) = Self::open_swept(directory, retention, now)?;
        drop(held);
        let store = EmbeddedStore {
            source: Arc::new(Source::PerCall(directory.join(FILE_NAME))),
            retention,
        };
        Ok((store, swept))
    }

    fn open_database(directory: &Path) -> Result<Database, StorageError> {
        std::fs::create_dir_all(directory).map_err(redb::Error::Io)?;
        // A shell beside another shell may find the file open for a moment.
        let database = open_when_free(&directory.join(FILE_NAME))?;
        let write = database.begin_write()?;
        write.open_table(PEOPLE)?;
        write.open_table(REMINDERS)?;
        write.open_table(REMINDERS_BY_TIME)?;
        write.open_table(VAULT)?;
        write.open_table(OUTBOXES)?;
        write.open_table(PAIRS)?;
        write.open_table(INVITATIONS)?;
        write.commit()?;
        Ok(database)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let source = Arc::clone(&self.source);
        tokio::task::spawn_blocking(move || match &*source {
            Source::Held(database) => {
                // A panic elsewhere while it was held leaves the database as redb left it.
                let database = database
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                work(&database)
            }
            Source::PerCall(file) => work(&open_when_free(file)?),
        })
        .await?
    }

    /// Compacts the file, so that the pages a deletion freed (which still hold the deleted
    /// record's bytes, sealed data and wrapped key alike) are overwritten or cut off: after
    /// `/forget` or an unlink, no copy of what was deleted stays in the file.
    async fn compact(&self) -> Result<(), StorageError> {
        let source = Arc::clone(&self.source);
        tokio::task::spawn_blocking(move || {
            let compact = |database: &mut Database| -> Result<(), StorageError> {
                for _ in 0..COMPACTION_ROUNDS {
                    let more = database
                        .compact()
                        .map_err(|error| StorageError::Embedded(error.into()))?;
                    if !more {
                        break;
                    }
                }
                Ok(())
            };
            match &*source {
                Source::Held(database) => {
                    let mut database = database
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    compact(&mut database)
                }
                Source::PerCall(file) => compact(&mut open_when_free(file)?),
            }
        })
        .await?
    }

    /// Runs `work` in one write transaction and commits it.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&redb::WriteTransaction) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        self.blocking(move |database| {
            let write = database.begin_write().map_err(redb::Error::from)?;
            let result = work(&write)?;
            write.commit().map_err(redb::Error::from)?;
            Ok(result)
        })
        .await
    }
}

#[async_trait]
impl PersonStore for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn read_state(&self, person: PersonId, now: i64) -> Result<RawState, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(PEOPLE).map_err(redb::Error::from)?;
            let record = read_record(&table, person, "state")?;
            Ok(match record.filter(|record| record.alive(now)) {
                Some(record) => RawState {
                    applied: record.applied_updates(),
                    version: record.version,
                    data: Some(record.data),
                    key: record.key,
                },
                None => RawState::default(),
            })
        })
        .await
    }

    async fn write_state(
        &self,
        person: PersonId,
        write: RawWrite,
        expected: u64,
        now: i64,
        applied: Option<Applied>,
    ) -> Result<Saved, StorageError> {
        let RawWrite { data, new_key, .. } = write;
        let expires_at = self.retention.expires_at(now);
        self.write(move |write| {
            let outcome = {
                let mut table = write.open_table(PEOPLE).map_err(redb::Error::from)?;
                let current =
                    read_record(&table, person, "state")?.filter(|record| record.alive(now));
                let (version, recorded, key) = current
                    .map_or((0, Applied::default(), None), |record| {
                        (record.version, record.applied_updates(), record.key)
                    });
                if version == expected {
                    let record = Record {
                        version: version + 1,
                        expires_at,
                        data,
                        last_update: None,
                        applied: applied.unwrap_or(recorded),
                        key: new_key.or(key),
                    };
                    let bytes = serde_json::to_vec(&record)?;
                    table
                        .insert((person.0, "state"), bytes.as_slice())
                        .map_err(redb::Error::from)?;
                    Saved::Written {
                        version: version + 1,
                    }
                } else {
                    Saved::Conflict
                }
            };
            Ok(outcome)
        })
        .await
    }

    async fn set_reachable(
        &self,
        person: PersonId,
        reachable: bool,
        now: i64,
    ) -> Result<(), StorageError> {
        let expires_at = self.retention.expires_at(now);
        self.write(move |write| {
            let mut table = write.open_table(PEOPLE).map_err(redb::Error::from)?;
            if reachable {
                table
                    .remove((person.0, "meta"))
                    .map_err(redb::Error::from)?;
            } else {
                let record = Record {
                    version: 1,
                    expires_at,
                    data: serde_json::json!({ "blocked": now }).to_string(),
                    last_update: None,
                    applied: Applied::default(),
                    key: None,
                };
                let bytes = serde_json::to_vec(&record)?;
                table
                    .insert((person.0, "meta"), bytes.as_slice())
                    .map_err(redb::Error::from)?;
            }
            Ok(())
        })
        .await
    }

    async fn is_reachable(&self, person: PersonId, now: i64) -> Result<bool, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(PEOPLE).map_err(redb::Error::from)?;
            let blocked =
                read_record(&table, person, "meta")?.is_some_and(|record| record.alive(now));
            Ok(!blocked)
        })
        .await
    }

    async fn sweep_expired(&self, now: i64) -> Result<usize, StorageError> {
        self.blocking(move |database| sweep(database, now)).await
    }

    async fn delete_person(&self, person: PersonId) -> Result<(), StorageError> {
        self.write(move |write| {
            {
                let mut table = write.open_table(PEOPLE).map_err(redb::Error::from)?;
                table
                    .retain_in((person.0, "")..(person.0.saturating_add(1), ""), |_, _| {
                        false
                    })
                    .map_err(redb::Error::from)?;
            }
            write
                .open_table(OUTBOXES)
                .map_err(redb::Error::from)?
                .remove(person.0)
                .map_err(redb::Error::from)?;
            remove_reminder(write, person)
        })
        .await?;
        self.compact().await
    }

    async fn vault_check(&self) -> Result<Option<String>, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(VAULT).map_err(redb::Error::from)?;
            Ok(table
                .get("check")
                .map_err(redb::Error::from)?
                .map(|value| value.value().to_owned()))
        })
        .await
    }

    async fn set_vault_check(
        &self,
        expected: Option<String>,
        value: String,
    ) -> Result<bool, StorageError> {
        self.write(move |write| {
            let mut table = write.open_table(VAULT).map_err(redb::Error::from)?;
            let current = table
                .get("check")
                .map_err(redb::Error::from)?
                .map(|stored| stored.value().to_owned());
            if current != expected {
                return Ok(false);
            }
            table
                .insert("check", value.as_str())
                .map_err(redb::Error::from)?;
            Ok(true)
        })
        .await
    }

    async fn push_inbox(
        &self,
        person: PersonId,
        sealed: String,
        now: i64,
    ) -> Result<(), StorageError> {
        let expires_at = self.retention.expires_at(now);
        self.write(move |write| {
            let mut table = write.open_table(PEOPLE).map_err(redb::Error::from)?;
            let mut notices: Vec<String> = match read_record(&table, person, "inbox")? {
                Some(record) if record.alive(now) => serde_json::from_str(&record.data)?,
                _ => Vec::new(),
            };
            notices.push(sealed);
            let record = Record {
                version: 1,
                expires_at,
                data: serde_json::to_string(&notices)?,
                last_update: None,
                applied: Applied::default(),
                key: None,
            };
            table
                .insert((person.0, "inbox"), serde_json::to_vec(&record)?.as_slice())
                .map_err(redb::Error::from)?;
            Ok(())
        })
        .await
    }

    async fn take_inbox(&self, person: PersonId, now: i64) -> Result<Vec<String>, StorageError> {
        self.write(move |write| {
            let mut table = write.open_table(PEOPLE).map_err(redb::Error::from)?;
            let taken = match table
                .remove((person.0, "inbox"))
                .map_err(redb::Error::from)?
            {
                Some(value) => Some(serde_json::from_slice::<Record>(value.value())?),
                None => None,
            };
            Ok(match taken {
                Some(record) if record.alive(now) => serde_json::from_str(&record.data)?,
                _ => Vec::new(),
            })
        })
        .await
    }

    async fn keys_of(&self, person: PersonId, now: i64) -> Result<Vec<String>, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(PEOPLE).map_err(redb::Error::from)?;
            let mut keys = Vec::new();
            for entry in table
                .range((person.0, "")..(person.0.saturating_add(1), ""))
                .map_err(redb::Error::from)?
            {
                let (key, value) = entry.map_err(redb::Error::from)?;
                let record: Record = serde_json::from_slice(value.value())?;
                if record.alive(now) {
                    keys.push(key.value().1.to_owned());
                }
            }
            Ok(keys)
        })
        .await
    }

    async fn expires_in(&self, person: PersonId, now: i64) -> Result<Option<i64>, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(PEOPLE).map_err(redb::Error::from)?;
            Ok(read_record(&table, person, "state")?
                .filter(|record| record.alive(now))
                .and_then(|record| record.expires_at)
                .map(|expires_at| expires_at - now))
        })
        .await
    }
}

#[async_trait]
impl ReminderQueue for EmbeddedStore {
    async fn note_outbox(&self, person: PersonId) -> Result<(), StorageError> {
        self.write(move |write| {
            let mut table = write.open_table(OUTBOXES).map_err(redb::Error::from)?;
            table.insert(person.0, ()).map_err(redb::Error::from)?;
            Ok(())
        })
        .await
    }

    async fn clear_outbox(&self, person: PersonId) -> Result<(), StorageError> {
        self.write(move |write| {
            let mut table = write.open_table(OUTBOXES).map_err(redb::Error::from)?;
            table.remove(person.0).map_err(redb::Error::from)?;
            Ok(())
        })
        .await
    }

    async fn outboxes(&self, limit: usize) -> Result<Vec<PersonId>, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(OUTBOXES).map_err(redb::Error::from)?;
            let mut people = Vec::new();
            for entry in table.iter().map_err(redb::Error::from)?.take(limit) {
                let (person, _) = entry.map_err(redb::Error::from)?;
                people.push(PersonId(person.value()));
            }
            Ok(people)
        })
        .await
    }

    async fn schedule(&self, person: PersonId, due: i64) -> Result<(), StorageError> {
        self.write(move |write| {
            let mut reminders = write.open_table(REMINDERS).map_err(redb::Error::from)?;
            let mut by_time = write
                .open_table(REMINDERS_BY_TIME)
                .map_err(redb::Error::from)?;
            let sent = match read_reminder(&reminders, person)? {
                Some(old) => {
                    by_time
                        .remove((old.at, person.0))
                        .map_err(redb::Error::from)?;
                    old.sent
                }
                None => None,
            };
            by_time
                .insert((due, person.0), ())
                .map_err(redb::Error::from)?;
            write_reminder(
                &mut reminders,
                person,
                &Reminder {
                    at: due,
                    occurrence: due,
                    sent,
                },
            )
        })
        .await
    }

    async fn cancel(&self, person: PersonId) -> Result<(), StorageError> {
        self.write(move |write| remove_reminder(write, person))
            .await
    }

    async fn due_at(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let reminders = read.open_table(REMINDERS).map_err(redb::Error::from)?;
            Ok(read_reminder(&reminders, person)?.map(|reminder| reminder.occurrence))
        })
        .await
    }

    async fn last_sent(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let reminders = read.open_table(REMINDERS).map_err(redb::Error::from)?;
            Ok(read_reminder(&reminders, person)?.and_then(|reminder| reminder.sent))
        })
        .await
    }

    async fn claim_due(
        &self,
        now: i64,
        limit: usize,
        lease: i64,
    ) -> Result<Vec<DueReminder>, StorageError> {
        self.write(move |write| {
            let mut reminders = write.open_table(REMINDERS).map_err(redb::Error::from)?;
            let mut by_time = write
                .open_table(REMINDERS_BY_TIME)
                .map_err(redb::Error::from)?;
            let mut due = Vec::new();
            for entry in by_time
                .range(..=(now, i64::MAX))
                .map_err(redb::Error::from)?
                .take(limit)
            {
                let (key, _) = entry.map_err(redb::Error::from)?;
                due.push(key.value());
            }
            let mut claimed = Vec::new();
            for (at, person) in due {
                let person = PersonId(person);
                by_time.remove((at, person.0)).map_err(redb::Error::from)?;
                let Some(mut reminder) = read_reminder(&reminders, person)? else {
                    continue;
                };
                reminder.at = now.saturating_add(lease);
                by_time
                    .insert((reminder.at, person.0), ())
                    .map_err(redb::Error::from)?;
                claimed.push(DueReminder {
                    person,
                    occurrence: reminder.occurrence,
                });
                write_reminder(&mut reminders, person, &reminder)?;
            }
            Ok(claimed)
        })
        .await
    }

    async fn mark_sending(&self, due: DueReminder) -> Result<bool, StorageError> {
        self.write(move |write| {
            let mut reminders = write.open_table(REMINDERS).map_err(redb::Error::from)?;
            let Some(mut reminder) = read_reminder(&reminders, due.person)? else {
                return Ok(false);
            };
            if reminder.sent == Some(due.occurrence) {
                return Ok(false);
            }
            reminder.sent = Some(due.occurrence);
            write_reminder(&mut reminders, due.person, &reminder)?;
            Ok(true)
        })
        .await
    }

    async fn unmark_sending(&self, due: DueReminder) -> Result<(), StorageError> {
        self.write(move |write| {
            let mut reminders = write.open_table(REMINDERS).map_err(redb::Error::from)?;
            if let Some(mut reminder) = read_reminder(&reminders, due.person)?
                && reminder.sent == Some(due.occurrence)
            {
                reminder.sent = None;
                write_reminder(&mut reminders, due.person, &reminder)?;
            }
            Ok(())
        })
        .await
    }
}

fn read_reminder(
    table: &impl ReadableTable<i64, &'static [u8]>,
    person: PersonId,
) -> Result<Option<Reminder>, StorageError> {
    match table.get(person.0).map_err(redb::Error::from)? {
        Some(value) => Ok(Some(serde_json::from_slice(value.value())?)),
        None => Ok(None),
    }
}

fn write_reminder(
    table: &mut redb::Table<i64, &'static [u8]>,
    person: PersonId,
    reminder: &Reminder,
) -> Result<(), StorageError> {
    let bytes = serde_json::to_vec(reminder)?;
    table
        .insert(person.0, bytes.as_slice())
        .map_err(redb::Error::from)?;
    Ok(())
}

fn remove_reminder(write: &redb::WriteTransaction, person: PersonId) -> Result<(), StorageError> {
    let mut reminders = write.open_table(REMINDERS).map_err(redb::Error::from)?;
    let mut by_time = write
        .open_table(REMINDERS_BY_TIME)
        .map_err(redb::Error::from)?;
    if let Some(old) = read_reminder(&reminders, person)? {
        by_time
            .remove((old.at, person.0))
            .map_err(redb::Error::from)?;
    }
    reminders.remove(person.0).map_err(redb::Error::from)?;
    Ok(())
}

/// Deletes every key and the reminder of each person none of whose records is alive at `now`;
/// returns how many people.
/// The sealed invitation in a kept one's bytes, unless it has expired by `now`.
fn unexpired(kept: Option<&[u8]>, now: i64) -> Result<Option<String>, StorageError> {
    let Some(bytes) = kept else {
        return Ok(None);
    };
    let kept: Kept = serde_json::from_slice(bytes)?;
    Ok((now < kept.expires_at).then_some(kept.sealed))
}

/// The database file's name in the data directory.
const FILE_NAME: &str = "kintsugi.redb";

/// Opens the shared file `file`, waiting up to [`SHARED_WAIT`] while another process has it.
fn open_when_free(file: &Path) -> Result<Database, StorageError> {
    let started = std::time::Instant::now();
    loop {
        match Database::create(file) {
            Err(redb::DatabaseError::DatabaseAlreadyOpen) if started.elapsed() < SHARED_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
            opened => return Ok(opened?),
        }
    }
}

fn sweep(database: &Database, now: i64) -> Result<usize, StorageError> {
    let write = database.begin_write().map_err(redb::Error::from)?;
    let expired: Vec<i64> = {
        let table = write.open_table(PEOPLE).map_err(redb::Error::from)?;
        // Each person, and whether any of their records is still alive.
        let mut people: std::collections::BTreeMap<i64, bool> = Default::default();
        for entry in table.iter().map_err(redb::Error::from)? {
            let (key, value) = entry.map_err(redb::Error::from)?;
            let record: Record = serde_json::from_slice(value.value())?;
            *people.entry(key.value().0).or_default() |= record.alive(now);
        }
        people
            .into_iter()
            .filter(|(_, alive)| !alive)
            .map(|(person, _)| person)
            .collect()
    };
    for &person in &expired {
        let mut table = write.open_table(PEOPLE).map_err(redb::Error::from)?;
        table
            .retain_in((person, "")..(person.saturating_add(1), ""), |_, _| false)
            .map_err(redb::Error::from)?;
        drop(table);
        write
            .open_table(OUTBOXES)
            .map_err(redb::Error::from)?
            .remove(person)
            .map_err(redb::Error::from)?;
        remove_reminder(&write, PersonId(person))?;
    }
    // Pairs nobody wrote to within the retention period, and invitations past their day.
    write
        .open_table(PAIRS)
        .map_err(redb::Error::from)?
        .retain(|_, value| {
            serde_json::from_slice::<Record>(value).map_or(true, |record| record.alive(now))
        })
        .map_err(redb::Error::from)?;
    write
        .open_table(INVITATIONS)
        .map_err(redb::Error::from)?
        .retain(|_, value| {
            serde_json::from_slice::<Kept>(value).map_or(true, |kept| now < kept.expires_at)
        })
        .map_err(redb::Error::from)?;
    write.commit().map_err(redb::Error::from)?;
    Ok(expired.len())
}

fn read_record(
    table: &impl ReadableTable<(i64, &'static str), &'static [u8]>,
    person: PersonId,
    name: &str,
) -> Result<Option<Record>, StorageError> {
    match table.get((person.0, name)).map_err(redb::Error::from)? {
        Some(value) => Ok(Some(serde_json::from_slice(value.value())?)),
        None => Ok(None),
    }
}

impl From<redb::DatabaseError> for StorageError {
    fn from(error: redb::DatabaseError) -> Self {
        StorageError::Embedded(error.into())
    }
}

impl From<redb::TransactionError> for StorageError {
    fn from(error: redb::TransactionError) -> Self {
        StorageError::Embedded(error.into())
    }
}

impl From<redb::TableError> for StorageError {
    fn from(error: redb::TableError) -> Self {
        StorageError::Embedded(error.into())
    }
}

impl From<redb::CommitError> for StorageError {
    fn from(error: redb::CommitError) -> Self {
        StorageError::Embedded(error.into())
    }
}

#[async_trait]
impl PairStore for EmbeddedStore {
    async fn read_pair(&self, pair: PairId, now: i64) -> Result<RawPair, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(PAIRS).map_err(redb::Error::from)?;
            let record = match table.get(pair.0).map_err(redb::Error::from)? {
                Some(value) => Some(serde_json::from_slice::<Record>(value.value())?),
                None => None,
            };
            Ok(match record.filter(|record| record.alive(now)) {
                Some(record) => RawPair {
                    version: record.version,
                    data: Some(record.data),
                    key: record.key,
                },
                None => RawPair::default(),
            })
        })
        .await
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
        self.write(move |write| {
            let mut table = write.open_table(PAIRS).map_err(redb::Error::from)?;
            let current = match table.get(pair.0).map_err(redb::Error::from)? {
                Some(value) => Some(serde_json::from_slice::<Record>(value.value())?),
                None => None,
            }
            .filter(|record| record.alive(now));
            let (version, key) = current.map_or((0, None), |record| (record.version, record.key));
            if version != expected {
                return Ok(Saved::Conflict);
            }
            let record = Record {
                version: version + 1,
                expires_at,
                data,
                last_update: None,
                applied: Applied::default(),
                key: new_key.or(key),
            };
            table
                .insert(pair.0, serde_json::to_vec(&record)?.as_slice())
                .map_err(redb::Error::from)?;
            Ok(Saved::Written {
                version: version + 1,
            })
        })
        .await
    }

    async fn delete_pair(&self, pair: PairId) -> Result<(), StorageError> {
        self.write(move |write| {
            let mut table = write.open_table(PAIRS).map_err(redb::Error::from)?;
            table.remove(pair.0).map_err(redb::Error::from)?;
            Ok(())
        })
        .await?;
        self.compact().await
    }

    async fn put_invitation(
        &self,
        id: &str,
        sealed: String,
        expires_at: i64,
        _now: i64,
    ) -> Result<(), StorageError> {
        let id = id.to_owned();
        self.write(move |write| {
            let mut table = write.open_table(INVITATIONS).map_err(redb::Error::from)?;
            let kept = serde_json::to_vec(&Kept { sealed, expires_at })?;
            table
                .insert(id.as_str(), kept.as_slice())
                .map_err(redb::Error::from)?;
            Ok(())
        })
        .await
    }

    async fn read_invitation(&self, id: &str, now: i64) -> Result<Option<String>, StorageError> {
        let id = id.to_owned();
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(INVITATIONS).map_err(redb::Error::from)?;
            let kept = table.get(id.as_str()).map_err(redb::Error::from)?;
            unexpired(kept.as_ref().map(|value| value.value()), now)
        })
        .await
    }

    async fn take_invitation(&self, id: &str, now: i64) -> Result<Option<String>, StorageError> {
        let id = id.to_owned();
        self.write(move |write| {
            let mut table = write.open_table(INVITATIONS).map_err(redb::Error::from)?;
            let kept = table.remove(id.as_str()).map_err(redb::Error::from)?;
            unexpired(kept.as_ref().map(|value| value.value()), now)
        })
        .await
    }

    async fn delete_invitation(&self, id: &str) -> Result<(), StorageError> {
        let id = id.to_owned();
        self.write(move |write| {
            let mut table = write.open_table(INVITATIONS).map_err(redb::Error::from)?;
            table.remove(id.as_str()).map_err(redb::Error::from)?;
            Ok(())
        })
        .await
    }

    async fn keys_of_pair(&self, pair: PairId, now: i64) -> Result<Vec<String>, StorageError> {
        Ok(match self.read_pair(pair, now).await?.data {
            Some(_) => vec!["pair".to_owned()],
            None => Vec::new(),
        })
    }
}
