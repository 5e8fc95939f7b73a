//! Encryption at rest. Each person's state is sealed with XChaCha20-Poly1305 under a data key
//! of their own; that data key is stored beside the state, wrapped (sealed) by the master key
//! from the environment. Deleting a person's data key makes every old copy of their state, in
//! backups or an append-only file, unreadable.
//!
//! Formats (text, so they fit a Redis hash field or a redb value):
//! - a wrapped data key: `<master key id>:<base64 of nonce ‖ ciphertext>`;
//! - a sealed state: `xc1:<base64 of nonce ‖ ciphertext>`.
//!
//! The associated data names the person and the field, so a ciphertext copied to another
//! person or another field fails to open. The master key id makes rotation possible: keys
//! listed as previous still open what they wrapped, and the next write rewraps it with the
//! current key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

/// The length of every key, in bytes.
pub(crate) const KEY_LENGTH: usize = 32;
const NONCE_LENGTH: usize = 24;
/// The prefix of a sealed state.
const SEALED_PREFIX: &str = "xc1:";
/// What the store's check value wraps: opening it proves the master key is the right one.
const CHECK_VALUE: &[u8] = b"kintsugi vault check";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error(
        "the master key must look like `<id>:<base64 of 32 bytes>` (for example `k1:…`); run `kintsugi keygen` to make one"
    )]
    MalformedMasterKey,
    #[error("the master key's id `{0}` may use only letters, digits, `-` and `_`")]
    BadKeyId(String),
    #[error("the master key `{id}` is {length} bytes long; it must be exactly {KEY_LENGTH}")]
    BadKeyLength { id: String, length: usize },
    #[error("two master keys share the id `{0}`; give each key its own id")]
    DuplicateKeyId(String),
    #[error(
        "data here was encrypted with master key `{0}`, which is not configured; set KINTSUGI_MASTER_KEY (or list the key in KINTSUGI_PREVIOUS_MASTER_KEYS)"
    )]
    UnknownKey(String),
    #[error(
        "the store holds encrypted data, but no master key is set; set KINTSUGI_MASTER_KEY to the key it was written with"
    )]
    NoKey,
    #[error(
        "master key `{0}` cannot open data it claims to have sealed: the key is wrong, or the data was altered or copied from another person"
    )]
    WrongKey(String),
    #[error("a sealed value is damaged (not the format this version writes)")]
    Damaged,
    #[error("encrypting failed, so nothing was written")]
    Sealing,
}

/// A master key and its id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, …)", self.id)
    }
}

impl MasterKey {
    /// Reads `<id>:<base64 of 32 bytes>`.
    pub fn parse(text: &str) -> Result<MasterKey, VaultError> {
        let (id, encoded) = text
            .trim()
            .split_once(':')
            .ok_or(VaultError::MalformedMasterKey)?;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(VaultError::BadKeyId(id.to_owned()));
        }
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|_| VaultError::MalformedMasterKey)?;
        if bytes.len() != KEY_LENGTH {
            return Err(VaultError::BadKeyLength {
                id: id.to_owned(),
                length: bytes.len(),
            });
        }
        Ok(MasterKey {
            id: id.to_owned(),
            cipher: XChaCha20Poly1305::new(Key::from_slice(&bytes)),
        })
    }

    /// A fresh random key with the given id, as the text `parse` reads.
    pub fn generate(id: &str) -> String {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        format!("{id}:{}", BASE64.encode(key))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// One person's data key, in the clear (only ever in memory).
#[derive(Clone)]
pub struct DataKey(XChaCha20Poly1305);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(…)")
    }
}

/// The master keys in use: the current one (none in plaintext mode) and older ones that still
/// open what they wrapped.
#[derive(Debug, Clone, Default)]
pub struct Vault {
    current: Option<MasterKey>,
    previous: Vec<MasterKey>,
}

/// A person's data key as read from the store.
#[derive(Debug, Clone)]
pub(crate) struct OpenedKey {
    pub key: DataKey,
    /// Whether it was wrapped by the current master key (otherwise the next write rewraps it).
    pub current: bool,
}

impl Vault {
    /// No encryption: states are stored as plain JSON. Only with the operator's explicit
    /// consent (or in tests).
    pub fn plaintext() -> Vault {
        Vault::default()
    }

    /// Encrypts with `current`; `previous` keys still open what they wrapped.
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Result<Vault, VaultError> {
        let mut seen = vec![current.id.clone()];
        for key in &previous {
            if seen.contains(&key.id) {
                return Err(VaultError::DuplicateKeyId(key.id.clone()));
            }
            seen.push(key.id.clone());
        }
        Ok(Vault {
            current: Some(current),
            previous,
        })
    }

    /// Whether new data is encrypted.
    pub(crate) fn encrypts(&self) -> bool {
        self.current.is_some()
    }

    /// The current master key's id, if any.
    pub(crate) fn key_id(&self) -> Option<&str> {
        self.current.as_ref().map(MasterKey::id)
    }

    /// A fresh data key for a person, wrapped by the current master key. `None` in plaintext
    /// mode.
    pub(crate) fn new_data_key(
        &self,
        owner: impl Into<Owner>,
    ) -> Result<Option<(DataKey, String)>, VaultError> {
        let owner = owner.into();
        let Some(master) = &self.current else {
            return Ok(None);
        };
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let wrapped = wrap(master, &key_context(owner), &key)?;
        Ok(Some((DataKey(XChaCha20Poly1305::new(&key)), wrapped)))
    }

    /// Rewraps an opened data key with the current master key (for rotation).
    pub(crate) fn rewrap(
        &self,
        owner: impl Into<Owner>,
        wrapped: &str,
    ) -> Result<Option<String>, VaultError> {
        let owner = owner.into();
        let Some(master) = &self.current else {
            return Ok(None);
        };
        let (id, _) = wrapped.split_once(':').ok_or(VaultError::Damaged)?;
        if id == master.id {
            return Ok(None);
        }
        let bytes = self.unwrap_bytes(&key_context(owner), wrapped)?;
        wrap(master, &key_context(owner), &bytes).map(Some)
    }

    /// Opens a person's wrapped data key.
    pub(crate) fn open_data_key(
        &self,
        owner: impl Into<Owner>,
        wrapped: &str,
    ) -> Result<OpenedKey, VaultError> {
        let bytes = self.unwrap_bytes(&key_context(owner.into()), wrapped)?;
        let current = wrapped
            .split_once(':')
            .is_some_and(|(id, _)| Some(id) == self.key_id());
        Ok(OpenedKey {
            key: DataKey(XChaCha20Poly1305::new(Key::from_slice(&bytes))),
            current,
        })
    }

    /// Seals `plaintext` for `person`'s `field`.
    pub(crate) fn seal(
        &self,
        key: &DataKey,
        owner: impl Into<Owner>,
        field: &str,
        plaintext: &[u8],
    ) -> Result<String, VaultError> {
        let sealed = encrypt(&key.0, &field_context(owner.into(), field), plaintext)?;
        Ok(format!("{SEALED_PREFIX}{sealed}"))
    }

    /// Opens what `seal` sealed for the same person and field.
    pub fn open(
        &self,
        key: &DataKey,
        owner: impl Into<Owner>,
        field: &str,
        sealed: &str,
    ) -> Result<Vec<u8>, VaultError> {
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(VaultError::Damaged)?;
        let bytes = BASE64.decode(encoded).map_err(|_| VaultError::Damaged)?;
        if bytes.len() < NONCE_LENGTH {
            return Err(VaultError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LENGTH);
        let aad = field_context(owner.into(), field);
        key.0
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::WrongKey(self.key_id().unwrap_or("(data key)").to_owned()))
    }

    /// Whether a stored value is sealed (rather than plain JSON from plaintext mode).
    pub(crate) fn is_sealed(value: &str) -> bool {
        value.starts_with(SEALED_PREFIX)
    }

    /// The value a store keeps to recognise its master key later.
    pub(crate) fn check_value(&self) -> Result<Option<String>, VaultError> {
        match &self.current {
            Some(master) => wrap(master, CHECK_CONTEXT, CHECK_VALUE).map(Some),
            None => Ok(None),
        }
    }

    /// Checks a store's check value against the configured keys. `Ok(Some(new))` asks the
    /// caller to store `new` (written with the current key after a rotation).
    pub(crate) fn verify_check_value(&self, stored: &str) -> Result<Option<String>, VaultError> {
        if self.current.is_none() {
            return Err(VaultError::NoKey);
        }
        let opened = self.unwrap_bytes(CHECK_CONTEXT, stored)?;
        if opened != CHECK_VALUE {
            return Err(VaultError::Damaged);
        }
        let is_current = stored
            .split_once(':')
            .is_some_and(|(id, _)| Some(id) == self.key_id());
        if is_current {
            Ok(None)
        } else {
            self.check_value()
        }
    }

    fn unwrap_bytes(&self, context: &str, wrapped: &str) -> Result<Vec<u8>, VaultError> {
        let (id, encoded) = wrapped.split_once(':').ok_or(VaultError::Damaged)?;
        let master = self
            .current
            .iter()
            .chain(&self.previous)
            .find(|key| key.id == id)
            .ok_or_else(|| {
                if self.current.is_none() {
                    VaultError::NoKey
                } else {
                    VaultError::UnknownKey(id.to_owned())
                }
            })?;
        let bytes = BASE64.decode(encoded).map_err(|_| VaultError::Damaged)?;
        if bytes.len() < NONCE_LENGTH {
            return Err(VaultError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LENGTH);
        master
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| VaultError::WrongKey(id.to_owned()))
    }
}

const CHECK_CONTEXT: &str = "kintsugi:vault-check";

/// Whose data a key seals: a person's (by their id) or a linked pair's. The owner is part of
/// the associated data, so a key or a sealed value copied to another owner does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Person(i64),
    Pair(i64),
}

impl From<i64> for Owner {
    fn from(person: i64) -> Owner {
        Owner::Person(person)
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The form the first version wrote, so every stored key still opens.
            Owner::Person(person) => write!(f, "{person}"),
            Owner::Pair(pair) => write!(f, "pair:{pair}"),
        }
    }
}

fn key_context(owner: Owner) -> String {
    format!("kintsugi:{owner}:data-key")
}

fn field_context(owner: Owner, field: &str) -> String {
    format!("kintsugi:{owner}:{field}")
}

/// Where an invitation is kept: a digest of its token, so the store never holds a token
/// that would work.
pub fn invitation_id(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("kintsugi:invitation-id:{token}").as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Seals an invitation's contents under a key made from its token: only someone holding the
/// link can read whose invitation it is.
pub fn seal_invitation(token: &str, plaintext: &[u8]) -> Result<String, VaultError> {
    let sealed = encrypt(&invitation_cipher(token), INVITATION_CONTEXT, plaintext)?;
    Ok(format!("{SEALED_PREFIX}{sealed}"))
}

/// Opens what `seal_invitation` sealed with the same token.
pub fn open_invitation(token: &str, sealed: &str) -> Result<Vec<u8>, VaultError> {
    let encoded = sealed
        .strip_prefix(SEALED_PREFIX)
        .ok_or(VaultError::Damaged)?;
    let bytes = BASE64.decode(encoded).map_err(|_| VaultError::Damaged)?;
    if bytes.len() < NONCE_LENGTH {
        return Err(VaultError::Damaged);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LENGTH);
    invitation_cipher(token)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: INVITATION_CONTEXT.as_bytes(),
            },
        )
        .map_err(|_| VaultError::Damaged)
}

const INVITATION_CONTEXT: &str = "kintsugi:invitation";

fn invitation_cipher(token: &str) -> XChaCha20Poly1305 {
    use sha2::Digest;
    let key = sha2::Sha256::digest(format!("kintsugi:invitation-key:{token}").as_bytes());
    XChaCha20Poly1305::new(&key)
}

fn wrap(master: &MasterKey, context: &str, plaintext: &[u8]) -> Result<String, VaultError> {
    let sealed = encrypt(&master.cipher, context, plaintext)?;
    Ok(format!("{}:{sealed}", master.id))
}

/// Base64 of a random nonce followed by `plaintext` encrypted with `context` as associated
/// data.
fn encrypt(
    cipher: &XChaCha20Poly1305,
    context: &str,
    plaintext: &[u8],
) -> Result<String, VaultError> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| VaultError::Sealing)?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    Ok(BASE64.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(id: &str) -> Vault {
        Vault::new(
            MasterKey::parse(&MasterKey::generate(id)).unwrap(),
            Vec::new(),
        )
        .unwrap()
    }

    #[test]
    fn sealed_text_opens_for_the_same_person_and_field_only() {
        let vault = vault("k1");
        let (key, _) = vault.new_data_key(7).unwrap().unwrap();
        let sealed = vault.seal(&key, 7, "state", b"my secret words").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(
            vault.open(&key, 7, "state", &sealed).unwrap(),
            b"my secret words"
        );
        assert!(vault.open(&key, 8, "state", &sealed).is_err());
        assert!(vault.open(&key, 7, "other", &sealed).is_err());
    }

    #[test]
    fn two_seals_of_the_same_text_differ() {
        let vault = vault("k1");
        let (key, _) = vault.new_data_key(1).unwrap().unwrap();
        assert_ne!(
            vault.seal(&key, 1, "state", b"same").unwrap(),
            vault.seal(&key, 1, "state", b"same").unwrap()
        );
    }

    #[test]
    fn a_data_key_opens_only_for_its_person_and_with_its_master_key() {
        let vault_a = vault("k1");
        let (_, wrapped) = vault_a.new_data_key(5).unwrap().unwrap();
        assert!(wrapped.starts_with("k1:"));
        assert!(vault_a.open_data_key(5, &wrapped).unwrap().current);
        assert!(matches!(
            vault_a.open_data_key(6, &wrapped),
            Err(VaultError::WrongKey(id)) if id == "k1"
        ));
        let other = vault("k1");
        assert!(matches!(
            other.open_data_key(5, &wrapped),
            Err(VaultError::WrongKey(_))
        ));
        assert_eq!(
            vault("k2").open_data_key(5, &wrapped).unwrap_err(),
            VaultError::UnknownKey("k1".into())
        );
        assert_eq!(
            Vault::plaintext().open_data_key(5, &wrapped).unwrap_err(),
            VaultError::NoKey
        );
    }

    #[test]
    fn rotation_opens_old_keys_and_rewraps_them() {
        let old_text = MasterKey::generate("k1");
        let old = Vault::new(MasterKey::parse(&old_text).unwrap(), Vec::new()).unwrap();
        let (key, wrapped) = old.new_data_key(3).unwrap().unwrap();
        let sealed = old.seal(&key, 3, "state", b"kept").unwrap();
        let check = old.check_value().unwrap().unwrap();

        let rotated = Vault::new(
            MasterKey::parse(&MasterKey::generate("k2")).unwrap(),
            vec![MasterKey::parse(&old_text).unwrap()],
        )
        .unwrap();
        let opened = rotated.open_data_key(3, &wrapped).unwrap();
        assert!(!opened.current);
        assert_eq!(
            rotated.open(&opened.key, 3, "state", &sealed).unwrap(),
            b"kept"
        );
        let rewrapped = rotated.rewrap(3, &wrapped).unwrap().unwrap();
        assert!(rewrapped.starts_with("k2:"));
        assert!(rotated.open_data_key(3, &rewrapped).unwrap().current);
        let new_check = rotated.verify_check_value(&check).unwrap().unwrap();
        assert_eq!(rotated.verify_check_value(&new_check).unwrap(), None);
    }

    #[test]
    fn the_check_value_tells_a_wrong_key_apart() {
        let right = vault("k1");
        let check = right.check_value().unwrap().unwrap();
        assert_eq!(right.verify_check_value(&check).unwrap(), None);
        assert_eq!(
            vault("k1").verify_check_value(&check).unwrap_err(),
            VaultError::WrongKey("k1".into())
        );
        assert_eq!(
            Vault::plaintext().verify_check_value(&check).unwrap_err(),
            VaultError::NoKey
        );
    }

    #[test]
    fn master_keys_are_read_with_precise_errors() {
        assert_eq!(
            MasterKey::parse("no-colon").unwrap_err(),
            VaultError::MalformedMasterKey
        );
        assert_eq!(
            MasterKey::parse("k 1:AAAA").unwrap_err(),
            VaultError::BadKeyId("k 1".into())
        );
        assert_eq!(
            MasterKey::parse("k1:AAAA").unwrap_err(),
            VaultError::BadKeyLength {
                id: "k1".into(),
                length: 3
            }
        );
        assert_eq!(
            MasterKey::parse("k1:not base64!").unwrap_err(),
            VaultError::MalformedMasterKey
        );
        let key = MasterKey::generate("k1");
        assert_eq!(MasterKey::parse(&key).unwrap().id(), "k1");
        assert_eq!(
            Vault::new(
                MasterKey::parse(&key).unwrap(),
                vec![MasterKey::parse(&key).unwrap()]
            )
            .unwrap_err(),
            VaultError::DuplicateKeyId("k1".into())
        );
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let vault = vault("k1");
        let (key, _) = vault.new_data_key(1).unwrap().unwrap();
        for bad in ["", "xc1:", "xc1:@@@", "xc1:AAAA", "plain"] {
            assert!(vault.open(&key, 1, "state", bad).is_err(), "{bad}");
            assert!(vault.open_data_key(1, bad).is_err(), "{bad}");
        }
    }
}
