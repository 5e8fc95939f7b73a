//! The Redis backend: a reconnecting multiplexed connection, a Lua compare-and-set for writes
//! (WATCH/MULTI is unsafe on a shared multiplexed connection), one round trip per operation.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use async_trait::async_trait;

use super::{
    Applied, DueReminder, PERSON_KEYS, PersonId, PersonStore, RawState, RawWrite, ReminderQueue,
    Retention, Saved, StorageError,
};

/// Claims up to ARGV[2] reminders due at ARGV[1] and leases them for ARGV[3] seconds, so no
/// other scheduler sees them meanwhile. Returns person, occurrence pairs. KEYS[1]: the due
/// set; KEYS[2]: person to occurrence.
const CLAIM_DUE: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local claimed = {}
for _, person in ipairs(due) do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), person)
  table.insert(claimed, person)
  table.insert(claimed, redis.call('HGET', KEYS[2], person) or '0')
end
return claimed
";

/// Marks occurrence ARGV[2] of person ARGV[1] as being sent; 1 if this call marked it, 0 if
/// it was marked before (by another scheduler, or before a crash). KEYS[1]: person to the last
/// occurrence marked.
const MARK_SENDING: &str = r"
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
";

/// Removes the mark of occurrence ARGV[2] of person ARGV[1], if it is still that one.
const UNMARK_SENDING: &str = r"
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
";

/// Writes the state only if its version is still the expected one; returns the new version,
/// or -1 on a conflict. KEYS[1]: the state hash. ARGV: expected version, the sealed state, TTL
/// seconds (0: no expiry), the updates applied as `id:at,...` (empty: keep the recorded ones),
/// a new wrapped data key (empty: keep the stored one).
const COMPARE_AND_SET: &str = r"
local current = redis.call('HGET', KEYS[1], 'v')
if current == false then current = '0' end
if current ~= ARGV[1] then return -1 end
local version = tonumber(current) + 1
redis.call('HSET', KEYS[1], 'v', version, 'd', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'u', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'k', ARGV[5]) end
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return version
";

/// Takes or renews lease KEYS[1] for holder ARGV[1] for ARGV[2] milliseconds: 1 if it is
/// (now) this holder's, 0 if another has it.
const HOLD_LEASE: &str = r"
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

/// Deletes lease KEYS[1] if holder ARGV[1] still has it.
const RELEASE_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    retention: Retention,
    scripts: Arc<Scripts>,
}

/// The Lua scripts, loaded once per store and shared by its clones.
struct Scripts {
    compare_and_set: redis::Script,
    claim_due: redis::Script,
    mark_sending: redis::Script,
    unmark_sending: redis::Script,
    hold_lease: redis::Script,
    release_lease: redis::Script,
}

impl RedisStore {
    /// Connects lazily: the bot starts even while Redis is down, and each operation reconnects
    /// as needed, so it recovers by itself when Redis is back.
    pub fn connect(
        url: &str,
        prefix: &str,
        retention: Retention,
    ) -> Result<RedisStore, StorageError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(RedisStore {
            connection,
            prefix: prefix.to_owned(),
            retention,
            scripts: Arc::new(Scripts {
                compare_and_set: redis::Script::new(COMPARE_AND_SET),
                claim_due: redis::Script::new(CLAIM_DUE),
                mark_sending: redis::Script::new(MARK_SENDING),
                unmark_sending: redis::Script::new(UNMARK_SENDING),
                hold_lease: redis::Script::new(HOLD_LEASE),
                release_lease: redis::Script::new(RELEASE_LEASE),
            }),
        })
    }

    /// Checks that Redis answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        Ok(())
    }

    fn key(&self, person: PersonId, name: &str) -> String {
        format!("{}:{{u:{}}}:{name}", self.prefix, person.0)
    }

    /// A key of the reminder index; they share one hash tag, so one script can use them all.
    fn reminders(&self, name: &str) -> String {
        format!("{}:{{reminders}}:{name}", self.prefix)
    }

    /// Adds to `pipe` the commands that take a person out of the reminder index.
    fn forget_reminder(&self, pipe: &mut redis::Pipeline, person: PersonId) {
        pipe.zrem(self.reminders("due"), person.0)
            .ignore()
            .hdel(self.reminders("occurrence"), person.0)
            .ignore()
            .hdel(self.reminders("sent"), person.0)
            .ignore();
    }
}

#[async_trait]
impl PersonStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StorageError> {
        RedisStore::ping(self).await
    }

    async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: u64,
    ) -> Result<bool, StorageError> {
        let mut connection = self.connection.clone();
        let held: i64 = self
            .scripts
            .hold_lease
            .key(format!("{}:lease:{name}", self.prefix))
            .arg(holder)
            .arg(ttl_ms.max(1))
            .invoke_async(&mut connection)
            .await?;
        Ok(held == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: i64 = self
            .scripts
            .release_lease
            .key(format!("{}:lease:{name}", self.prefix))
            .arg(holder)
            .invoke_async(&mut connection)
            .await?;
        Ok(())
    }

    async fn read_state(&self, person: PersonId, _now: i64) -> Result<RawState, StorageError> {
        let mut connection = self.connection.clone();
        type Fields = (Option<u64>, Option<String>, Option<String>, Option<String>);
        let (version, data, update, key): Fields = redis::cmd("HMGET")
            .arg(self.key(person, "state"))
            .arg("v")
            .arg("d")
            .arg("u")
            .arg("k")
            .query_async(&mut connection)
            .await?;
        match (version, data) {
            (Some(version), Some(data)) => Ok(RawState {
                version,
                data: Some(data),
                key,
                applied: update.as_deref().map(Applied::decode).unwrap_or_default(),
            }),
            _ => Ok(RawState::default()),
        }
    }

    async fn write_state(
        &self,
        person: PersonId,
        write: RawWrite,
        expected: u64,
        _now: i64,
        applied: Option<Applied>,
    ) -> Result<Saved, StorageError> {
        let mut connection = self.connection.clone();
        let ttl = self.retention.0.map_or(0, |period| period.as_secs().max(1));
        let version: i64 = self
            .scripts
            .compare_and_set
            .key(self.key(person, "state"))
            .arg(expected)
            .arg(write.data)
            .arg(ttl)
            .arg(applied.map(|applied| applied.encode()).unwrap_or_default())
            .arg(write.new_key.unwrap_or_default())
            .invoke_async(&mut connection)
            .await?;
        Ok(match u64::try_from(version) {
            Ok(version) => Saved::Written { version },
            Err(_) => Saved::Conflict,
        })
    }

    async fn set_reachable(
        &self,
        person: PersonId,
        reachable: bool,
        now: i64,
    ) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let key = self.key(person, "meta");
        if reachable {
            let _: () = connection.hdel(key, "blocked").await?;
        } else {
            let mut pipe = redis::pipe();
            pipe.atomic().hset(&key, "blocked", now).ignore();
            match self.retention.0 {
                Some(period) => pipe.expire(&key, period.as_secs().max(1) as i64).ignore(),
                None => pipe.persist(&key).ignore(),
            };
            let _: () = pipe.query_async(&mut connection).await?;
        }
        Ok(())
    }

    async fn is_reachable(&self, person: PersonId, _now: i64) -> Result<bool, StorageError> {
        let mut connection = self.connection.clone();
        let blocked: bool = connection
            .hexists(self.key(person, "meta"), "blocked")
            .await?;
        Ok(!blocked)
    }

    async fn delete_person(&self, person: PersonId) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let keys: Vec<String> = PERSON_KEYS
            .iter()
            .map(|name| self.key(person, name))
            .collect();
        let mut pipe = redis::pipe();
        pipe.del(keys).ignore();
        self.forget_reminder(&mut pipe, person);
        pipe.srem(self.reminders("outbox"), person.0).ignore();
        let _: () = pipe.query_async(&mut connection).await?;
        Ok(())
    }

    async fn vault_check(&self) -> Result<Option<String>, StorageError> {
        let mut connection = self.connection.clone();
        Ok(connection.get(format!("{}:vault", self.prefix)).await?)
    }

    async fn set_vault_check(
        &self,
        expected: Option<String>,
        value: String,
    ) -> Result<bool, StorageError> {
        let mut connection = self.connection.clone();
        let written: i64 = redis::Script::new(
            r"
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
",
        )
        .key(format!("{}:vault", self.prefix))
        .arg(expected.unwrap_or_default())
        .arg(value)
        .invoke_async(&mut connection)
        .await?;
        Ok(written == 1)
    }

    async fn keys_of(&self, person: PersonId, _now: i64) -> Result<Vec<String>, StorageError> {
        let mut connection = self.connection.clone();
        let pattern = format!("{}:{{u:{}}}:*", self.prefix, person.0);
        let mut keys: Vec<String> = Vec::new();
        let mut iter: redis::AsyncIter<String> = connection.scan_match(pattern).await?;
        while let Some(key) = iter.next_item().await {
            keys.push(key?);
        }
        keys.sort();
        Ok(keys)
    }

    async fn expires_in(&self, person: PersonId, _now: i64) -> Result<Option<i64>, StorageError> {
        let mut connection = self.connection.clone();
        let ttl: i64 = connection.ttl(self.key(person, "state")).await?;
        Ok((ttl >= 0).then_some(ttl))
    }
}

#[async_trait]
impl ReminderQueue for RedisStore {
    async fn note_outbox(&self, person: PersonId) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: () = connection.sadd(self.reminders("outbox"), person.0).await?;
        Ok(())
    }

    async fn clear_outbox(&self, person: PersonId) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: () = connection.srem(self.reminders("outbox"), person.0).await?;
        Ok(())
    }

    async fn outboxes(&self, limit: usize) -> Result<Vec<PersonId>, StorageError> {
        let mut connection = self.connection.clone();
        let people: Vec<i64> = connection
            .srandmember_multiple(
                self.reminders("outbox"),
                isize::try_from(limit).unwrap_or(isize::MAX),
            )
            .await?;
        Ok(people.into_iter().map(PersonId).collect())
    }

    async fn schedule(&self, person: PersonId, due: i64) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: () = redis::pipe()
            .atomic()
            .zadd(self.reminders("due"), person.0, due)
            .ignore()
            .hset(self.reminders("occurrence"), person.0, due)
            .ignore()
            .query_async(&mut connection)
            .await?;
        Ok(())
    }

    async fn cancel(&self, person: PersonId) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let mut pipe = redis::pipe();
        self.forget_reminder(pipe.atomic(), person);
        let _: () = pipe.query_async(&mut connection).await?;
        Ok(())
    }

    async fn due_at(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        let mut connection = self.connection.clone();
        Ok(connection
            .hget(self.reminders("occurrence"), person.0)
            .await?)
    }

    async fn last_sent(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        let mut connection = self.connection.clone();
        Ok(connection.hget(self.reminders("sent"), person.0).await?)
    }

    async fn claim_due(
        &self,
        now: i64,
        limit: usize,
        lease: i64,
    ) -> Result<Vec<DueReminder>, StorageError> {
        let mut connection = self.connection.clone();
        let claimed: Vec<i64> = self
            .scripts
            .claim_due
            .key(self.reminders("due"))
            .key(self.reminders("occurrence"))
            .arg(now)
            .arg(limit)
            .arg(lease)
            .invoke_async(&mut connection)
            .await?;
        Ok(claimed
            .chunks_exact(2)
            .map(|pair| DueReminder {
                person: PersonId(pair[0]),
                occurrence: pair[1],
            })
            .collect())
    }

    async fn mark_sending(&self, due: DueReminder) -> Result<bool, StorageError> {
        let mut connection = self.connection.clone();
        let marked: i64 = self
            .scripts
            .mark_sending
            .key(self.reminders("sent"))
            .arg(due.person.0)
            .arg(due.occurrence)
            .invoke_async(&mut connection)
            .await?;
        Ok(marked == 1)
    }

    async fn unmark_sending(&self, due: DueReminder) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: i64 = self
            .scripts
            .unmark_sending
            .key(self.reminders("sent"))
            .arg(due.person.0)
            .arg(due.occurrence)
            .invoke_async(&mut connection)
            .await?;
        Ok(())
    }
}
