//! Flood control: each person gets a bucket of messages that refills at a steady rate. A burst
//! within the bucket is served in order; past it, the person gets one gentle note and further
//! messages are dropped until the bucket refills. [`FloodGate`] keeps the buckets in this
//! process (for the embedded store, which has one process); Redis keeps them beside each
//! person's state, shared by every replica, and answers with the same [`Verdict`]. Pure apart
//! from a std mutex: the time is always passed in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many messages a chat may send at once, and how fast that allowance comes back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodLimit {
    pub burst: u32,
    pub per_minute: u32,
}

impl Default for FloodLimit {
    fn default() -> FloodLimit {
        FloodLimit {
            burst: 12,
            per_minute: 30,
        }
    }
}

/// What to do with one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Serve,
    /// Too fast: say the flood note once, and do not handle the message.
    NoteAndDrop,
    /// Still too fast after the note: drop it silently.
    Drop,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
    noted: bool,
}

/// Buckets beyond this many make the gate forget the chats that have calmed down.
const SWEEP_AT: usize = 10_000;

/// The buckets of every chat this instance has heard from recently.
#[derive(Debug)]
pub struct FloodGate {
    limit: FloodLimit,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

impl FloodGate {
    pub fn new(limit: FloodLimit) -> FloodGate {
        FloodGate {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limit this gate keeps.
    pub fn limit(&self) -> FloodLimit {
        self.limit
    }

    /// Takes one message from `chat` at `now`.
    pub fn check(&self, chat: i64, now: Instant) -> Verdict {
        let capacity = f64::from(self.limit.burst.max(1));
        let per_second = f64::from(self.limit.per_minute) / 60.0;
        // A poisoned lock only means another handler panicked mid-update of a counter; the
        // counters are still usable.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > SWEEP_AT {
            buckets.retain(|_, bucket| {
                refill(bucket, now, per_second, capacity);
                bucket.tokens < capacity
            });
        }
        let bucket = buckets.entry(chat).or_insert(Bucket {
            tokens: capacity,
            updated: now,
            noted: false,
        });
        refill(bucket, now, per_second, capacity);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.noted = false;
            Verdict::Serve
        } else if bucket.noted {
            Verdict::Drop
        } else {
            bucket.noted = true;
            Verdict::NoteAndDrop
        }
    }
}

fn refill(bucket: &mut Bucket, now: Instant, per_second: f64, capacity: f64) {
    let elapsed = now
        .checked_duration_since(bucket.updated)
        .unwrap_or(Duration::ZERO);
    bucket.tokens = (bucket.tokens + elapsed.as_secs_f64() * per_second).min(capacity);
    bucket.updated = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: FloodLimit = FloodLimit {
        burst: 3,
        per_minute: 60,
    };

    #[test]
    fn a_burst_within_the_limit_is_served() {
        let gate = FloodGate::new(LIMIT);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(gate.check(1, now), Verdict::Serve);
        }
    }

    #[test]
    fn past_the_limit_one_note_then_silence_until_it_calms_down() {
        let gate = FloodGate::new(LIMIT);
        let now = Instant::now();
        for _ in 0..3 {
            gate.check(1, now);
        }
        assert_eq!(gate.check(1, now), Verdict::NoteAndDrop);
        assert_eq!(gate.check(1, now), Verdict::Drop);
        assert_eq!(
            gate.check(1, now + Duration::from_millis(500)),
            Verdict::Drop
        );
        // One message a second comes back.
        assert_eq!(
            gate.check(1, now + Duration::from_millis(1100)),
            Verdict::Serve
        );
        assert_eq!(
            gate.check(1, now + Duration::from_millis(1100)),
            Verdict::NoteAndDrop
        );
    }

    #[test]
    fn chats_do_not_share_a_bucket() {
        let gate = FloodGate::new(LIMIT);
        let now = Instant::now();
        for _ in 0..4 {
            gate.check(1, now);
        }
        assert_eq!(gate.check(2, now), Verdict::Serve);
    }

    #[test]
    fn calm_chats_are_forgotten_when_many_have_written() {
        let gate = FloodGate::new(LIMIT);
        let now = Instant::now();
        for chat in 0..=SWEEP_AT as i64 {
            gate.check(chat, now);
        }
        gate.check(-1, now + Duration::from_secs(10));
        let kept = gate.buckets.lock().expect("the lock").len();
        assert!(kept <= 2, "{kept} buckets kept");
    }
}
