//! The dialogue engine: a pure function from (flows, a person's state, an input, the time) to
//! (new state, replies). It never does I/O and has no clock of its own; storage, Telegram, the
//! shell and the tests all drive it the same way.
//!
//! This file holds the types in and out and `advance`; a `Turn` is one input being handled,
//! and its parts live beside it: `commands` (commands and the FAQ), `answers` (presses,
//! choices, typed answers), `walk` (entering and running flows, the menu), `checkins`
//! (`/checkin`, `/progress`, reminders), `safety` (what happens when the crisis screen finds
//! something: a safety episode) and `privacy` (`/privacy`, `/export`, `/forget`).

mod answers;
mod checkins;
mod commands;
mod couple;
mod named;
mod privacy;
mod runs;
mod safety;
mod summary;
mod walk;

pub use checkins::reminder;
pub use couple::CHECK_FLOW;
pub use safety::safety_replies;
pub use summary::{SummaryDocument, SummarySection};

use super::callback::{self, Action};
use super::model::Library;
use super::pair::{PairChange, PairNews, PairState, Side, looks_like_invitation};
use super::state::{Keyboard, PersonState, Position};
use crate::safety::Concern;

/// Something outside the person's state the engine asks its caller to do, once the new state
/// is saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Schedule the person's next reminder for this time (seconds since the epoch).
    ScheduleReminder { due: i64 },
    /// Schedule the next occurrence of the person's (new) check-in schedule, on no day a
    /// reminder already went out: the caller knows when the last one was sent.
    ScheduleNextCheckin,
    /// Remove the person's pending reminder.
    CancelReminder,
    /// Delete everything stored about the person, instead of saving the state.
    Forget,
}

/// Something a person did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `/name argument`.
    Command { name: String, argument: String },
    /// Typed text that is not a command.
    Text(String),
    /// A button press, carrying the button's data.
    Press(String),
    /// Something the bot cannot read: a sticker, photo, voice note, file or location.
    Unsupported,
    /// Text in which the crisis screen found `concern`. The text goes no further than the
    /// engine: it is never saved (except as an answer inside the safety flow itself).
    Concern { concern: Concern, text: String },
    /// What came of the [`CoupleAction`] the previous input asked for (never from a person).
    Couple(CoupleEvent),
}

/// What the engine knows of a person's link with a partner: read by its caller before the
/// input, since the engine keeps nothing of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Together<'a> {
    /// The pair's record, and which partner this person is, while they are linked.
    pub pair: Option<(&'a PairState, Side)>,
    /// A fresh invitation token and pair id, used if this input makes an invitation (the
    /// engine has no randomness of its own).
    pub fresh: Option<(&'a str, i64)>,
    /// What goes before a token to make an invitation link (`https://t.me/<bot>?start=`);
    /// `None` shows `/start <token>`, as the shell does.
    pub invite_link: Option<&'a str>,
}

/// Something about the link between partners the caller must do, then tell the engine what
/// came of it as [`Input::Couple`] (with the pair as it is then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoupleAction {
    /// Keep an invitation to pair `pair` under `token` until `expires`, deleting the
    /// person's earlier one (`replacing`).
    Invite {
        token: String,
        pair: i64,
        expires: i64,
        replacing: Option<String>,
    },
    /// Look up the invitation a link carried.
    Open { token: String },
    /// Take invitation `token` and link the person with its inviter in pair `pair`, unless
    /// the inviter can no longer link.
    Join { token: String, pair: i64 },
    /// Give up the invitation `token` that the person was joining by: its inviter hears,
    /// in words that say nothing of why, that it could not be completed.
    Abandon { token: String, inviter: i64 },
    /// Delete the person's own invitation `token`.
    Withdraw { token: String },
    /// End link `pair`: delete its record; the partner gets a neutral notice.
    Unlink { pair: i64 },
    /// Make `change` to the record of pair `pair`, with compare-and-set.
    Change { pair: i64, change: PairChange },
}

/// What came of a [`CoupleAction`] that asks for an answer (`Open`, `Join`, `Change`); the
/// others are done before the state is saved and need none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoupleEvent {
    /// The invitation a link carried: its inviter and pair, or `None` when it is expired,
    /// used or was never made.
    Opened {
        token: String,
        found: Option<(i64, i64)>,
    },
    /// The link carried the person's own invitation.
    OwnInvitation,
    /// Linked: the pair's record is made.
    Joined { pair: i64, since: i64 },
    /// The invitation could not be used after all (taken meanwhile, expired, or its inviter
    /// can no longer link).
    NotJoined,
    /// The change was made (or refused), with what it brought about, and whether the
    /// partner is to be told (not again within the hour of a notice, unless they acted since).
    Changed { news: PairNews, tell: bool },
    /// There is no link any more (the partner ended it meanwhile).
    NoPair,
}

impl Input {
    /// Runs the crisis screen over typed text (a command's too): a concern turns the input
    /// into `Input::Concern`, before anything else sees it.
    pub fn screened(self, library: &Library) -> Input {
        self.concern(library).unwrap_or(self)
    }

    /// What the crisis screen finds in typed text (a command's too), as `Input::Concern`;
    /// `None` when it finds nothing or there is no text.
    pub fn concern(&self, library: &Library) -> Option<Input> {
        let screened = match self {
            Input::Text(text) => text.as_str(),
            // A flow's id or an invitation token after a command (`/start pillars`, a deep
            // link) is the bot's own word, not something the person wrote.
            Input::Command { argument, .. }
                if !argument.is_empty()
                    && library.flow(argument).is_none()
                    && !looks_like_invitation(argument) =>
            {
                argument.as_str()
            }
            _ => return None,
        };
        let concern = library.screen(screened)?;
        let text = match self {
            Input::Command { name, argument } => format!("/{name} {argument}"),
            _ => screened.to_owned(),
        };
        Some(Input::Concern { concern, text })
    }

    /// Reads typed text: `/start payload` and `/menu@SomeBot` are commands, the rest is text.
    pub fn from_text(text: &str) -> Input {
        let trimmed = text.trim();
        if let Some(rest) = trimmed.strip_prefix('/') {
            let (word, argument) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let name = word.split('@').next().unwrap_or_default();
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Input::Command {
                    name: name.to_ascii_lowercase(),
                    argument: argument.trim().to_owned(),
                };
            }
        }
        Input::Text(text.to_owned())
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub buttons: Vec<Button>,
    /// A picture or file sent with the text (as its caption when the text is short).
    pub attachment: Option<Attachment>,
}

impl Reply {
    /// A reply of text alone.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            buttons: Vec::new(),
            attachment: None,
        }
    }
}

/// What a reply carries beside its text, as data: the rings make the file (the chart drawn,
/// the export filled in with what storage keeps) and send it with the text as its caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// `/progress`: the check-in ratings as a chart.
    Chart(ProgressChart),
    /// `/export`: everything kept about the person.
    Export,
    /// `/summary`: the parts the person picked, for a document to bring to a therapist.
    Summary(Box<SummaryDocument>),
}

/// The chart `/progress` shows: each check-in's trust rating, and the chart's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressChart {
    /// (when, in seconds since the epoch; the rating, 0 to 10), oldest first.
    pub ratings: Vec<(i64, u8)>,
    /// A linked partner's shared ratings the person may see, the same way; usually none.
    pub partner: Vec<(i64, u8)>,
    /// The zone the dates are shown in: the person's check-in zone, or UTC.
    pub zone: chrono_tz::Tz,
    /// Above the chart.
    pub title: String,
    /// In place of the line when there are no ratings.
    pub empty: String,
}

/// One button under a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub data: String,
}

/// What the engine decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub state: PersonState,
    pub replies: Vec<Reply>,
    /// Whether `state` differs from the state passed in (and so must be saved).
    pub changed: bool,
    /// What to do once the state is saved.
    pub effects: Vec<Effect>,
    /// What to do about the person's link with a partner, before the state is saved; its
    /// result goes back to the engine as `Input::Couple`.
    pub couple: Option<CoupleAction>,
    /// Notices for the person's partner (or the inviter): discreet, never their words.
    pub for_partner: Vec<Reply>,
}

/// A guard against a loop of automatic steps; validation rejects such loops already.
const MAX_AUTOMATIC_STEPS: usize = 100;

/// Runs one input against a person's state (someone with no partner linked).
pub fn advance(library: &Library, state: &PersonState, input: &Input, now: i64) -> Outcome {
    advance_together(library, state, Together::default(), input, now)
}

/// Runs one input against a person's state, knowing their link with a partner.
pub fn advance_together(
    library: &Library,
    state: &PersonState,
    together: Together<'_>,
    input: &Input,
    now: i64,
) -> Outcome {
    let mut turn = Turn {
        library,
        state: state.clone(),
        replies: Vec::new(),
        effects: Vec::new(),
        now,
        together,
        couple: None,
        for_partner: Vec::new(),
        misread: false,
    };
    turn.settle_link();
    let repaired = turn.repair();
    match input {
        Input::Concern { concern, text } => turn.concern(*concern, text),
        Input::Couple(event) => turn.couple_event(event),
        Input::Command { name, argument } => turn.command(name, argument),
        _ if repaired => turn.show_current(),
        Input::Press(data) => turn.press(data),
        Input::Text(text) => turn.text(text),
        Input::Unsupported => {
            turn.note("unsupported");
            turn.show_current();
        }
    }
    turn.guard_link();
    let changed = turn.state != *state;
    Outcome {
        state: turn.state,
        replies: runs::in_short_runs(turn.replies),
        changed,
        effects: turn.effects,
        couple: turn.couple,
        for_partner: turn.for_partner,
    }
}

/// One input being handled: the state as it changes and the replies so far.
struct Turn<'a> {
    library: &'a Library,
    state: PersonState,
    replies: Vec<Reply>,
    effects: Vec<Effect>,
    now: i64,
    together: Together<'a>,
    couple: Option<CoupleAction>,
    for_partner: Vec<Reply>,
    /// Answering words the crisis screen stopped at, once the person said it misread them:
    /// they answer what they were written for, but are never kept to show on a button later.
    misread: bool,
}

impl<'a> Turn<'a> {
    fn say(&mut self, text: impl Into<String>) {
        self.replies.push(Reply::text(text));
    }

    /// Says `text` with new buttons (each a label and what pressing it does), shown for
    /// `keyboard`: older buttons go stale.
    fn say_with_buttons(
        &mut self,
        text: String,
        keyboard: Keyboard,
        buttons: impl IntoIterator<Item = (String, Action)>,
    ) {
        self.state.seq = self.state.seq.wrapping_add(1);
        self.state.keyboard = keyboard;
        let seq = self.state.seq;
        let buttons = buttons
            .into_iter()
            .map(|(label, action)| Button {
                label,
                data: callback::encode(seq, &action),
            })
            .collect();
        self.replies.push(Reply {
            text,
            buttons,
            attachment: None,
        });
    }

    fn bot_message(&self, key: &str) -> String {
        self.library.bot.message(key).to_owned()
    }

    fn note(&mut self, key: &str) {
        let text = self.bot_message(key);
        self.say(text);
    }

    /// Lands a person whose flow changed under them somewhere safe. Returns whether it did.
    fn repair(&mut self) -> bool {
        let Some(position) = &self.state.position else {
            return false;
        };
        let Some(flow) = self.library.flow(&position.flow.0) else {
            self.state.position = None;
            self.state.keyboard = Keyboard::Nothing;
            self.note("flow_gone");
            return true;
        };
        if flow.step(&position.step.0).is_none() {
            self.state.position = Some(Position {
                flow: flow.id.clone(),
                step: flow.entry.clone(),
                version: flow.version,
            });
            self.state.keyboard = Keyboard::Nothing;
            self.note("flow_changed");
            return true;
        }
        if position.version != flow.version {
            // The step still exists, so the person carries on where they were.
            self.state.position = Some(Position {
                version: flow.version,
                ..position.clone()
            });
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::answers::first_integer;
    use super::*;

    #[test]
    fn commands_are_recognised_with_bot_names_and_payloads() {
        assert_eq!(
            Input::from_text("/start@KintsugiBot ground-rules"),
            Input::Command {
                name: "start".to_owned(),
                argument: "ground-rules".to_owned()
            }
        );
        assert_eq!(
            Input::from_text("/MENU"),
            Input::Command {
                name: "menu".to_owned(),
                argument: String::new()
            }
        );
        assert_eq!(
            Input::from_text("/ not a command"),
            Input::Text("/ not a command".to_owned())
        );
        assert_eq!(Input::from_text("hello"), Input::Text("hello".to_owned()));
    }

    #[test]
    fn first_integer_is_forgiving() {
        assert_eq!(first_integer("7"), Some(7));
        assert_eq!(first_integer("about 6/10"), Some(6));
        assert_eq!(first_integer("-3"), Some(-3));
        assert_eq!(first_integer("seven"), None);
        assert_eq!(first_integer("99999999999999999999999"), None);
    }
}
