//! What linked partners keep together, and the invitations that link them, behind
//! [`PairStore`]: a pair's record (sealed under a key of the link, which is deleted with it)
//! and single-use invitations (kept under a digest of their token and sealed with it).
//! Each backend implements the trait beside its person store; `tests/storage.rs` holds them
//! to the same guarantees.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{PersonId, Saved, Storage, StorageError, StoredKey};
use crate::dialogue::pair::PairState;
use crate::vault::{self, Owner};

/// Which link a pair record belongs to: a random number chosen with the invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PairId(pub i64);

impl PairId {
    /// A fresh random id (never 0).
    pub fn random() -> PairId {
        PairId(fastrand::i64(1..i64::MAX))
    }
}

/// A pair record as a backend keeps it: still sealed.
#[derive(Debug, Clone, Default)]
pub struct RawPair {
    /// How many times it was written (0: there is none).
    pub version: u64,
    pub data: Option<String>,
    /// The link's data key, wrapped by the master key.
    pub key: Option<String>,
}

/// Linked partners' records and invitations, kept where people's state is.
#[async_trait]
pub trait PairStore: Send + Sync {
    /// A pair's record as kept; [`RawPair::default`] if there is none (or it expired).
    async fn read_pair(&self, pair: PairId, now: i64) -> Result<RawPair, StorageError>;
    /// Writes a pair's record if its version is still `expected` (0: only if there is none),
    /// with `new_key` as its wrapped key when given; refreshes its expiry.
    async fn write_pair(
        &self,
        pair: PairId,
        data: String,
        new_key: Option<String>,
        expected: u64,
        now: i64,
    ) -> Result<Saved, StorageError>;
    /// Deletes a pair's record and its key.
    async fn delete_pair(&self, pair: PairId) -> Result<(), StorageError>;
    /// Keeps an invitation under `id` until `expires_at`, replacing any with that id.
    async fn put_invitation(
        &self,
        id: &str,
        sealed: String,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StorageError>;
    /// The invitation kept under `id`, if there is one and it has not expired.
    async fn read_invitation(&self, id: &str, now: i64) -> Result<Option<String>, StorageError>;
    /// Takes the invitation kept under `id` and deletes it, at once: of two callers at the
    /// same moment, one gets it.
    async fn take_invitation(&self, id: &str, now: i64) -> Result<Option<String>, StorageError>;
    /// Deletes the invitation kept under `id`, if any.
    async fn delete_invitation(&self, id: &str) -> Result<(), StorageError>;
    /// The names of the keys stored for a pair (for audits and tests).
    async fn keys_of_pair(&self, pair: PairId, now: i64) -> Result<Vec<String>, StorageError>;
}

/// A pair's record as read: the state and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPair {
    pub id: PairId,
    pub state: PairState,
    pub version: u64,
    key: Option<StoredKey>,
}

impl StoredPair {
    /// The record as it stands after `state` was written over it at `version`, so a caller
    /// need not read back what it just wrote (the link's key is unchanged by a write).
    pub fn written(self, state: PairState, version: u64) -> StoredPair {
        StoredPair {
            state,
            version,
            ..self
        }
    }
}

/// What an invitation holds: who made it, and the link it would make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub inviter: i64,
    pub pair: i64,
    /// When it stops working, in seconds since the epoch.
    pub expires: i64,
}

/// The associated data's field name for a sealed pair record.
const PAIR_FIELD: &str = "pair";

impl Storage {
    /// Reads a pair's record; `None` when there is none (never linked, unlinked or expired).
    pub async fn read_pair(
        &self,
        pair: PairId,
        now: i64,
    ) -> Result<Option<StoredPair>, StorageError> {
        let raw = self.pairs.read_pair(pair, now).await?;
        let Some(data) = raw.data else {
            return Ok(None);
        };
        let (key, json) = self.open_record(Owner::Pair(pair.0), PAIR_FIELD, data, raw.key)?;
        let state = serde_json::from_slice(&json)?;
        Ok(Some(StoredPair {
            id: pair,
            state,
            version: raw.version,
            key,
        }))
    }

    /// Writes a pair's record if it is still as `base` was read (`None`: only if there is
    /// none yet), sealed under the link's key (made now for a new link).
    pub async fn write_pair(
        &self,
        pair: PairId,
        state: &PairState,
        base: Option<&StoredPair>,
        now: i64,
    ) -> Result<Saved, StorageError> {
        let json = serde_json::to_string(state)?;
        let expected = base.map_or(0, |base| base.version);
        let key = base.and_then(|base| base.key.as_ref());
        let (data, new_key) = self.seal_record(Owner::Pair(pair.0), PAIR_FIELD, json, key)?;
        self.pairs
            .write_pair(pair, data, new_key, expected, now)
            .await
    }

    /// Deletes a pair's record and the link's key: whatever the partners shared can no longer
    /// be read, in any copy.
    pub async fn delete_pair(&self, pair: PairId) -> Result<(), StorageError> {
        self.pairs.delete_pair(pair).await
    }

    /// The names of the keys stored for a pair (for audits and tests).
    pub async fn keys_of_pair(&self, pair: PairId, now: i64) -> Result<Vec<String>, StorageError> {
        self.pairs.keys_of_pair(pair, now).await
    }

    /// Keeps `invitation` for whoever holds `token`, until it expires.
    pub async fn put_invitation(
        &self,
        token: &str,
        invitation: &Invitation,
        now: i64,
    ) -> Result<(), StorageError> {
        let json = serde_json::to_vec(invitation)?;
        let sealed = vault::seal_invitation(token, &json)?;
        self.pairs
            .put_invitation(
                &vault::invitation_id(token),
                sealed,
                invitation.expires,
                now,
            )
            .await
    }

    /// The invitation `token` opens, if it is still there and unexpired: it stays.
    pub async fn read_invitation(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<Invitation>, StorageError> {
        let sealed = self
            .pairs
            .read_invitation(&vault::invitation_id(token), now)
            .await?;
        Ok(open_invitation(token, sealed, now))
    }

    /// Takes the invitation `token` opens, so no one can use it again.
    pub async fn take_invitation(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<Invitation>, StorageError> {
        let sealed = self
            .pairs
            .take_invitation(&vault::invitation_id(token), now)
            .await?;
        Ok(open_invitation(token, sealed, now))
    }

    /// Deletes the invitation `token` opens, if it is still there.
    pub async fn delete_invitation(&self, token: &str) -> Result<(), StorageError> {
        self.pairs
            .delete_invitation(&vault::invitation_id(token))
            .await
    }
}

/// Opens an invitation as kept; a damaged or expired one is as good as none.
fn open_invitation(token: &str, sealed: Option<String>, now: i64) -> Option<Invitation> {
    let json = vault::open_invitation(token, &sealed?).ok()?;
    let invitation: Invitation = serde_json::from_slice(&json).ok()?;
    (invitation.expires > now).then_some(invitation)
}

/// A fresh invitation token: 32 characters of `A-Z a-z 0-9 _ -` (192 random bits), which is
/// what a Telegram deep link's payload allows.
pub fn new_invitation_token() -> String {
    use chacha20poly1305::aead::OsRng;
    use chacha20poly1305::aead::rand_core::RngCore;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|byte| ALPHABET[usize::from(byte & 63)] as char)
        .collect()
}

impl From<PersonId> for Owner {
    fn from(person: PersonId) -> Owner {
        Owner::Person(person.0)
    }
}
