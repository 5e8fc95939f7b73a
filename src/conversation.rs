//! Runs one input for one person against storage: screen it for crisis language, read the
//! state, let the engine decide, write the new state with compare-and-set, and retry if
//! another instance wrote first; then make the files the replies ask for (a chart, an export
//! with what storage keeps). Shared by the shell and the Telegram handlers. It sends nothing
//! and knows no Telegram type: the rings show what it returns.

use chrono::DateTime;

use crate::dialogue::PersonState;
use crate::dialogue::engine::{Attachment, Effect, safety_replies};
use crate::dialogue::{Input, Library, Reply, advance};
use crate::files::{File, KeptBeside, file_of};
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

/// Carries out the engine's effects once the state they belong with (`state`) is saved.
async fn apply(
    storage: &Storage,
    person: PersonId,
    state: &PersonState,
    effects: &[Effect],
    now: i64,
) -> Result<(), StorageError> {
    for effect in effects {
        match effect {
            Effect::ScheduleReminder { due } => storage.reminders().schedule(person, *due).await?,
            // Carried out instead of the save, in `handle_update`.
            Effect::Forget => {}
            Effect::CancelReminder => storage.reminders().cancel(person).await?,
            Effect::ScheduleNextCheckin => {
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
    handle_screened_update(storage, library, person, input, now, update_id).await
}

/// Like `handle_update`, for an input the caller has already screened (`Input::concern`):
/// Telegram screens before its flood gate, so each text is screened once. A concern gets its
/// safety reply even when the store cannot be reached: the reply needs nothing stored.
pub(crate) async fn handle_screened_update(
    storage: &Storage,
    library: &Library,
    person: PersonId,
    input: &Input,
    now: i64,
    update_id: Option<i64>,
) -> Result<Vec<ReadyReply>, ConversationError> {
    let handled = handle_stored(storage, library, person, input, now, update_id).await;
    match (handled, input) {
        (Err(error), Input::Concern { concern, .. }) => {
            log::warn!("event=safety_reply_without_storage error={error}");
            Ok(safety_replies(library, *concern)
                .into_iter()
                .map(ReadyReply::plain)
                .collect())
        }
        (handled, _) => handled,
    }
}

async fn handle_stored(
    storage: &Storage,
    library: &Library,
    person: PersonId,
    input: &Input,
    now: i64,
    update_id: Option<i64>,
) -> Result<Vec<ReadyReply>, ConversationError> {
    let update = update_id.map(|id| LastUpdate { id, at: now });
    for _ in 0..MAX_ATTEMPTS {
        let stored = storage.read(person, now).await?;
        if let Some(update) = update
            && stored.applied.contains(update.id, now)
        {
            log::info!("event=duplicate_update_skipped");
            return Ok(Vec::new());
        }
        let outcome = advance(library, &stored.state, input, now);
        if outcome.effects.contains(&Effect::Forget) {
            storage.delete_person(person).await?;
            log::info!("event=person_forgotten");
            return Ok(outcome.replies.into_iter().map(ReadyReply::plain).collect());
        }
        // Without an update id to record, an unchanged state needs no write.
        let needs_write = outcome.changed || update.is_some();
        if needs_write
            && storage
                .write_handled(person, &outcome.state, &stored, now, update)
                .await?
                == Saved::Conflict
        {
            metrics::counter!(crate::ops::names::CAS_CONFLICTS).increment(1);
            continue;
        }
        apply(storage, person, &outcome.state, &outcome.effects, now).await?;
        let last_update = update.or(stored.applied.latest());
        return ready(
            storage,
            person,
            last_update,
            &outcome.state,
            outcome.replies,
            now,
        )
        .await;
    }
    Err(ConversationError::Contended)
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
