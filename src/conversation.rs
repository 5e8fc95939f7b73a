//! Runs one input for one person against storage: screen it for crisis language, read the
//! state, let the engine decide, write the new state with compare-and-set, and retry if
//! another instance wrote first; then make the files the replies ask for (a chart, an export
//! with what storage keeps). Shared by the shell and the Telegram handlers. It sends nothing
//! and knows no Telegram type: the rings show what it returns.

use chrono::DateTime;

use crate::dialogue::PersonState;
use crate::dialogue::engine::{Attachment, Effect, safety_replies};
use crate::dialogue::state::PendingEffect;
use crate::dialogue::{Input, Library, Reply, advance};
use crate::files::{File, KeptBeside, file_of};
use crate::flood::{FloodGate, Verdict};
use crate::storage::{LastUpdate, PersonId, Saved, Storage, StorageError};

/// A reply ready to show: the engine's reply, and the file its attachment became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyReply {
    pub reply: Reply,
    pub file: Option<File>,
}

impl ReadyReply {
    /// A reply with no file.
    pub fn plain(reply: Reply) -> ReadyReply {
        ReadyReply { reply, file: None }
    }
}

impl From<Reply> for ReadyReply {
    fn from(reply: Reply) -> ReadyReply {
        ReadyReply::plain(reply)
    }
}

/// How often a write that lost a compare-and-set race is retried before giving up.
const MAX_ATTEMPTS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the state of a person kept changing under {MAX_ATTEMPTS} attempts to update it")]
    Contended,
}

/// The effects storage carries out beside a state, in the form its outbox keeps them.
fn pending(effects: &[Effect]) -> Vec<PendingEffect> {
    effects
        .iter()
        .filter_map(|effect| match *effect {
            Effect::ScheduleReminder { due } => Some(PendingEffect::ScheduleReminder { due }),
            Effect::ScheduleNextCheckin => Some(PendingEffect::ScheduleNextCheckin),
            Effect::CancelReminder => Some(PendingEffect::CancelReminder),
            // Carried out instead of the save, in `handle_stored`.
            Effect::Forget => None,
        })
        .collect()
}

/// Carries out the effects in `state`'s outbox (saved with it). Each can be done twice
/// without harm, so one left behind by a crash is simply done again.
async fn carry_out(
    storage: &Storage,
    person: PersonId,
    state: &PersonState,
    now: i64,
) -> Result<(), StorageError> {
    for effect in &state.outbox {
        match effect {
            PendingEffect::ScheduleReminder { due } => {
                storage.reminders().schedule(person, *due).await?;
            }
            PendingEffect::CancelReminder => storage.reminders().cancel(person).await?,
            PendingEffect::ScheduleNextCheckin => {
                let Some(schedule) = &state.checkin else {
                    continue;
                };
                // A new time or zone brings no second reminder on a day one already went out.
                let last_sent = storage.reminders().last_sent(person).await?;
                let skip_through = last_sent
                    .and_then(|sent| DateTime::from_timestamp(sent, 0))
                    .map(|sent| schedule.local_date(sent));
                let now = DateTime::from_timestamp(now, 0).unwrap_or_default();
                let due = schedule.next_due(now, skip_through);
                storage
                    .reminders()
                    .schedule(person, due.timestamp())
                    .await?;
            }
        }
    }
    Ok(())
}

/// Carries out a person's outbox and clears it (if nobody wrote since), then forgets the
/// note that they had one. Returns whether the outbox is now empty. The scheduler calls it for
/// outboxes left behind; a failure leaves both for the next try.
pub(crate) async fn drain_outbox(
    storage: &Storage,
    person: PersonId,
    now: i64,
) -> Result<bool, StorageError> {
    let stored = storage.read(person, now).await?;
    if stored.state.outbox.is_empty() {
        storage.reminders().clear_outbox(person).await?;
        return Ok(true);
    }
    carry_out(storage, person, &stored.state, now).await?;
    let mut cleared = stored.state.clone();
    cleared.outbox.clear();
    match storage
        .write_handled(person, &cleared, &stored, now, None)
        .await?
    {
        Saved::Written { .. } => {
            storage.reminders().clear_outbox(person).await?;
            Ok(true)
        }
        // Someone wrote since: their state carries the outbox on; try again later.
        Saved::Conflict | Saved::EarlierInFlight => Ok(false),
    }
}

/// Handles `input` from `person` at `now` (seconds since the epoch); returns the replies.
pub async fn handle(
    storage: &Storage,
    library: &Library,
    person: PersonId,
    input: &Input,
    now: i64,
) -> Result<Vec<ReadyReply>, ConversationError> {
    handle_update(storage, library, person, input, now, None).await
}

/// Like `handle`, for Telegram update `update_id`: an update already applied (Telegram
/// delivers again after a crash or restart) gets no replies and changes nothing, and the id
/// is written in the same compare-and-set as the state.
///
/// Text is screened for crisis language first.
pub async fn handle_update(
    storage: &Storage,
    library: &Library,
    person: PersonId,
    input: &Input,
    now: i64,
    update_id: Option<i64>,
) -> Result<Vec<ReadyReply>, ConversationError> {
    let concern = input.concern(library);
    let input = concern.as_ref().unwrap_or(input);
    let arrival = Arrival {
        update: update_id,
        ..Arrival::default()
    };
    handle_screened_update(storage, library, person, input, now, arrival)
        .await
        .map(Handled::into_replies)
}

/// Like `handle_update`, for an input the caller has already screened (`Input::concern`), so
/// each text is screened once, arriving as `arrival` says. A concern gets its safety reply even
/// when the store cannot be reached: the reply needs nothing stored.
pub(crate) async fn handle_screened_update(
    storage: &Storage,
    library: &Library,
    person: PersonId,
    input: &Input,
    now: i64,
    arrival: Arrival<'_>,
) -> Result<Handled, ConversationError> {
    let handled = handle_stored(storage, library, person, input, now, arrival).await;
    match (handled, input) {
        (Err(error), Input::Concern { concern, .. }) => {
            log::warn!("event=safety_reply_without_storage error={error}");
            Ok(Handled::Served(
                safety_replies(library, *concern)
                    .into_iter()
                    .map(ReadyReply::plain)
                    .collect(),
            ))
        }
        (handled, _) => handled,
    }
}

/// How one Telegram update arrives to be handled.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Arrival<'a> {
    /// Its id: an update applied already is not applied again.
    pub update: Option<i64>,
    /// The flood control it goes through (none for a concern: safety comes before the flood).
    pub gate: Option<&'a FloodGate>,
    /// Other processes handle the bot's updates too: the update is noted in flight in shared
    /// storage, so a later one of the person waits for it (the caller ends the note with
    /// `Storage::release_update` once the replies are sent).
    pub in_order: bool,
}

/// What became of one message.
#[derive(Debug)]
pub enum Handled {
    /// Handled: these replies are to be sent.
    Served(Vec<ReadyReply>),
    /// Applied before (Telegram posted it again): nothing to send. Any note that it is in
    /// flight is another process's, which may still be sending its replies.
    AlreadyApplied,
    /// Not handled, the person is writing too fast: send these (the flood note, once).
    Flooded(Vec<ReadyReply>),
}

impl Handled {
    /// The replies to send, either way.
    pub fn into_replies(self) -> Vec<ReadyReply> {
        match self {
            Handled::Served(replies) | Handled::Flooded(replies) => replies,
            Handled::AlreadyApplied => Vec::new(),
        }
    }
}

/// How long a write waits, in all, for an earlier update of the same person that another
/// process is handling (the note of it lapses after 5 s, so this is never reached unless
/// storage keeps saying so).
const LONGEST_WAIT_FOR_EARLIER: std::time::Duration = std::time::Duration::from_secs(8);
/// How long a write waits before trying again behind an earlier update.
const EARLIER_POLL: std::time::Duration = std::time::Duration::from_millis(10);

async fn handle_stored(
    storage: &Storage,
    library: &Library,
    person: PersonId,
    input: &Input,
    now: i64,
    arrival: Arrival<'_>,
) -> Result<Handled, ConversationError> {
    let update = arrival.update.map(|id| LastUpdate { id, at: now });
    let noted = arrival.update.filter(|_| arrival.in_order);
    // Only the first read takes the message through flood control.
    let mut gate = arrival.gate;
    let mut conflicts = 0;
    let started = std::time::Instant::now();
    loop {
        let (verdict, stored) = storage
            .read_for_update(person, now, gate.take(), noted)
            .await?;
        let stored = match (verdict, stored) {
            (Verdict::Serve, Some(stored)) => stored,
            (Verdict::NoteAndDrop, _) => {
                log::info!("event=flood_noted");
                let note = Reply::text(library.bot.message("flood"));
                return Ok(Handled::Flooded(vec![ReadyReply::plain(note)]));
            }
            _ => return Ok(Handled::Flooded(Vec::new())),
        };
        if let Some(update) = update
            && stored.applied.contains(update.id, now)
        {
            log::info!("event=duplicate_update_skipped");
            return Ok(Handled::AlreadyApplied);
        }
        let mut outcome = advance(library, &stored.state, input, now);
        if outcome.effects.contains(&Effect::Forget) {
            storage.delete_person(person).await?;
            log::info!("event=person_forgotten");
            return Ok(Handled::Served(
                outcome.replies.into_iter().map(ReadyReply::plain).collect(),
            ));
        }
        // The effects are saved with the state (after any a crash left behind), carried out
        // after the save, then cleared: a crash in between loses nothing.
        let mut outbox = stored.state.outbox.clone();
        outbox.extend(pending(&outcome.effects));
        outcome.state.outbox = outbox;
        let has_effects = !outcome.state.outbox.is_empty();
        if has_effects {
            storage.reminders().note_outbox(person).await?;
        }
        // Without an update id to record, an unchanged state needs no write.
        let needs_write = outcome.changed || update.is_some() || has_effects;
        let saved = if needs_write {
            storage
                .write_handled(person, &outcome.state, &stored, now, update)
                .await?
        } else {
            Saved::Written {
                version: stored.version,
            }
        };
        match saved {
            Saved::Written { .. } => {}
            Saved::Conflict => {
                metrics::counter!(crate::ops::names::CAS_CONFLICTS).increment(1);
                conflicts += 1;
                if conflicts >= MAX_ATTEMPTS {
                    return Err(ConversationError::Contended);
                }
                continue;
            }
            Saved::EarlierInFlight => {
                metrics::counter!(crate::ops::names::ORDER_WAITS).increment(1);
                if started.elapsed() > LONGEST_WAIT_FOR_EARLIER {
                    return Err(ConversationError::Contended);
                }
                tokio::time::sleep(EARLIER_POLL).await;
                continue;
            }
        }
        if has_effects {
            // Saved already: a failure here is not the person's to hear about; the
            // scheduler carries the outbox out later.
            if let Err(error) = drain_outbox(storage, person, now).await {
                log::warn!("event=effects_deferred error={error}");
            }
            outcome.state.outbox.clear();
        }
        let last_update = update.or(stored.applied.latest());
        return ready(
            storage,
            person,
            last_update,
            &outcome.state,
            outcome.replies,
            now,
        )
        .await
        .map(Handled::Served);
    }
}

/// Makes the files `replies` ask for; an export reads what storage keeps beside the state.
async fn ready(
    storage: &Storage,
    person: PersonId,
    last_update: Option<LastUpdate>,
    state: &PersonState,
    replies: Vec<Reply>,
    now: i64,
) -> Result<Vec<ReadyReply>, ConversationError> {
    let mut kept = KeptBeside::default();
    if replies
        .iter()
        .any(|reply| reply.attachment == Some(Attachment::Export))
    {
        kept = KeptBeside {
            last_update,
            reachable: storage.is_reachable(person, now).await?,
            reminder_due: storage.reminders().due_at(person).await?,
            reminder_last_sent: storage.reminders().last_sent(person).await?,
        };
    }
    Ok(replies
        .into_iter()
        .map(|reply| {
            let file = reply
                .attachment
                .as_ref()
                .and_then(|attachment| file_of(attachment, state, &kept, now));
            ReadyReply { reply, file }
        })
        .collect())
}
