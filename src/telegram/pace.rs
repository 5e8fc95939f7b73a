//! When each outgoing message may leave, so that the bot stays within Telegram's send limits
//! without ever stalling a conversation: in a private chat about one message a second with a
//! short burst allowed (a step's few messages go out at once), and under 30 a second for the
//! whole bot. A 429 holds back only the chat it was about. Each limit is a GCRA schedule (a
//! "theoretical arrival time" per chat and one for the bot): a message first takes its chat's
//! turn, then, when that comes, the bot's, so nobody polls and a chat waiting far ahead never
//! holds the others back. The chat schedules are this process's (a person's updates are
//! handled one after another, so their replies rarely come from two replicas at once).
//!
//! The bot's schedule is this process's while it is the bot's only sender, and shared
//! through Redis while other replicas send too, so that several keep the bot's one limit
//! between them. Each sender counts the others through the store twice a second (see
//! [`Pacer::keep_company`]); one that joins others holds its first messages until they have
//! all counted it, and one that stops being alone hands its schedule's lead to the shared
//! one, so the two never run side by side. Turns of the shared schedule are reserved a few at
//! a time for the messages waiting, so a busy bot asks Redis far less than once a message,
//! and a bot alone never asks.
//!
//! However the turns fall, at most [`MOST_IN_FLIGHT`] messages are on their way at once, so
//! a slow Bot API never has the bot open a connection for every message waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::storage::Storage;

/// The most turns of the shared schedule reserved at once (only ever as many as there are
/// messages waiting in this process, or following the one that reserves). With 8, a busy bot
/// waited on Redis for the turns of every eighth message, all its sends behind that one
/// reservation: at saturation 1.20 Redis round trips an update and 39-44 % of the baseline's
/// updates a second, against 1.05 and 46-48 % with 32.
const MOST_RESERVED: usize = 32;
/// How many intervals after its moment a reserved turn may still be used (a step's next
/// message goes once the one before it is sent). At the bot's 25 a second, any one second
/// then holds at most 30 of its messages: Telegram's limit.
const LATE_TURNS: u32 = 4;

/// How often a sender counts the bot's senders, saying it is one of them (the value the bot
/// runs with; tests pass a shorter one). A sender not heard from for three of these is no
/// longer counted; a count saying a process is alone holds for one and a half; one that
/// finds others sending holds its messages for two, by when each of them has counted it
/// (or, unable to, stopped trusting a count that said it was alone).
pub const COUNT_EVERY: Duration = Duration::from_millis(500);

/// The limits the pacer keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendLimits {
    /// The steady rate into one chat.
    pub chat_interval: Duration,
    /// How many messages may go to one chat at once after a quiet moment.
    pub chat_burst: u32,
    /// The steady rate for the whole bot.
    pub bot_interval: Duration,
}

impl SendLimits {
    /// Within Telegram's guidance for private chats (about one a second, bursts tolerated)
    /// and its overall limit (30 a second), with room for the network's jitter.
    pub const TELEGRAM: SendLimits = SendLimits {
        chat_interval: Duration::from_secs(1),
        chat_burst: 4,
        bot_interval: Duration::from_millis(40),
    };

    /// The same limits `factor` times faster (the same burst): for load tests against a
    /// local fake, where every message then does the pacing's work without waiting on it.
    pub fn faster(self, factor: u32) -> SendLimits {
        let factor = factor.max(1);
        SendLimits {
            chat_interval: self.chat_interval / factor,
            chat_burst: self.chat_burst,
            bot_interval: self.bot_interval / factor,
        }
    }
}

/// The most messages this process has on their way to the Bot API at once. At Telegram's
/// pace (25 a second, each answered within tens of milliseconds) a handful are; without a
/// bound, a slow Bot API (or a load test's pacing scaled a thousand times faster) has the
/// bot open a connection, with its buffers, for every message ready. With 16, three replicas
/// at saturation against a local fake waited on the bound (p99 270-510 ms against 74).
pub const MOST_IN_FLIGHT: usize = 64;

/// Chats beyond this many make the pacer forget the ones whose schedule has caught up.
const SWEEP_AT: usize = 10_000;

/// The send schedule of every chat this process has written to recently, and of the bot.
#[derive(Debug)]
pub struct Pacer {
    /// `None`: no limits (only for load tests against a local fake).
    limits: Option<SendLimits>,
    schedule: Mutex<Schedule>,
    /// The bot's schedule shared with other processes, when the store allows.
    shared: Option<SharedTurns>,
    /// Room for the messages on their way (see [`MOST_IN_FLIGHT`]).
    in_flight: tokio::sync::Semaphore,
}

/// The bot's turns reserved on the schedule every process shares, not yet used.
struct SharedTurns {
    storage: Storage,
    reserved: tokio::sync::Mutex<Reserved>,
    /// Messages waiting to reserve, so one reservation can serve them all.
    waiting: AtomicUsize,
    /// Set once the store says it is not shared: the local schedule is used from then on.
    unshared: AtomicBool,
    /// Who this process is among the bot's senders (no person in it).
    sender: String,
    /// Whether others send too, as last counted.
    company: Mutex<Company>,
}

/// This process's turns on the shared schedule.
#[derive(Debug, Default)]
struct Reserved {
    /// Reserved and not yet handed out, earliest first.
    turns: VecDeque<Instant>,
    /// The last turn reserved, handed out or not.
    until: Option<Instant>,
}

/// Whether this process is the bot's only sender, as far as it knows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Company {
    /// Not counted (the count is not kept): the shared schedule, to be safe.
    Unknown,
    /// The store is not shared between processes: this process is the only sender.
    Never,
    /// Others were sending when this process was first counted: its messages wait until
    /// `until`, when each of them has counted it.
    Joining { until: Instant },
    /// As counted by a request sent at `asked`, counting every `every`.
    Counted {
        alone: bool,
        asked: Instant,
        every: Duration,
    },
}

/// Which schedule the bot's next turn comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sending {
    /// This process's own: it is the only sender.
    Alone,
    /// The one shared through the store.
    Shared,
    /// The shared one, from this moment on.
    SharedFrom(Instant),
}

impl Company {
    fn sending(self, now: Instant) -> Sending {
        match self {
            Company::Never => Sending::Alone,
            Company::Counted {
                alone: true,
                asked,
                every,
            } if now < asked + every * 3 / 2 => Sending::Alone,
            Company::Joining { until } if now < until => Sending::SharedFrom(until),
            _ => Sending::Shared,
        }
    }

    /// What a count of `senders` (this one included), asked at `asked` and answered at
    /// `now`, makes of this one.
    fn counted(self, senders: u32, asked: Instant, now: Instant, every: Duration) -> Company {
        match self {
            _ if senders <= 1 => Company::Counted {
                alone: true,
                asked,
                every,
            },
            Company::Unknown => Company::Joining {
                until: now + every * 2,
            },
            Company::Joining { until } if now < until => self,
            _ => Company::Counted {
                alone: false,
                asked,
                every,
            },
        }
    }

    fn was_alone(self) -> bool {
        matches!(self, Company::Counted { alone: true, .. } | Company::Never)
    }
}

#[derive(Debug, Default)]
struct Schedule {
    /// When each chat's next message would be due at the steady rate.
    chats: HashMap<i64, Instant>,
    /// When the bot's next message would be due at the steady rate.
    bot: Option<Instant>,
}

impl Pacer {
    pub fn new(limits: Option<SendLimits>) -> Pacer {
        Pacer {
            limits,
            schedule: Mutex::new(Schedule::default()),
            shared: None,
            in_flight: tokio::sync::Semaphore::new(MOST_IN_FLIGHT),
        }
    }

    /// Waits for room among the messages on their way; the room is held as long as what this
    /// returns (`None` never happens: the room is never closed).
    pub async fn room_to_send(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.in_flight.acquire().await.ok()
    }

    /// The same pacer keeping the bot's rate on a schedule shared through `storage` (when
    /// it is shared between processes; otherwise in this process, as before).
    pub fn sharing(mut self, storage: Storage) -> Pacer {
        self.shared = Some(SharedTurns {
            storage,
            reserved: tokio::sync::Mutex::new(Reserved::default()),
            waiting: AtomicUsize::new(0),
            unshared: AtomicBool::new(false),
            sender: process_tag(),
            company: Mutex::new(Company::Unknown),
        });
        self
    }

    /// Counts the bot's senders every `every`, saying this process is one of them, until the
    /// task is dropped (after [`Pacer::count_company`] has counted once). Returns at once when
    /// there is nothing to count: no limits, or a store only this process uses.
    pub async fn keep_company(self: std::sync::Arc<Self>, every: Duration) {
        loop {
            match self.shared.as_ref().map(|shared| shared.company()) {
                None | Some(Company::Never) => return,
                Some(_) if self.limits.is_none() => return,
                Some(_) => {}
            }
            tokio::time::sleep(every).await;
            self.count_company(every).await;
        }
    }

    /// Counts the bot's senders once, saying this process is one of them (for
    /// `every`×3), and decides from it whether the bot's schedule is this process's own.
    /// While it was, its lead (how far ahead its schedule runs) is handed to the shared
    /// schedule with the count; when the count finds others, once more, so that no turn it
    /// gave out is missing there.
    pub async fn count_company(&self, every: Duration) {
        let (Some(limits), Some(shared)) = (self.limits, &self.shared) else {
            return;
        };
        let asked = Instant::now();
        let before = shared.company();
        let lead = if before.was_alone() {
            self.lead(asked)
        } else {
            Duration::ZERO
        };
        let counted = shared
            .storage
            .count_senders("bot", &shared.sender, every * 3, lead)
            .await;
        let now = Instant::now();
        let after = match counted {
            Ok(None) => Company::Never,
            Ok(Some(senders)) => before.counted(senders, asked, now, every),
            Err(error) => {
                // The count ages out by itself: the shared schedule from then on.
                log::debug!("event=senders_not_counted error={error}");
                return;
            }
        };
        *lock(&shared.company) = after;
        let (was, is) = (before.was_alone(), after.sending(now) == Sending::Alone);
        if was && !is {
            log::info!("event=bot_schedule_shared");
            let lead = self.lead(Instant::now());
            if let Err(error) = shared
                .storage
                .count_senders("bot", &shared.sender, every * 3, lead)
                .await
            {
                log::debug!("event=senders_not_counted error={error}");
            }
        } else if is && !was && after != Company::Never {
            log::info!("event=bot_schedule_own");
            // This process's own schedule starts after the last turn it reserved.
            let last = {
                let mut reserved = shared.reserved.lock().await;
                reserved.turns.clear();
                reserved.until.take()
            };
            if let Some(last) = last {
                let mut schedule = self.lock();
                let next = last + limits.bot_interval;
                schedule.bot = Some(schedule.bot.map_or(next, |due| due.max(next)));
            }
        }
    }

    /// How far ahead of `now` this process's own schedule for the bot runs.
    fn lead(&self, now: Instant) -> Duration {
        self.lock()
            .bot
            .map_or(Duration::ZERO, |due| due.saturating_duration_since(now))
    }

    /// The bot's next turn for a message whose chat turn has come: on the shared schedule
    /// when there is one (falling back to this process's schedule if the store cannot be
    /// reached), else as [`Pacer::bot_turn`].
    /// `ahead` messages are about to follow this one (the rest of a step's): when turns are
    /// reserved, theirs are reserved too.
    pub async fn take_bot_turn(&self, ahead: usize) -> Instant {
        let Some(limits) = self.limits else {
            return Instant::now();
        };
        if let Some(shared) = &self.shared
            && !shared.unshared.load(Ordering::Relaxed)
        {
            let sending = shared.company().sending(Instant::now());
            if let Sending::SharedFrom(moment) = sending {
                tokio::time::sleep_until(moment.into()).await;
            }
            if sending != Sending::Alone
                && let Some(turn) = shared.take(limits.bot_interval, ahead).await
            {
                return turn;
            }
        }
        self.bot_turn(Instant::now())
    }

    /// Reserves the earliest moment from `now` at which the next message may go to `chat`,
    /// as far as that chat's own pace goes, and returns it. Reservations are kept in the order
    /// made; after waiting, the sender takes a [`Pacer::bot_turn`] as well.
    pub fn chat_turn(&self, chat: i64, now: Instant) -> Instant {
        let Some(limits) = self.limits else {
            return now;
        };
        let tolerance = limits.chat_interval * limits.chat_burst.saturating_sub(1);
        let mut schedule = self.lock();
        if schedule.chats.len() > SWEEP_AT {
            schedule.chats.retain(|_, due| *due > now);
        }
        let due = schedule.chats.get(&chat).copied().unwrap_or(now);
        let at = now.max(due.checked_sub(tolerance).unwrap_or(now));
        schedule
            .chats
            .insert(chat, due.max(at) + limits.chat_interval);
        at
    }

    /// Reserves the earliest moment from `now` at which the bot may send its next message to
    /// anyone. Taken only once a message's chat turn has come, so a chat waiting far ahead
    /// (after a 429) never holds the others back.
    pub fn bot_turn(&self, now: Instant) -> Instant {
        let Some(limits) = self.limits else {
            return now;
        };
        let mut schedule = self.lock();
        let at = now.max(schedule.bot.unwrap_or(now));
        schedule.bot = Some(at + limits.bot_interval);
        at
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Schedule> {
        lock(&self.schedule)
    }

    /// Telegram said `chat` must wait `retry_after` from `now`: nothing more goes to it
    /// before then (other chats are not held back).
    pub fn hold(&self, chat: i64, now: Instant, retry_after: Duration) {
        let Some(limits) = self.limits else {
            return;
        };
        let chat_tolerance = limits.chat_interval * limits.chat_burst.saturating_sub(1);
        let mut schedule = self.lock();
        let resume = now + retry_after + chat_tolerance;
        let due = schedule.chats.entry(chat).or_insert(resume);
        *due = (*due).max(resume);
    }
}

impl std::fmt::Debug for SharedTurns {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SharedTurns")
            .field("storage", &self.storage.kind())
            .finish_non_exhaustive()
    }
}

/// A name for this process among the bot's processes (for the poller lease and the senders'
/// count): its id and a random part, so a restarted process is never taken for the old one.
pub(crate) fn process_tag() -> String {
    format!("{}-{:016x}", std::process::id(), fastrand::u64(..))
}

/// A poisoned lock only means another task panicked mid-update; what it holds is usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SharedTurns {
    fn company(&self) -> Company {
        *lock(&self.company)
    }

    /// A reserved turn, reserving more (for the messages now waiting, and the `ahead` that
    /// follow this one, too) when none is left; `None` when the schedule is not shared or
    /// cannot be reached.
    async fn take(&self, interval: Duration, ahead: usize) -> Option<Instant> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut reserved = self.reserved.lock().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let now = Instant::now();
        // A turn left unused well past its moment is gone: the others have moved on.
        while reserved
            .turns
            .front()
            .is_some_and(|turn| *turn + interval * LATE_TURNS < now)
        {
            reserved.turns.pop_front();
        }
        if let Some(turn) = reserved.turns.pop_front() {
            return Some(turn);
        }
        let count = (1 + ahead + self.waiting.load(Ordering::SeqCst)).min(MOST_RESERVED);
        // Few, so the cast cannot truncate.
        match self
            .storage
            .reserve_turns("bot", count as u32, interval)
            .await
        {
            Ok(Some(wait)) => {
                metrics::counter!(crate::ops::names::SHARED_TURNS, "what" => "reservations")
                    .increment(1);
                metrics::counter!(crate::ops::names::SHARED_TURNS, "what" => "turns")
                    .increment(count as u64);
                let first = Instant::now() + wait;
                reserved
                    .turns
                    .extend((1..count as u32).map(|index| first + interval * index));
                reserved.until = Some(first + interval * (count as u32 - 1));
                Some(first)
            }
            Ok(None) => {
                self.unshared.store(true, Ordering::Relaxed);
                None
            }
            Err(error) => {
                log::debug!("event=shared_send_rate_unavailable error={error}");
                metrics::counter!(crate::ops::names::STORAGE_ERRORS).increment(1);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn no_more_than_the_most_in_flight_are_on_their_way_at_once() {
        let pacer = Pacer::new(Some(LIMITS));
        let on_their_way: Vec<_> = (0..MOST_IN_FLIGHT)
            .map(|_| pacer.room_to_send().now_or_never().flatten())
            .collect();
        assert!(on_their_way.iter().all(Option::is_some));
        assert!(
            pacer.room_to_send().now_or_never().is_none(),
            "one more message waits"
        );
        drop(on_their_way);
        assert!(pacer.room_to_send().now_or_never().flatten().is_some());
    }

    const LIMITS: SendLimits = SendLimits {
        chat_interval: Duration::from_secs(1),
        chat_burst: 3,
        bot_interval: Duration::from_millis(100),
    };

    /// Each message's chat turn, in milliseconds from `start`.
    fn chat_turns(
        pacer: &Pacer,
        chat: i64,
        start: Instant,
        at: Instant,
        count: usize,
    ) -> Vec<u128> {
        (0..count)
            .map(|_| (pacer.chat_turn(chat, at) - start).as_millis())
            .collect()
    }

    #[test]
    fn a_burst_goes_out_at_once_then_one_a_second() {
        let pacer = Pacer::new(Some(LIMITS));
        let start = Instant::now();
        assert_eq!(
            chat_turns(&pacer, 1, start, start, 5),
            [0, 0, 0, 1000, 2000]
        );
    }

    #[test]
    fn a_quiet_chat_gets_its_whole_burst_back() {
        let pacer = Pacer::new(Some(LIMITS));
        let start = Instant::now();
        chat_turns(&pacer, 1, start, start, 5);
        // The fifth was due at 2 s; by 5 s the chat has been quiet long enough for a burst.
        let later = start + Duration::from_secs(5);
        assert_eq!(
            chat_turns(&pacer, 1, start, later, 4),
            [5000, 5000, 5000, 6000]
        );
    }

    #[test]
    fn one_busy_chat_does_not_hold_back_another() {
        let pacer = Pacer::new(Some(LIMITS));
        let start = Instant::now();
        chat_turns(&pacer, 1, start, start, 5);
        assert_eq!(chat_turns(&pacer, 2, start, start, 1), [0]);
    }

    #[test]
    fn the_bot_turns_keep_the_bot_rate_across_chats() {
        let pacer = Pacer::new(Some(LIMITS));
        let start = Instant::now();
        let slots: Vec<u128> = (0..20)
            .map(|_| (pacer.bot_turn(start) - start).as_millis())
            .collect();
        assert_eq!(slots, (0..20).map(|n| n * 100).collect::<Vec<u128>>());
        // After a quiet moment the bot's turn is at once again.
        let later = start + Duration::from_secs(10);
        assert_eq!(pacer.bot_turn(later), later);
    }

    #[test]
    fn a_hold_delays_only_that_chat() {
        let pacer = Pacer::new(Some(LIMITS));
        let start = Instant::now();
        pacer.hold(1, start, Duration::from_secs(7));
        assert_eq!(chat_turns(&pacer, 1, start, start, 1), [7000]);
        assert_eq!(chat_turns(&pacer, 2, start, start, 1), [0]);
        assert_eq!(pacer.bot_turn(start), start);
    }

    #[test]
    fn a_process_counted_alone_keeps_its_own_schedule_until_the_count_is_old() {
        let (every, start) = (Duration::from_millis(500), Instant::now());
        let company = Company::Unknown.counted(1, start, start, every);
        assert_eq!(company.sending(start), Sending::Alone);
        assert_eq!(
            company.sending(start + Duration::from_millis(749)),
            Sending::Alone
        );
        assert_eq!(
            company.sending(start + Duration::from_millis(750)),
            Sending::Shared
        );
        // A later count finding another sender: shared at once.
        let later = start + every;
        assert_eq!(
            company.counted(2, later, later, every).sending(later),
            Sending::Shared
        );
    }

    #[test]
    fn a_process_joining_others_holds_its_turns_until_they_have_counted_it() {
        let (every, start) = (Duration::from_millis(500), Instant::now());
        let answered = start + Duration::from_millis(3);
        let joining = Company::Unknown.counted(3, start, answered, every);
        let until = answered + every * 2;
        assert_eq!(joining.sending(answered), Sending::SharedFrom(until));
        // Counted again before then: still holding; after: shared.
        let again = answered + every;
        assert_eq!(joining.counted(3, again, again, every), joining);
        let after = until + Duration::from_millis(1);
        assert_eq!(joining.sending(after), Sending::Shared);
        assert_eq!(
            joining.counted(3, after, after, every).sending(after),
            Sending::Shared
        );
        // The others gone: alone.
        assert_eq!(
            joining.counted(1, again, again, every).sending(again),
            Sending::Alone
        );
        // Never counted (the count is not kept): shared; a store no one shares: alone.
        assert_eq!(Company::Unknown.sending(start), Sending::Shared);
        assert_eq!(Company::Never.sending(start), Sending::Alone);
    }

    #[test]
    fn without_limits_everything_goes_now() {
        let pacer = Pacer::new(None);
        let start = Instant::now();
        assert_eq!(chat_turns(&pacer, 1, start, start, 10), [0; 10]);
        assert_eq!(pacer.bot_turn(start), start);
    }
}
