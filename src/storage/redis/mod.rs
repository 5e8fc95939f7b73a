//! The Redis backend, on one server or a Redis Cluster: a Lua compare-and-set for writes
//! (WATCH/MULTI is unsafe on a shared multiplexed connection), one round trip per operation.
//! Every script and atomic write touches keys of one hash tag, so each runs on one cluster
//! slot: a person's keys share `{u:<id>}`, and the reminder index is split into
//! [`REMINDER_SHARDS`] shards tagged `{reminders:<n>}`, so no one slot carries every reminder.

mod link;
mod pairs;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis::AsyncCommands;

use async_trait::async_trait;

use crate::flood::{FloodLimit, Verdict};

use self::link::Link;
use super::{
    Admitted, Applied, DueReminder, PERSON_KEYS, PersonId, PersonStore, RawState, RawWrite,
    ReminderQueue, Retention, Saved, StorageError,
};

/// How long a note that an update is being handled holds back the person's later updates on
/// other replicas, if the replica handling it never finishes (it was killed, say).
pub const IN_FLIGHT: std::time::Duration = std::time::Duration::from_secs(5);

/// How many shards the reminder index is split into. A person's reminder, its occurrence, the
/// mark of the one being sent and their outbox note all live in shard `id mod` this.
pub const REMINDER_SHARDS: usize = 16;

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

/// Lua shared by the scripts that take a message through flood control: `clock_ms()`, the
/// server's time in milliseconds, and `flood(burst, interval, full, noted, now, set)`, a GCRA
/// schedule kept in the state hash KEYS[1] (field `ft`: when the bucket is full again, in
/// milliseconds; `fn`: set once the flood note was given; burst 0: no flood control), which
/// returns `serve`, `note` (give the flood note once) or `drop`. The fields it changes are
/// added to `set` (field, value, ...; `put(set, field, value)` adds one), which the caller
/// writes with its own fields in one `HSET` (`hset(set)`); clearing `fn` is a call of its own.
macro_rules! flood_lua {
    () => {
        r"
local function clock_ms()
  local clock = redis.call('TIME')
  return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end
local function put(set, field, value)
  set[#set + 1] = field
  set[#set + 1] = value
end
local function flood(burst, interval, full, noted, now, set)
  if burst <= 0 then return 'serve' end
  full = tonumber(full or '0')
  if full < now then full = now end
  if full - now <= (burst - 1) * interval then
    put(set, 'ft', full + interval)
    if noted then redis.call('HDEL', KEYS[1], 'fn') end
    return 'serve'
  end
  if noted then return 'drop' end
  put(set, 'fn', '1')
  return 'note'
end
local function hset(set)
  if #set > 0 then redis.call('HSET', KEYS[1], unpack(set)) end
end
"
    };
}

/// Reads a person's state to handle one message, in one round trip: takes the message through
/// flood control (a GCRA schedule in fields `ft`, the moment the bucket is full again in
/// milliseconds of the server's clock, and `fn`, set once the flood note was given), and notes
/// the update as in flight (field `i`: `id:deadline:phase,...`, the phase `h` while it is
/// handled, `s` while its replies go out) unless it was applied already.
/// KEYS[1]: the state hash. ARGV: flood burst (0: no flood control), milliseconds per message
/// regained, TTL seconds for a hash this creates (0: none), the update id (empty: none), how
/// long an in-flight note lasts in milliseconds. Returns the verdict (`serve`, `note`,
/// `drop`) and the fields `v`, `d`, `u`, `k`.
const READ_FOR_UPDATE: &str = concat!(
    flood_lua!(),
    r"
local fields = redis.call('HMGET', KEYS[1], 'v', 'd', 'u', 'k', 'i', 'ft', 'fn')
local now = clock_ms()
local set = {}
local verdict = flood(tonumber(ARGV[1]), tonumber(ARGV[2]), fields[6], fields[7], now, set)
if verdict == 'serve' and ARGV[4] ~= '' then
  local applied = ',' .. (fields[3] or '')
  if not string.find(applied, ',' .. ARGV[4] .. ':', 1, true) then
    local kept = {ARGV[4] .. ':' .. (now + tonumber(ARGV[5])) .. ':h'}
    for id, deadline, phase in string.gmatch(fields[5] or '', '(%-?%d+):(%d+):(%a)') do
      if id ~= ARGV[4] and tonumber(deadline) > now then
        table.insert(kept, id .. ':' .. deadline .. ':' .. phase)
      end
    end
    put(set, 'i', table.concat(kept, ','))
  end
end
hset(set)
-- A hash this script created (no state yet) expires like the state would.
if not fields[1] and tonumber(ARGV[3]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {verdict, fields[1], fields[2], fields[3], fields[4]}
"
);

/// Writes the state only if its version is still the expected one, no earlier update of the
/// person is being handled elsewhere and no other update's replies are going out; returns the
/// new version, -1 on a conflict, or -2 while it must wait. KEYS[1]: the state hash. ARGV: expected version, the sealed
/// state, TTL seconds (0: no expiry), the updates applied as `id:at,...` (empty: keep the
/// recorded ones), a new wrapped data key (empty: keep the stored one), the update this write
/// applies (empty: none), how long its in-flight note is then kept in milliseconds (while its
/// replies go out; released sooner by `RELEASE_UPDATE`).
const COMPARE_AND_SET: &str = r"
local current = redis.call('HGET', KEYS[1], 'v')
if current == false then current = '0' end
if current ~= ARGV[1] then return -1 end
local inflight = redis.call('HGET', KEYS[1], 'i')
if inflight and ARGV[6] ~= '' then
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local mine = tonumber(ARGV[6])
  local kept = {}
  for id, deadline, phase in string.gmatch(inflight, '(%-?%d+):(%d+):(%a)') do
    if tonumber(deadline) > now then
      if id == ARGV[6] then
        table.insert(kept, id .. ':' .. (now + tonumber(ARGV[7])) .. ':s')
      else
        if phase == 's' or tonumber(id) < mine then return -2 end
        table.insert(kept, id .. ':' .. deadline .. ':' .. phase)
      end
    end
  end
  if #kept > 0 then
    redis.call('HSET', KEYS[1], 'i', table.concat(kept, ','))
  else
    redis.call('HDEL', KEYS[1], 'i')
  end
end
local version = tonumber(current) + 1
local set = {'v', version, 'd', ARGV[2]}
if ARGV[4] ~= '' then table.insert(set, 'u') table.insert(set, ARGV[4]) end
if ARGV[5] ~= '' then table.insert(set, 'k') table.insert(set, ARGV[5]) end
redis.call('HSET', KEYS[1], unpack(set))
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return version
";

/// Writes over a state this process wrote last, without reading it first (see
/// `PersonStore::write_over`): takes the message through flood control as `READ_FOR_UPDATE`
/// does, then writes only if the version is still ARGV[1] and the sealed state still starts
/// with ARGV[2]. KEYS[1]: the state hash. ARGV: expected version, expected start of `d`, the
/// sealed state, TTL seconds (0: no expiry), the updates applied (empty: keep), a new wrapped
/// key (empty: keep), flood burst (0: no flood control), milliseconds per message regained.
/// Returns the verdict and the new version, or -1 when not written.
const WRITE_OVER: &str = concat!(
    flood_lua!(),
    r"
local fields = redis.call('HMGET', KEYS[1], 'v', 'd', 'ft', 'fn')
local set = {}
local verdict = flood(tonumber(ARGV[7]), tonumber(ARGV[8]), fields[3], fields[4], clock_ms(), set)
local version = -1
if verdict == 'serve' and fields[1] == ARGV[1] and fields[2]
    and string.sub(fields[2], 1, string.len(ARGV[2])) == ARGV[2] then
  version = tonumber(fields[1]) + 1
  put(set, 'v', version)
  put(set, 'd', ARGV[3])
  if ARGV[5] ~= '' then put(set, 'u', ARGV[5]) end
  if ARGV[6] ~= '' then put(set, 'k', ARGV[6]) end
end
hset(set)
if version < 0 then return {verdict, -1} end
local ttl = tonumber(ARGV[4])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return {verdict, version}
"
);

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

/// Reserves ARGV[1] turns ARGV[2] microseconds apart on schedule KEYS[1] (when its next turn
/// is free, in microseconds of the server's clock: a GCRA schedule without a burst); returns
/// how many microseconds until the first. Written with `%d`: Lua's own way of writing a number
/// that large would round it.
const RESERVE_TURNS: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
if free < now then free = now end
local span = tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%d', free + span), 'PX', math.floor(span / 1000) + 60000)
return free - now
";

/// Counts the senders on a shared schedule: notes sender ARGV[1] in sorted set KEYS[1] as
/// heard from now (milliseconds of the server's clock), forgets those not heard from for
/// ARGV[2] milliseconds, and returns how many are left. With a lead of ARGV[3] microseconds,
/// first moves schedule KEYS[2]'s next free turn (see RESERVE_TURNS) to at least that far
/// from now.
const COUNT_SENDERS: &str = r"
local clock = redis.call('TIME')
local ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZADD', KEYS[1], string.format('%d', ms), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', ms - tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local lead = tonumber(ARGV[3])
if lead > 0 then
  local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
  local free = tonumber(redis.call('GET', KEYS[2]) or '0')
  if free < now + lead then
    redis.call('SET', KEYS[2], string.format('%d', now + lead), 'PX', math.floor(lead / 1000) + 60000)
  end
end
return redis.call('ZCARD', KEYS[1])
";

/// Ends the in-flight note of update ARGV[1] in state hash KEYS[1].
const RELEASE_UPDATE: &str = r"
local inflight = redis.call('HGET', KEYS[1], 'i')
if not inflight then return 0 end
local kept = {}
for id, deadline, phase in string.gmatch(inflight, '(%-?%d+):(%d+):(%a)') do
  if id ~= ARGV[1] then table.insert(kept, id .. ':' .. deadline .. ':' .. phase) end
end
if #kept > 0 then
  redis.call('HSET', KEYS[1], 'i', table.concat(kept, ','))
else
  redis.call('HDEL', KEYS[1], 'i')
end
return 1
";

/// Deletes lease KEYS[1] if holder ARGV[1] still has it.
const RELEASE_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

#[derive(Clone)]
pub struct RedisStore {
    connection: Link,
    prefix: String,
    retention: Retention,
    scripts: Arc<Scripts>,
    /// How long a note that an update is in flight lasts ([`IN_FLIGHT`]; shorter in tests).
    in_flight: std::time::Duration,
}

/// The Lua scripts, loaded once per store and shared by its clones.
struct Scripts {
    compare_and_set: redis::Script,
    write_over: redis::Script,
    read_for_update: redis::Script,
    reserve_turns: redis::Script,
    count_senders: redis::Script,
    release_update: redis::Script,
    claim_due: redis::Script,
    mark_sending: redis::Script,
    unmark_sending: redis::Script,
    hold_lease: redis::Script,
    release_lease: redis::Script,
    set_vault_check: redis::Script,
    write_pair: redis::Script,
    /// The shard the next claim starts from, so every shard gets its turn to be first.
    next_shard: AtomicUsize,
}

/// Sets KEYS[1] to ARGV[2] only if it still holds ARGV[1] (empty: is unset); 1 if it did.
const SET_VAULT_CHECK: &str = r"
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
";

impl RedisStore {
    /// Connects lazily: the bot starts even while Redis is down, and each operation reconnects
    /// as needed, so it recovers by itself when Redis is back. `url` names one server
    /// (`redis://…`) or a cluster (`redis+cluster://host:port,host:port`).
    pub fn connect(
        url: &str,
        prefix: &str,
        retention: Retention,
    ) -> Result<RedisStore, StorageError> {
        Ok(RedisStore {
            connection: Link::open(url)?,
            prefix: prefix.to_owned(),
            retention,
            in_flight: IN_FLIGHT,
            scripts: Arc::new(Scripts {
                compare_and_set: redis::Script::new(COMPARE_AND_SET),
                write_over: redis::Script::new(WRITE_OVER),
                read_for_update: redis::Script::new(READ_FOR_UPDATE),
                reserve_turns: redis::Script::new(RESERVE_TURNS),
                count_senders: redis::Script::new(COUNT_SENDERS),
                release_update: redis::Script::new(RELEASE_UPDATE),
                claim_due: redis::Script::new(CLAIM_DUE),
                mark_sending: redis::Script::new(MARK_SENDING),
                unmark_sending: redis::Script::new(UNMARK_SENDING),
                hold_lease: redis::Script::new(HOLD_LEASE),
                release_lease: redis::Script::new(RELEASE_LEASE),
                set_vault_check: redis::Script::new(SET_VAULT_CHECK),
                write_pair: redis::Script::new(pairs::WRITE_PAIR),
                next_shard: AtomicUsize::new(0),
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

    /// The same store with in-flight notes lasting `lapse` (for tests of a replica that died).
    pub fn with_in_flight(mut self, lapse: std::time::Duration) -> RedisStore {
        self.in_flight = lapse;
        self
    }

    /// Whether the store is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.connection.is_cluster()
    }

    /// A key of one shard of the reminder index; a shard's keys share one hash tag, so one
    /// script can use them all.
    fn shard_key(&self, shard: usize, name: &str) -> String {
        format!("{}:{{reminders:{shard}}}:{name}", self.prefix)
    }

    /// A key of the reminder index in `person`'s shard.
    fn reminders(&self, person: PersonId, name: &str) -> String {
        self.shard_key(shard_of(person), name)
    }

    /// Adds to `pipe` the commands that take a person out of the reminder index.
    fn forget_reminder(&self, pipe: &mut redis::Pipeline, person: PersonId) {
        pipe.zrem(self.reminders(person, "due"), person.0)
            .ignore()
            .hdel(self.reminders(person, "occurrence"), person.0)
            .ignore()
            .hdel(self.reminders(person, "sent"), person.0)
            .ignore();
    }

    /// Runs `script` on the mark of the occurrence being sent to `due`'s person (in their
    /// shard's `sent` hash), with the person and the occurrence as its arguments.
    async fn on_sent_mark(
        &self,
        script: &redis::Script,
        due: DueReminder,
    ) -> Result<i64, StorageError> {
        let mut connection = self.connection.clone();
        Ok(script
            .key(self.reminders(due.person, "sent"))
            .arg(due.person.0)
            .arg(due.occurrence)
            .invoke_async(&mut connection)
            .await?)
    }

    /// Claims up to `limit` reminders due at `now` from one shard.
    async fn claim_from(
        &self,
        shard: usize,
        now: i64,
        limit: usize,
        lease: i64,
    ) -> Result<Vec<DueReminder>, StorageError> {
        let mut connection = self.connection.clone();
        let claimed: Vec<i64> = self
            .scripts
            .claim_due
            .key(self.shard_key(shard, "due"))
            .key(self.shard_key(shard, "occurrence"))
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

    /// Moves a reminder index written by an earlier version (all in one `{reminders}` slot)
    /// into the shards; returns how many entries moved. Safe to run on every start.
    pub async fn upgrade_reminder_index(&self) -> Result<usize, StorageError> {
        let mut connection = self.connection.clone();
        let old = |name: &str| format!("{}:{{reminders}}:{name}", self.prefix);
        type Old = (Vec<(i64, i64)>, Vec<(i64, i64)>, Vec<(i64, i64)>, Vec<i64>);
        let (due, occurrence, sent, outbox): Old = redis::pipe()
            .zrange_withscores(old("due"), 0, -1)
            .hgetall(old("occurrence"))
            .hgetall(old("sent"))
            .smembers(old("outbox"))
            .query_async(&mut connection)
            .await?;
        let moved = due.len() + occurrence.len() + sent.len() + outbox.len();
        if moved == 0 {
            return Ok(0);
        }
        for (person, at) in due {
            let _: () = connection
                .zadd(self.reminders(PersonId(person), "due"), person, at)
                .await?;
        }
        for (name, entries) in [("occurrence", occurrence), ("sent", sent)] {
            for (person, value) in entries {
                let _: () = connection
                    .hset(self.reminders(PersonId(person), name), person, value)
                    .await?;
            }
        }
        for person in outbox {
            let _: () = connection
                .sadd(self.reminders(PersonId(person), "outbox"), person)
                .await?;
        }
        for name in ["due", "occurrence", "sent", "outbox"] {
            let _: () = connection.del(old(name)).await?;
        }
        Ok(moved)
    }
}

/// The reminder shard a person belongs to.
/// The flood scripts' burst (0: no flood control) and milliseconds per message regained.
fn flood_args(flood: Option<FloodLimit>) -> (u32, u64) {
    flood.map_or((0, 0), |limit| {
        (
            limit.burst.max(1),
            60_000 / u64::from(limit.per_minute.max(1)),
        )
    })
}

/// A flood script's verdict.
fn verdict_of(verdict: &str) -> Verdict {
    match verdict {
        "note" => Verdict::NoteAndDrop,
        "drop" => Verdict::Drop,
        _ => Verdict::Serve,
    }
}

fn shard_of(person: PersonId) -> usize {
    // Shards are few, so the cast cannot truncate.
    person.0.rem_euclid(REMINDER_SHARDS as i64) as usize
}

/// Splits `limit` over `shards`, starting with the first: equal parts, the first few one more.
fn quotas(limit: usize, shards: usize) -> impl Iterator<Item = usize> {
    (0..shards).map(move |index| limit / shards + usize::from(index < limit % shards))
}

#[async_trait]
impl PersonStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StorageError> {
        RedisStore::ping(self).await
    }

    async fn upgrade_layout(&self) -> Result<usize, StorageError> {
        self.upgrade_reminder_index().await
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

    async fn release_update(&self, person: PersonId, update: i64) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: i64 = self
            .scripts
            .release_update
            .key(self.key(person, "state"))
            .arg(update)
            .invoke_async(&mut connection)
            .await?;
        Ok(())
    }

    async fn reserve_turns(
        &self,
        name: &str,
        count: u32,
        interval: std::time::Duration,
    ) -> Result<Option<std::time::Duration>, StorageError> {
        let mut connection = self.connection.clone();
        // In microseconds (the key's name says so, apart from the milliseconds of old).
        let wait_us: u64 = self
            .scripts
            .reserve_turns
            .key(format!("{}:{{turns}}:{name}:us", self.prefix))
            .arg(count.max(1))
            .arg(
                u64::try_from(interval.as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1),
            )
            .invoke_async(&mut connection)
            .await?;
        Ok(Some(std::time::Duration::from_micros(wait_us)))
    }

    async fn count_senders(
        &self,
        name: &str,
        sender: &str,
        ttl: std::time::Duration,
        lead: std::time::Duration,
    ) -> Result<Option<u32>, StorageError> {
        let mut connection = self.connection.clone();
        // Beside the schedule (one slot on a cluster).
        let senders: u32 = self
            .scripts
            .count_senders
            .key(format!("{}:{{turns}}:{name}:senders", self.prefix))
            .key(format!("{}:{{turns}}:{name}:us", self.prefix))
            .arg(sender)
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
            .arg(u64::try_from(lead.as_micros()).unwrap_or(u64::MAX))
            .invoke_async(&mut connection)
            .await?;
        Ok(Some(senders))
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

    fn writes_over(&self) -> bool {
        true
    }

    async fn write_over(
        &self,
        person: PersonId,
        write: RawWrite,
        expected: u64,
        mark: &str,
        applied: Option<Applied>,
        flood: Option<FloodLimit>,
    ) -> Result<Option<(Option<Verdict>, Saved)>, StorageError> {
        let mut connection = self.connection.clone();
        let (burst, interval_ms) = flood_args(flood);
        let ttl = self.retention.0.map_or(0, |period| period.as_secs().max(1));
        let (verdict, version): (String, i64) = self
            .scripts
            .write_over
            .key(self.key(person, "state"))
            .arg(expected)
            .arg(mark)
            .arg(write.data)
            .arg(ttl)
            .arg(applied.map(|applied| applied.encode()).unwrap_or_default())
            .arg(write.new_key.unwrap_or_default())
            .arg(burst)
            .arg(interval_ms)
            .invoke_async(&mut connection)
            .await?;
        let saved = match u64::try_from(version) {
            Ok(version) => Saved::Written { version },
            Err(_) => Saved::Conflict,
        };
        Ok(Some((flood.map(|_| verdict_of(&verdict)), saved)))
    }

    async fn read_for_update(
        &self,
        person: PersonId,
        _now: i64,
        flood: Option<FloodLimit>,
        update: Option<i64>,
    ) -> Result<Admitted, StorageError> {
        let mut connection = self.connection.clone();
        let (burst, interval_ms) = flood_args(flood);
        type Reply = (
            String,
            Option<u64>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let (verdict, version, data, applied, key): Reply = self
            .scripts
            .read_for_update
            .key(self.key(person, "state"))
            .arg(burst)
            .arg(interval_ms)
            .arg(self.retention.0.map_or(0, |period| period.as_secs().max(1)))
            .arg(update.map(|id| id.to_string()).unwrap_or_default())
            .arg(self.in_flight.as_millis().max(1) as u64)
            .invoke_async(&mut connection)
            .await?;
        let verdict = verdict_of(&verdict);
        let state = match (version, data) {
            (Some(version), Some(data)) => RawState {
                version,
                data: Some(data),
                key,
                applied: applied.as_deref().map(Applied::decode).unwrap_or_default(),
            },
            _ => RawState::default(),
        };
        Ok(Admitted {
            verdict: flood.map(|_| verdict),
            state,
        })
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
            .arg(write.update.map(|id| id.to_string()).unwrap_or_default())
            .arg(self.in_flight.as_millis().max(1) as u64)
            .invoke_async(&mut connection)
            .await?;
        Ok(match version {
            -2 => Saved::EarlierInFlight,
            version => match u64::try_from(version) {
                Ok(version) => Saved::Written { version },
                Err(_) => Saved::Conflict,
            },
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
        // The reminder first, so a failure half-way never leaves a reminder for nobody; the
        // two requests name different slots, which a cluster cannot write at once.
        let mut pipe = redis::pipe();
        self.forget_reminder(pipe.atomic(), person);
        pipe.srem(self.reminders(person, "outbox"), person.0)
            .ignore();
        let _: () = pipe.query_async(&mut connection).await?;
        let _: () = connection.del(keys).await?;
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
        let written: i64 = self
            .scripts
            .set_vault_check
            .key(format!("{}:vault", self.prefix))
            .arg(expected.unwrap_or_default())
            .arg(value)
            .invoke_async(&mut connection)
            .await?;
        Ok(written == 1)
    }

    async fn push_inbox(
        &self,
        person: PersonId,
        sealed: String,
        _now: i64,
    ) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let key = self.key(person, "inbox");
        let mut pipe = redis::pipe();
        pipe.atomic().rpush(&key, sealed).ignore();
        match self.retention.0 {
            Some(period) => pipe.expire(&key, period.as_secs().max(1) as i64).ignore(),
            None => pipe.persist(&key).ignore(),
        };
        let _: () = pipe.query_async(&mut connection).await?;
        Ok(())
    }

    async fn take_inbox(&self, person: PersonId, _now: i64) -> Result<Vec<String>, StorageError> {
        let mut connection = self.connection.clone();
        let key = self.key(person, "inbox");
        let (notices,): (Vec<String>,) = redis::pipe()
            .atomic()
            .lrange(&key, 0, -1)
            .del(&key)
            .ignore()
            .query_async(&mut connection)
            .await?;
        Ok(notices)
    }

    async fn keys_of(&self, person: PersonId, _now: i64) -> Result<Vec<String>, StorageError> {
        let mut connection = self.connection.clone();
        // On a cluster, a person's keys all live on the node of their hash tag: scan that one.
        let pattern = format!("{}:{{u:{}}}:*", self.prefix, person.0);
        let node = self.key(person, "state");
        let mut keys: Vec<String> = Vec::new();
        let mut cursor = 0_u64;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500);
            let reply = connection.on_node_of(&node, &scan).await?;
            let (next, found): (u64, Vec<String>) = redis::from_redis_value(reply)
                .map_err(|error| StorageError::Redis(error.into()))?;
            keys.extend(found);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
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
        let _: () = connection
            .sadd(self.reminders(person, "outbox"), person.0)
            .await?;
        Ok(())
    }

    async fn clear_outbox(&self, person: PersonId) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: () = connection
            .srem(self.reminders(person, "outbox"), person.0)
            .await?;
        Ok(())
    }

    async fn outboxes(&self, limit: usize) -> Result<Vec<PersonId>, StorageError> {
        let mut connection = self.connection.clone();
        let mut people = Vec::new();
        for shard in 0..REMINDER_SHARDS {
            if people.len() >= limit {
                break;
            }
            let found: Vec<i64> = connection
                .srandmember_multiple(
                    self.shard_key(shard, "outbox"),
                    isize::try_from(limit - people.len()).unwrap_or(isize::MAX),
                )
                .await?;
            people.extend(found.into_iter().map(PersonId));
        }
        Ok(people)
    }

    async fn schedule(&self, person: PersonId, due: i64) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: () = redis::pipe()
            .atomic()
            .zadd(self.reminders(person, "due"), person.0, due)
            .ignore()
            .hset(self.reminders(person, "occurrence"), person.0, due)
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
            .hget(self.reminders(person, "occurrence"), person.0)
            .await?)
    }

    async fn last_sent(&self, person: PersonId) -> Result<Option<i64>, StorageError> {
        let mut connection = self.connection.clone();
        Ok(connection
            .hget(self.reminders(person, "sent"), person.0)
            .await?)
    }

    async fn claim_due(
        &self,
        now: i64,
        limit: usize,
        lease: i64,
    ) -> Result<Vec<DueReminder>, StorageError> {
        // Every shard is asked for its share, starting from a different one each time; the
        // share of a shard that ran out goes to those that still had more, in further rounds.
        let start = self.scripts.next_shard.fetch_add(1, Ordering::Relaxed);
        let mut open: Vec<usize> = (0..REMINDER_SHARDS)
            .map(|offset| (start + offset) % REMINDER_SHARDS)
            .collect();
        let mut claimed = Vec::new();
        while claimed.len() < limit && !open.is_empty() {
            let (asks, unasked): (Vec<(usize, usize)>, Vec<(usize, usize)>) = open
                .iter()
                .copied()
                .zip(quotas(limit - claimed.len(), open.len()))
                .partition(|(_, quota)| *quota > 0);
            let answers = futures::future::join_all(
                asks.iter()
                    .map(|(shard, quota)| self.claim_from(*shard, now, *quota, lease)),
            )
            .await;
            // Shards not asked this round (the limit was smaller than the shards) stay open.
            open = unasked.into_iter().map(|(shard, _)| shard).collect();
            for ((shard, quota), answer) in asks.into_iter().zip(answers) {
                let found = answer?;
                if found.len() == quota {
                    open.push(shard);
                }
                claimed.extend(found);
            }
        }
        Ok(claimed)
    }

    async fn mark_sending(&self, due: DueReminder) -> Result<bool, StorageError> {
        Ok(self.on_sent_mark(&self.scripts.mark_sending, due).await? == 1)
    }

    async fn unmark_sending(&self, due: DueReminder) -> Result<(), StorageError> {
        self.on_sent_mark(&self.scripts.unmark_sending, due).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_split_a_limit_evenly_and_add_up_to_it() {
        assert_eq!(quotas(50, 16).sum::<usize>(), 50);
        assert_eq!(quotas(5, 3).collect::<Vec<_>>(), [2, 2, 1]);
        assert_eq!(quotas(2, 4).collect::<Vec<_>>(), [1, 1, 0, 0]);
    }

    #[test]
    fn negative_ids_have_a_shard_too() {
        assert!(shard_of(PersonId(-5)) < REMINDER_SHARDS);
        assert_eq!(shard_of(PersonId(17)), 1);
    }
}
