//! The reminder scheduler, a ring of its own: every tick it claims the reminders that are due
//! from the store's [`ReminderQueue`](crate::storage::ReminderQueue), sends each at most once,
//! and schedules the next occurrence (the arithmetic is [`crate::calendar`]'s). Several
//! workers (one per bot instance) can share one store: a claim leases a reminder to one
//! worker, and each occurrence is marked right before it is sent, so a crash can lose at most
//! the one being sent at that moment and never repeats one. The clock is passed in; the
//! sending is behind [`Deliver`], so the Telegram ring (or a test) provides it, and this module
//! never touches the Bot API.

use crate::ops::names;
use std::future::Future;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::calendar::{Catchup, catch_up};
use crate::config::ReminderConfig;
use crate::storage::{DueReminder, PersonId, Storage, StorageError};

/// Whether a reminder reached the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Yes,
    /// The person blocked the bot: their reminders stop.
    Blocked,
}

/// Sending failed. `maybe_sent` is false only when the request certainly never reached
/// Telegram: then the occurrence is tried again; otherwise it counts as sent (at most once).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DeliverError {
    pub maybe_sent: bool,
    pub reason: String,
}

/// Sends one reminder to a person.
pub trait Deliver {
    fn deliver(
        &self,
        person: PersonId,
        occurrence: i64,
    ) -> impl Future<Output = Result<Delivered, DeliverError>> + Send;
}

/// How the worker claims and sends.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// The most reminders claimed at once.
    pub batch: usize,
    /// How long a claimed reminder stays with this worker before another may take it.
    pub lease: Duration,
    /// A reminder found later than this after it was due (after downtime) is skipped.
    pub grace: Duration,
    /// The shortest time between two sends, keeping to a global rate; none when unset.
    pub min_interval: Option<std::time::Duration>,
}

impl Default for WorkerSettings {
    fn default() -> WorkerSettings {
        WorkerSettings {
            batch: 500,
            lease: Duration::minutes(5),
            grace: Duration::hours(2),
            min_interval: None,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub sent: usize,
    /// Found already marked as sent (by another worker, or before a crash): not sent again.
    pub already_sent: usize,
    /// Too old after downtime: skipped to the next occurrence.
    pub skipped: usize,
    /// The person no longer wants reminders, or blocked the bot: removed.
    pub stopped: usize,
    /// Not sent because a safety episode is open: skipped to the next occurrence.
    pub paused: usize,
    /// Claimed but handed back unsent because the worker is stopping: due again at once, for
    /// another worker.
    pub released: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("sending a reminder failed: {0}")]
    Deliver(#[from] DeliverError),
}

/// Claims the reminders due at `now` and sends them.
pub async fn run_pass<D: Deliver>(
    storage: &Storage,
    deliver: &D,
    settings: WorkerSettings,
    now: DateTime<Utc>,
) -> Result<Pass, WorkerError> {
    run_pass_until(storage, deliver, settings, now, &|| false).await
}

/// Like [`run_pass`], handing back every claimed reminder not yet handled once `stopping`
/// says so, instead of keeping it leased until its lease ends.
pub async fn run_pass_until<D: Deliver>(
    storage: &Storage,
    deliver: &D,
    settings: WorkerSettings,
    now: DateTime<Utc>,
    stopping: &(dyn Fn() -> bool + Sync),
) -> Result<Pass, WorkerError> {
    let mut pass = Pass::default();
    let claimed = storage
        .reminders()
        .claim_due(
            now.timestamp(),
            settings.batch,
            settings.lease.num_seconds().max(1),
        )
        .await?;
    pass.claimed = claimed.len();
    metrics::counter!(names::REMINDERS_CLAIMED).increment(claimed.len() as u64);
    let mut last_send: Option<tokio::time::Instant> = None;
    for due in claimed {
        if stopping() {
            storage
                .reminders()
                .schedule(due.person, due.occurrence)
                .await?;
            pass.released += 1;
            continue;
        }
        let sent_before = pass.sent;
        if let (Some(gap), Some(last)) = (settings.min_interval, last_send) {
            tokio::time::sleep_until(last + gap).await;
        }
        handle(storage, deliver, settings, now, due, &mut pass).await?;
        if pass.sent > sent_before {
            last_send = Some(tokio::time::Instant::now());
        }
    }
    Ok(pass)
}

async fn handle<D: Deliver>(
    storage: &Storage,
    deliver: &D,
    settings: WorkerSettings,
    now: DateTime<Utc>,
    due: DueReminder,
    pass: &mut Pass,
) -> Result<(), WorkerError> {
    let stored = storage.read(due.person, now.timestamp()).await?;
    let reachable = storage.is_reachable(due.person, now.timestamp()).await?;
    let Some(schedule) = stored.state.checkin.filter(|_| reachable) else {
        storage.reminders().cancel(due.person).await?;
        pass.stopped += 1;
        metrics::counter!(names::REMINDERS_SKIPPED, "reason" => "stopped").increment(1);
        return Ok(());
    };
    let occurrence = Utc.timestamp_opt(due.occurrence, 0).single().unwrap_or(now);
    match catch_up(occurrence, now, settings.grace) {
        Catchup::Skip => {
            pass.skipped += 1;
            metrics::counter!(names::REMINDERS_SKIPPED, "reason" => "stale").increment(1);
        }
        // Nothing about check-ins while someone may be in crisis.
        Catchup::Send if stored.state.safety.is_some() => {
            pass.paused += 1;
            metrics::counter!(names::REMINDERS_SKIPPED, "reason" => "paused").increment(1);
        }
        Catchup::Send if !storage.reminders().mark_sending(due).await? => {
            pass.already_sent += 1;
            metrics::counter!(names::REMINDERS_SKIPPED, "reason" => "already_sent").increment(1);
        }
        Catchup::Send => match deliver.deliver(due.person, due.occurrence).await {
            Ok(Delivered::Yes) => {
                pass.sent += 1;
                metrics::counter!(names::REMINDERS_SENT).increment(1);
                let lag = (now.timestamp() - due.occurrence).max(0) as f64;
                metrics::histogram!(names::SCHEDULER_LAG_SECONDS).record(lag);
            }
            Err(error) => {
                if !error.maybe_sent {
                    storage.reminders().unmark_sending(due).await?;
                }
                // The rest of the batch stays leased and comes back after the lease.
                return Err(error.into());
            }
            Ok(Delivered::Blocked) => {
                storage
                    .set_reachable(due.person, false, now.timestamp())
                    .await?;
                storage.reminders().cancel(due.person).await?;
                pass.stopped += 1;
                return Ok(());
            }
        },
    }
    // The next one falls after now and after this occurrence's day, whatever happened to it.
    let next = schedule.next_due(now.max(occurrence), Some(schedule.local_date(occurrence)));
    storage
        .reminders()
        .schedule(due.person, next.timestamp())
        .await?;
    Ok(())
}

/// How many outboxes one tick carries out at most.
const OUTBOXES_PER_TICK: usize = 100;

/// Carries out the effects left in people's outboxes by a process that stopped between saving
/// a state and carrying them out (or met a storage error then). Returns how many were drained.
pub async fn drain_outboxes(storage: &Storage, now: i64) -> Result<usize, StorageError> {
    let mut drained = 0;
    for person in storage.reminders().outboxes(OUTBOXES_PER_TICK).await? {
        if crate::conversation::drain_outbox(storage, person, now).await? {
            drained += 1;
        }
    }
    if drained > 0 {
        log::info!("event=outboxes_drained people={drained}");
    }
    Ok(drained)
}

/// Looks for due reminders every `config.tick` and sends them through `deliver`, a claimed
/// batch at a time, until the task is dropped. `clock` gives the time in seconds since the
/// epoch.
pub async fn run(
    storage: Storage,
    deliver: impl Deliver,
    config: ReminderConfig,
    clock: fn() -> i64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let stopping_flag = stop.clone();
    let stopping = move || *stopping_flag.borrow();
    // A batch is what the worker sends in about two seconds, so replicas share a burst of
    // due reminders, and one that dies holds few of them, for no longer than a minute.
    let settings = WorkerSettings {
        batch: (config.per_second.max(1) as usize * 2).max(10),
        lease: Duration::minutes(1),
        grace: Duration::from_std(config.grace).unwrap_or(Duration::hours(2)),
        min_interval: Some(std::time::Duration::from_secs(1) / config.per_second.max(1)),
    };
    let mut ticks = tokio::time::interval(config.tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => {}
        }
        if stopping() {
            log::info!("event=reminders_stopped");
            return;
        }
        if let Err(error) = drain_outboxes(&storage, clock()).await {
            log::warn!("event=outboxes_not_drained error={error}");
        }
        loop {
            let now = DateTime::from_timestamp(clock(), 0).unwrap_or_default();
            match run_pass_until(&storage, &deliver, settings, now, &stopping).await {
                Ok(pass) => {
                    if pass.claimed > 0 {
                        log::info!(
                            "event=reminders claimed={} sent={} already_sent={} skipped={} stopped={} released={}",
                            pass.claimed,
                            pass.sent,
                            pass.already_sent,
                            pass.skipped,
                            pass.stopped,
                            pass.released
                        );
                    }
                    if pass.released > 0 {
                        return;
                    }
                    // A full batch means more may be due right away.
                    if pass.claimed < settings.batch {
                        break;
                    }
                }
                Err(error) => {
                    log::warn!("event=reminders_failed error={error}");
                    break;
                }
            }
        }
    }
}
