//! The states this process wrote last, remembered for a short while, so that a person's next
//! message skips reading their state: the write that follows checks, in the same round trip,
//! that nothing was written since (the version, and the start of the sealed text, which is
//! unique to each write, so a person forgotten and started again elsewhere never passes for
//! the remembered one). Only for a long poller, the one process handling the bot's updates.
//! States are remembered sealed, as written (one string each, opened again when recalled),
//! and bounded in count and in idle time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Applied, PersonId, StoredKey};

/// How many people's states are remembered at most; past it, an arbitrary one is forgotten.
pub(crate) const REMEMBERED_PEOPLE: usize = 2048;
/// How many bytes of sealed states are remembered at most (states grow with answers), so the
/// memory it takes is bounded whatever people write.
pub(crate) const REMEMBERED_BYTES: usize = 8 << 20;
/// How long a state is remembered after its last write.
pub(crate) const REMEMBERED_FOR: Duration = Duration::from_secs(300);
/// How much of a sealed state marks its write: the prefix and a 24-byte random nonce.
const MARK_LENGTH: usize = 40;

/// A state remembered from this process's last write of it, sealed as written.
#[derive(Debug)]
pub(super) struct Kept {
    pub sealed: String,
    pub version: u64,
    pub applied: Applied,
    pub key: StoredKey,
}

#[derive(Debug)]
pub(crate) struct Remembered {
    entries: Mutex<Entries>,
    capacity: usize,
    budget: usize,
    lifetime: Duration,
}

#[derive(Debug, Default)]
struct Entries {
    by_person: HashMap<PersonId, (Kept, Instant)>,
    /// The bytes of the sealed states held.
    bytes: usize,
    /// When states past their lifetime were last dropped.
    swept: Option<Instant>,
}

impl Entries {
    fn remove(&mut self, person: PersonId) -> Option<(Kept, Instant)> {
        let removed = self.by_person.remove(&person)?;
        self.bytes -= removed.0.sealed.len();
        Some(removed)
    }
}

impl Remembered {
    /// At most `capacity` states and `budget` bytes of them, each for `lifetime` after its
    /// write.
    pub(crate) fn new(capacity: usize, budget: usize, lifetime: Duration) -> Remembered {
        Remembered {
            entries: Mutex::new(Entries::default()),
            capacity,
            budget,
            lifetime,
        }
    }

    /// Takes what is remembered of `person`, if it is recent enough: the caller writes over
    /// it, and the write remembers the new state.
    pub(super) fn recall(&self, person: PersonId, now: Instant) -> Option<Kept> {
        let (recalled, at) = self.lock().remove(person)?;
        (now.saturating_duration_since(at) <= self.lifetime).then_some(recalled)
    }

    /// Remembers `kept`, just written; a state not sealed (the plaintext mode) has no mark
    /// and is not remembered.
    pub(super) fn keep(&self, person: PersonId, kept: Kept, now: Instant) {
        if mark_of(&kept.sealed).is_none() {
            self.forget(person);
            return;
        }
        let lifetime = self.lifetime;
        let mut entries = self.lock();
        // Now and then, what is past its lifetime goes, so no state outstays it for long.
        let due = entries
            .swept
            .is_none_or(|swept| now.saturating_duration_since(swept) > lifetime / 8);
        if due {
            entries
                .by_person
                .retain(|_, (_, at)| now.saturating_duration_since(*at) <= lifetime);
            entries.bytes = entries
                .by_person
                .values()
                .map(|(kept, _)| kept.sealed.len())
                .sum();
            entries.swept = Some(now);
        }
        entries.remove(person);
        let size = kept.sealed.len();
        if size > self.budget {
            return;
        }
        while entries.by_person.len() >= self.capacity || entries.bytes + size > self.budget {
            let Some(other) = entries.by_person.keys().next().copied() else {
                break;
            };
            entries.remove(other);
        }
        entries.bytes += size;
        entries.by_person.insert(person, (kept, now));
    }

    pub(super) fn forget(&self, person: PersonId) {
        self.lock().remove(person);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The start of a sealed text that tells its write apart from every other.
pub(super) fn mark_of(sealed: &str) -> Option<&str> {
    (crate::vault::Vault::is_sealed(sealed) && sealed.len() > MARK_LENGTH && sealed.is_ascii())
        .then(|| &sealed[..MARK_LENGTH])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::{MasterKey, Owner, Vault};

    fn kept(tag: char) -> Kept {
        let vault = Vault::new(
            MasterKey::parse(&MasterKey::generate("k1")).expect("a key"),
            Vec::new(),
        )
        .expect("a vault");
        let (key, wrapped) = vault
            .new_data_key(Owner::Person(1))
            .expect("a key")
            .expect("encrypting");
        Kept {
            sealed: format!("xc1:{}", tag.to_string().repeat(60)),
            version: 1,
            applied: Applied::default(),
            key: StoredKey {
                key,
                wrapped,
                current: true,
            },
        }
    }

    #[test]
    fn a_state_is_recalled_once_while_fresh_and_never_when_stale() {
        let remembered = Remembered::new(4, 1 << 20, Duration::from_secs(10));
        let start = Instant::now();
        remembered.keep(PersonId(1), kept('a'), start);
        let recalled = remembered.recall(PersonId(1), start + Duration::from_secs(5));
        assert_eq!(recalled.map(|kept| kept.sealed), Some(kept('a').sealed));
        assert!(remembered.recall(PersonId(1), start).is_none(), "taken");
        remembered.keep(PersonId(2), kept('b'), start);
        assert!(
            remembered
                .recall(PersonId(2), start + Duration::from_secs(11))
                .is_none()
        );
    }

    #[test]
    fn plain_text_is_not_remembered_and_the_count_is_bounded() {
        let remembered = Remembered::new(2, 1 << 20, Duration::from_secs(10));
        let now = Instant::now();
        let plain = Kept {
            sealed: "{\"plain\":true}".to_owned(),
            ..kept('p')
        };
        remembered.keep(PersonId(1), plain, now);
        assert!(remembered.recall(PersonId(1), now).is_none());
        for id in 0..5 {
            remembered.keep(PersonId(id), kept('c'), now);
        }
        assert_eq!(remembered.lock().by_person.len(), 2);
        assert!(remembered.recall(PersonId(4), now).is_some(), "the newest");
    }

    #[test]
    fn the_bytes_remembered_stay_within_the_budget() {
        let one = kept('a').sealed.len();
        let remembered = Remembered::new(100, 3 * one, Duration::from_secs(10));
        let now = Instant::now();
        for id in 0..10 {
            remembered.keep(PersonId(id), kept('a'), now);
            let entries = remembered.lock();
            assert!(entries.bytes <= 3 * one);
            assert_eq!(entries.bytes, entries.by_person.len() * one);
        }
        assert_eq!(remembered.lock().by_person.len(), 3);
        remembered.forget(PersonId(9));
        assert_eq!(remembered.lock().bytes, 2 * one);
        // A state larger than the whole budget is not remembered at all.
        let huge = Kept {
            sealed: format!("xc1:{}", "b".repeat(4 * one)),
            ..kept('b')
        };
        remembered.keep(PersonId(50), huge, now);
        assert!(remembered.recall(PersonId(50), now).is_none());
    }
}
