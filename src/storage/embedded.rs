//! The embedded backend: a redb database file in the data directory, for running anywhere
//! without Redis. Every write is one serialized redb transaction, which makes the version
//! compare-and-set atomic. redb is blocking, so calls run on tokio's blocking pool.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{LastUpdate, PersonId, Retention, Saved, StorageError, Stored, decode, encode};
use crate::dialogue::PersonState;

/// (person id, key name) → a JSON `Record`.
const PEOPLE: TableDefinition<(i64, &str), &[u8]> = TableDefinition::new("people");

/// One stored key: its version, when it expires (seconds since the epoch) and its data.
#[derive(Serialize, Deserialize)]
struct Record {
    version: u64,
    expires_at: Option<i64>,
    data: String,
    #[serde(default)]
    last_update: Option<LastUpdate>,
}

impl Record {
    fn alive(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

#[derive(Clone)]
pub struct EmbeddedStore {
    database: Arc<Database>,
    retention: Retention,
}

impl EmbeddedStore {
    /// Opens (or creates) `kintsugi.redb` in `directory`, creating the directory if needed.
    pub fn open(directory: &Path, retention: Retention) -> Result<EmbeddedStore, StorageError> {
        std::fs::create_dir_all(directory).map_err(redb::Error::Io)?;
        let database = Database::create(directory.join("kintsugi.redb"))?;
        let write = database.begin_write()?;
        write.open_table(PEOPLE)?;
        write.commit()?;
        Ok(EmbeddedStore {
            database: Arc::new(database),
            retention,
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let database = Arc::clone(&self.database);
        tokio::task::spawn_blocking(move || work(&database)).await?
    }

    pub(super) async fn load(&self, person: PersonId, now: i64) -> Result<Stored, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(PEOPLE).map_err(redb::Error::from)?;
            let record = read_record(&table, person, "state")?;
            match record.filter(|record| record.alive(now)) {
                Some(record) => Ok(Stored {
                    state: decode(&record.data)?,
                    version: record.version,
                    last_update: record.last_update,
                }),
                None => Ok(Stored {
                    state: PersonState::default(),
                    version: 0,
                    last_update: None,
                }),
            }
        })
        .await
    }

    pub(super) async fn save(
        &self,
        person: PersonId,
        state: &PersonState,
        expected: u64,
        now: i64,
        update: Option<LastUpdate>,
    ) -> Result<Saved, StorageError> {
        let data = encode(state)?;
        let expires_at = self.expires_at(now);
        self.blocking(move |database| {
            let write = database.begin_write().map_err(redb::Error::from)?;
            let outcome = {
                let mut table = write.open_table(PEOPLE).map_err(redb::Error::from)?;
                let current =
                    read_record(&table, person, "state")?.filter(|record| record.alive(now));
                let (version, recorded) =
                    current.map_or((0, None), |record| (record.version, record.last_update));
                if version == expected {
                    let record = Record {
                        version: version + 1,
                        expires_at,
                        data,
                        last_update: update.or(recorded),
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
            write.commit().map_err(redb::Error::from)?;
            Ok(outcome)
        })
        .await
    }

    pub(super) async fn set_reachable(
        &self,
        person: PersonId,
        reachable: bool,
        now: i64,
    ) -> Result<(), StorageError> {
        let expires_at = self.expires_at(now);
        self.blocking(move |database| {
            let write = database.begin_write().map_err(redb::Error::from)?;
            {
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
                    };
                    let bytes = serde_json::to_vec(&record)?;
                    table
                        .insert((person.0, "meta"), bytes.as_slice())
                        .map_err(redb::Error::from)?;
                }
            }
            write.commit().map_err(redb::Error::from)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn is_reachable(
        &self,
        person: PersonId,
        now: i64,
    ) -> Result<bool, StorageError> {
        self.blocking(move |database| {
            let read = database.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(PEOPLE).map_err(redb::Error::from)?;
            let blocked =
                read_record(&table, person, "meta")?.is_some_and(|record| record.alive(now));
            Ok(!blocked)
        })
        .await
    }

    /// When a record written at `now` expires.
    fn expires_at(&self, now: i64) -> Option<i64> {
        self.retention
            .0
            .map(|period| now.saturating_add(i64::try_from(period.as_secs()).unwrap_or(i64::MAX)))
    }

    pub(super) async fn delete_person(&self, person: PersonId) -> Result<(), StorageError> {
        self.blocking(move |database| {
            let write = database.begin_write().map_err(redb::Error::from)?;
            {
                let mut table = write.open_table(PEOPLE).map_err(redb::Error::from)?;
                table
                    .retain_in((person.0, "")..(person.0.saturating_add(1), ""), |_, _| {
                        false
                    })
                    .map_err(redb::Error::from)?;
            }
            write.commit().map_err(redb::Error::from)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn keys_of(
        &self,
        person: PersonId,
        now: i64,
    ) -> Result<Vec<String>, StorageError> {
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

    pub(super) async fn expires_in(
        &self,
        person: PersonId,
        now: i64,
    ) -> Result<Option<i64>, StorageError> {
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
