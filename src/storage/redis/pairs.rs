//! Pair records and invitations in Redis. A pair's record is one hash under its own hash tag
//! `{pair:<id>}`, written by a Lua compare-and-set; an invitation is one string under
//! `{invitation:<digest>}`, expiring by itself, taken with GETDEL so it is used once.

use async_trait::async_trait;
use redis::AsyncCommands;

use super::RedisStore;
use crate::storage::{PairId, PairStore, RawPair, Saved, StorageError};

/// Writes the pair hash KEYS[1] (`v` version, `d` data, `k` wrapped key) if its version is
/// still ARGV[1] (0: there is none): data ARGV[2], expiry ARGV[3] seconds (0: none), key ARGV[4]
/// when not empty. Returns the new version, or -1 on a conflict.
pub(super) const WRITE_PAIR: &str = r"
local current = redis.call('HGET', KEYS[1], 'v')
if current == false then current = '0' end
if current ~= ARGV[1] then return -1 end
local version = tonumber(current) + 1
redis.call('HSET', KEYS[1], 'v', version, 'd', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'k', ARGV[4]) end
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return version
";

impl RedisStore {
    fn pair_key(&self, pair: PairId) -> String {
        format!("{}:{{pair:{}}}:pair", self.prefix, pair.0)
    }

    fn invitation_key(&self, id: &str) -> String {
        format!("{}:{{invitation:{id}}}", self.prefix)
    }
}

#[async_trait]
impl PairStore for RedisStore {
    async fn read_pair(&self, pair: PairId, _now: i64) -> Result<RawPair, StorageError> {
        let mut connection = self.connection.clone();
        let (version, data, key): (Option<u64>, Option<String>, Option<String>) =
            redis::cmd("HMGET")
                .arg(self.pair_key(pair))
                .arg("v")
                .arg("d")
                .arg("k")
                .query_async(&mut connection)
                .await?;
        Ok(match (version, data) {
            (Some(version), Some(data)) => RawPair {
                version,
                data: Some(data),
                key,
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
        _now: i64,
    ) -> Result<Saved, StorageError> {
        let mut connection = self.connection.clone();
        let ttl = self.retention.0.map_or(0, |period| period.as_secs().max(1));
        let version: i64 = self
            .scripts
            .write_pair
            .key(self.pair_key(pair))
            .arg(expected)
            .arg(data)
            .arg(ttl)
            .arg(new_key.unwrap_or_default())
            .invoke_async(&mut connection)
            .await?;
        Ok(match u64::try_from(version) {
            Ok(version) => Saved::Written { version },
            Err(_) => Saved::Conflict,
        })
    }

    async fn delete_pair(&self, pair: PairId) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: () = connection.del(self.pair_key(pair)).await?;
        Ok(())
    }

    async fn put_invitation(
        &self,
        id: &str,
        sealed: String,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        // Redis expires it by its own clock: the time left, as the caller's clock sees it.
        let left = u64::try_from(expires_at.saturating_sub(now))
            .unwrap_or(0)
            .max(1);
        let _: () = connection
            .set_ex(self.invitation_key(id), sealed, left)
            .await?;
        Ok(())
    }

    async fn read_invitation(&self, id: &str, _now: i64) -> Result<Option<String>, StorageError> {
        let mut connection = self.connection.clone();
        Ok(connection.get(self.invitation_key(id)).await?)
    }

    async fn take_invitation(&self, id: &str, _now: i64) -> Result<Option<String>, StorageError> {
        let mut connection = self.connection.clone();
        Ok(connection.get_del(self.invitation_key(id)).await?)
    }

    async fn delete_invitation(&self, id: &str) -> Result<(), StorageError> {
        let mut connection = self.connection.clone();
        let _: () = connection.del(self.invitation_key(id)).await?;
        Ok(())
    }

    async fn keys_of_pair(&self, pair: PairId, _now: i64) -> Result<Vec<String>, StorageError> {
        let mut connection = self.connection.clone();
        let exists: bool = connection.exists(self.pair_key(pair)).await?;
        Ok(if exists {
            vec![self.pair_key(pair)]
        } else {
            Vec::new()
        })
    }
}
