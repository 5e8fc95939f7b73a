//! Runs one input for one person against storage: screen it for crisis language, read the
//! state, let the engine decide, write the new state with compare-and-set, and retry if
//! another instance wrote first; then make the files the replies ask for (a chart, an export
//! with what storage keeps). Shared by the shell and the Telegram handlers. It sends nothing
//! and knows no Telegram type: the rings show what it returns.

use chrono::DateTime;

use crate::dialogue::PersonState;
use crate::dialogue::engine::{
    Attachment, CHECK_FLOW, CoupleAction, CoupleEvent, Effect, Outcome, Together, advance_together,
    safety_replies,
};
use crate::dialogue::pair::{PairChange, PairNews, PairState, Side};
use crate::dialogue::state::{Couple, PendingEffect};
use crate::dialogue::{Input, Library, Reply};
use crate::files::{File, KeptBeside, file_of};
use crate::flood::{FloodGate, Verdict};
use crate::storage::{
    Invitation, LastUpdate, PairId, PersonId, Saved, Storage, StorageError, StoredPair,
    new_invitation_token,
};

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

/// Messages for someone other than the person who wrote: their partner in couples mode (or
/// the inviter whose invitation was used). Discreet: they never carry the person's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub to: PersonId,
    pub replies: Vec<Reply>,
}

/// The replies to a person's input, and the notices it sends to someone else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub replies: Vec<ReadyReply>,
    pub notices: Vec<Notice>,
}

/// Like `handle`, with the notices for a partner; `invite_link` is what goes before an
/// invitation's token to make its link (`None`: `/start <token>` is shown).
pub async fn respond(
    storage: &Storage,
    library: &Library,
    person: PersonId,
    input: &Input,
    now: i64,
    invite_link: Option<&str>,
) -> Result<Response, ConversationError> {
    let concern = input.concern(library);
    let input = concern.as_ref().unwrap_or(input);
    let arrival = Arrival {
        invite_link,
        ..Arrival::default()
    };
    Ok(
        match handle_screened_update(storage, library, person, input, now, arrival).await? {
            Handled::Served(response) => response,
            Handled::AlreadyApplied => Response::default(),
            Handled::Flooded(replies) => Response {
                replies,
                notices: Vec::new(),
            },
        },
    )
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
            Ok(Handled::Served(Response {
                replies: safety_replies(library, *concern)
                    .into_iter()
                    .map(ReadyReply::plain)
                    .collect(),
                notices: Vec::new(),
            }))
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
    /// What goes before an invitation's token to make its link (the bot's `t.me` address).
    pub invite_link: Option<&'a str>,
}

/// What became of one message.
#[derive(Debug)]
pub enum Handled {
    /// Handled: these replies (and notices to a partner) are to be sent.
    Served(Response),
    /// Applied before (Telegram posted it again): nothing to send. Any note that it is in
    /// flight is another process's, which may still be sending its replies.
    AlreadyApplied,
    /// Not handled, the person is writing too fast: send these (the flood note, once).
    Flooded(Vec<ReadyReply>),
}

impl Handled {
    /// The replies to the person, either way.
    pub fn into_replies(self) -> Vec<ReadyReply> {
        match self {
            Handled::Served(response) => response.replies,
            Handled::Flooded(replies) => replies,
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
    // A long poller remembers the state it wrote last: the first try writes over it without
    // reading (flood control then rides in the write); a conflict reads as usual.
    let mut recalled = if arrival.in_order {
        None
    } else {
        storage.recall(person)
    };
    loop {
        let (stored, over) = match recalled.take() {
            Some(recall) => (recall.stored, Some(recall.mark)),
            None => {
                let (verdict, stored) = storage
                    .read_for_update(person, now, gate.take(), noted)
                    .await?;
                match (verdict, stored) {
                    (Verdict::Serve, Some(stored)) => (stored, None),
                    (verdict, _) => return Ok(flooded(library, verdict)),
                }
            }
        };
        if let Some(update) = update
            && stored.applied.contains(update.id, now)
        {
            log::info!("event=duplicate_update_skipped");
            return Ok(Handled::AlreadyApplied);
        }
        let pair = read_pair_of(storage, &stored.state, now).await?;
        // Over a remembered state, flood control comes with the write: an input that acts
        // before it (on the person's link, or forgetting them) is read for first instead.
        let decided = decide(
            storage,
            library,
            person,
            &stored.state,
            pair,
            input,
            now,
            arrival,
            over.is_none(),
        )
        .await?;
        let Some((mut outcome, notices)) = decided else {
            continue;
        };
        if outcome.effects.contains(&Effect::Forget) && over.is_some() {
            continue;
        }
        if outcome.effects.contains(&Effect::Forget) {
            storage.delete_person(person).await?;
            log::info!("event=person_forgotten");
            return Ok(Handled::Served(Response {
                replies: outcome.replies.into_iter().map(ReadyReply::plain).collect(),
                notices,
            }));
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
        // A write over a remembered state is always made (flood control rides in it); without
        // an update id to record, an unchanged state otherwise needs no write.
        let needs_write = outcome.changed || update.is_some() || has_effects;
        let saved = if let Some(mark) = &over {
            let (verdict, saved) = storage
                .write_over(person, &outcome.state, &stored, mark, update, gate.take())
                .await?;
            if verdict != Verdict::Serve {
                return Ok(flooded(library, verdict));
            }
            saved
        } else if needs_write {
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
        let replies = ready(
            storage,
            person,
            last_update,
            &outcome.state,
            outcome.replies,
            now,
        )
        .await?;
        return Ok(Handled::Served(Response { replies, notices }));
    }
}

/// What a message flood control held back gets: the flood note once, then nothing.
fn flooded(library: &Library, verdict: Verdict) -> Handled {
    match verdict {
        Verdict::NoteAndDrop => {
            log::info!("event=flood_noted");
            let note = Reply::text(library.bot.message("flood"));
            Handled::Flooded(vec![ReadyReply::plain(note)])
        }
        _ => Handled::Flooded(Vec::new()),
    }
}

/// The record of the pair a person's state names (an invitation's, once accepted, or their
/// link's), if it exists and names them.
async fn read_pair_of(
    storage: &Storage,
    state: &PersonState,
    now: i64,
) -> Result<Option<StoredPair>, StorageError> {
    match state.couple.as_ref().and_then(Couple::pair) {
        Some(pair) => storage.read_pair(PairId(pair), now).await,
        None => Ok(None),
    }
}

/// Runs the engine on `input`; when it asks for something about the person's link, does it
/// (when `acts`; otherwise returns `None` before doing anything) and runs the engine again on
/// what came of it. Returns the outcome (to save) and the notices for a partner.
#[allow(clippy::too_many_arguments)]
async fn decide(
    storage: &Storage,
    library: &Library,
    person: PersonId,
    state: &PersonState,
    pair: Option<StoredPair>,
    input: &Input,
    now: i64,
    arrival: Arrival<'_>,
    acts: bool,
) -> Result<Option<(Outcome, Vec<Notice>)>, StorageError> {
    // A fresh token only where an input can make an invitation: a press inside the private
    // check before linking (its last answer makes it), or the words of a button typed there,
    // so no other update pays for one.
    let in_check = state
        .position
        .as_ref()
        .is_some_and(|position| position.flow.0 == CHECK_FLOW);
    let fresh = (in_check && matches!(input, Input::Press(_) | Input::Text(_)))
        .then(|| (new_invitation_token(), PairId::random().0));
    fn side(pair: &Option<StoredPair>, person: PersonId) -> Option<(&PairState, Side)> {
        let stored = pair.as_ref()?;
        Some((&stored.state, stored.state.side_of(person.0)?))
    }
    let together = Together {
        pair: side(&pair, person),
        fresh: fresh.as_ref().map(|(token, id)| (token.as_str(), *id)),
        invite_link: arrival.invite_link,
    };
    let mut outcome = advance_together(library, state, together, input, now);
    let Some(action) = outcome.couple.take() else {
        return Ok(Some((outcome, Vec::new())));
    };
    if !acts {
        return Ok(None);
    }
    let mut notices = Vec::new();
    let (event, partner, pair) = carry_out_couple(storage, person, action, pair, now).await?;
    notify(&mut notices, partner, &mut outcome.for_partner);
    let Some(event) = event else {
        return Ok(Some((outcome, notices)));
    };
    let together = Together {
        pair: side(&pair, person),
        fresh: None,
        invite_link: arrival.invite_link,
    };
    let mut second = advance_together(
        library,
        &outcome.state,
        together,
        &Input::Couple(event),
        now,
    );
    // Only a quiet action can follow (a guard against linking), needing no answer; its
    // notice goes to whom it names, the second pass's others to the first's partner.
    let partner = match second.couple.take() {
        Some(action) => carry_out_couple(storage, person, action, pair, now)
            .await?
            .1
            .or(partner),
        None => partner,
    };
    notify(&mut notices, partner, &mut second.for_partner);
    outcome.replies.extend(second.replies);
    outcome.effects.extend(second.effects);
    outcome.changed = second.state != *state;
    outcome.state = second.state;
    Ok(Some((outcome, notices)))
}

/// Adds `replies` (taken) as a notice for `to`, when there are any and someone to send them to.
fn notify(notices: &mut Vec<Notice>, to: Option<PersonId>, replies: &mut Vec<Reply>) {
    if let Some(to) = to
        && !replies.is_empty()
    {
        notices.push(Notice {
            to,
            replies: std::mem::take(replies),
        });
    }
}

/// Does what the engine asked about a person's link. Returns what came of it (for the actions
/// that need an answer), who the partner is (for its notices) and the pair's record after it.
async fn carry_out_couple(
    storage: &Storage,
    person: PersonId,
    action: CoupleAction,
    pair: Option<StoredPair>,
    now: i64,
) -> Result<(Option<CoupleEvent>, Option<PersonId>, Option<StoredPair>), StorageError> {
    let partner_in = |pair: &Option<StoredPair>| {
        pair.as_ref().and_then(|stored| {
            let side = stored.state.side_of(person.0)?;
            Some(PersonId(stored.state.partner(side.other())))
        })
    };
    match action {
        CoupleAction::Invite {
            token,
            pair: pair_id,
            expires,
            replacing,
        } => {
            if let Some(old) = replacing {
                storage.delete_invitation(&old).await?;
            }
            let invitation = Invitation {
                inviter: person.0,
                pair: pair_id,
                expires,
            };
            storage.put_invitation(&token, &invitation, now).await?;
            log::info!("event=invitation_made");
            Ok((None, None, pair))
        }
        CoupleAction::Withdraw { token } => {
            storage.delete_invitation(&token).await?;
            log::info!("event=invitation_withdrawn");
            Ok((None, None, pair))
        }
        CoupleAction::Abandon { token, inviter } => {
            storage.delete_invitation(&token).await?;
            log::info!("event=invitation_not_completed");
            Ok((None, Some(PersonId(inviter)), pair))
        }
        CoupleAction::Unlink { pair: pair_id } => {
            let partner = partner_in(&pair);
            storage.delete_pair(PairId(pair_id)).await?;
            log::info!("event=unlinked");
            Ok((None, partner, None))
        }
        CoupleAction::Open { token } => {
            let found = storage.read_invitation(&token, now).await?;
            let event = match found {
                Some(invitation) if invitation.inviter == person.0 => CoupleEvent::OwnInvitation,
                found => CoupleEvent::Opened {
                    token,
                    found: found.map(|invitation| (invitation.inviter, invitation.pair)),
                },
            };
            Ok((Some(event), None, pair))
        }
        CoupleAction::Join {
            token,
            pair: pair_id,
        } => join(storage, person, &token, PairId(pair_id), now).await,
        CoupleAction::Change {
            pair: pair_id,
            change,
        } => {
            let (news, stored) =
                change_pair(storage, person, PairId(pair_id), pair, &change, now).await?;
            let partner = partner_in(&stored);
            let event = match news {
                Some((news, tell)) => CoupleEvent::Changed { news, tell },
                None => CoupleEvent::NoPair,
            };
            Ok((Some(event), partner, stored))
        }
    }
}

/// Takes invitation `token` and makes pair `pair` of its inviter and `person`, unless the
/// inviter can no longer link (they withdrew, linked with someone else, or a concern of
/// theirs set linking aside).
async fn join(
    storage: &Storage,
    person: PersonId,
    token: &str,
    pair: PairId,
    now: i64,
) -> Result<(Option<CoupleEvent>, Option<PersonId>, Option<StoredPair>), StorageError> {
    let Some(invitation) = storage.take_invitation(token, now).await? else {
        // Taken already: by this person, if a save of theirs was retried after it.
        let existing = storage.read_pair(pair, now).await?;
        return Ok(match &existing {
            Some(stored) if stored.state.side_of(person.0) == Some(Side::Second) => {
                let event = CoupleEvent::Joined {
                    pair: pair.0,
                    since: stored.state.since,
                };
                let inviter = PersonId(stored.state.partner(Side::First));
                (Some(event), Some(inviter), existing)
            }
            _ => (Some(CoupleEvent::NotJoined), None, None),
        });
    };
    let inviter = PersonId(invitation.inviter);
    let theirs = storage.read(inviter, now).await?.state;
    let still_inviting = matches!(
        &theirs.couple,
        Some(Couple::Inviting { pair: theirs, .. }) if *theirs == pair.0
    );
    let concern = theirs.coaching_off || theirs.safety.is_some();
    if invitation.pair != pair.0 || !still_inviting || concern || inviter == person {
        log::info!("event=invitation_not_completed");
        return Ok((Some(CoupleEvent::NotJoined), None, None));
    }
    let record = PairState::new(inviter.0, person.0, now);
    match storage.write_pair(pair, &record, None, now).await? {
        Saved::Written { .. } => {}
        _ => return Ok((Some(CoupleEvent::NotJoined), None, None)),
    }
    log::info!("event=linked");
    let stored = storage.read_pair(pair, now).await?;
    let event = CoupleEvent::Joined {
        pair: pair.0,
        since: now,
    };
    Ok((Some(event), Some(inviter), stored))
}

/// Applies `change` by `person` to pair `pair` with compare-and-set, retrying when the other
/// partner wrote first; `None` when the pair's record is gone.
async fn change_pair(
    storage: &Storage,
    person: PersonId,
    pair: PairId,
    mut stored: Option<StoredPair>,
    change: &PairChange,
    now: i64,
) -> Result<(Option<(PairNews, bool)>, Option<StoredPair>), StorageError> {
    for _ in 0..MAX_ATTEMPTS {
        let current = match stored.take() {
            Some(current) if current.id == pair => current,
            _ => match storage.read_pair(pair, now).await? {
                Some(current) => current,
                None => return Ok((None, None)),
            },
        };
        let Some(side) = current.state.side_of(person.0) else {
            return Ok((None, None));
        };
        let mut state = current.state.clone();
        let (news, tell) = state.apply_at(side, change, now);
        if news == PairNews::Refused {
            return Ok((Some((news, false)), Some(current)));
        }
        match storage
            .write_pair(pair, &state, Some(&current), now)
            .await?
        {
            Saved::Written { version } => {
                return Ok((Some((news, tell)), Some(current.written(state, version))));
            }
            _ => continue,
        }
    }
    Ok((
        Some((PairNews::Refused, false)),
        storage.read_pair(pair, now).await?,
    ))
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
        let pair = read_pair_of(storage, state, now).await?.and_then(|stored| {
            let side = stored.state.side_of(person.0)?;
            Some((stored.state, side))
        });
        kept = KeptBeside {
            last_update,
            reachable: storage.is_reachable(person, now).await?,
            reminder_due: storage.reminders().due_at(person).await?,
            reminder_last_sent: storage.reminders().last_sent(person).await?,
            pair,
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
