//! What storage keeps for each person: their place in the conversation, their answers and
//! check-ins, their check-in schedule and an open safety episode. Plain data with serde; the
//! engine reads and changes it, storage seals and keeps it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::model::{FlowId, Role, StepId};
use crate::calendar::Schedule;
use crate::safety::ConcernKind;

/// A person's place in the conversation, and what they have answered. This is what storage
/// keeps for each person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonState {
    #[serde(default)]
    pub role: Option<Role>,
    /// The flow and step the person is in; `None` between flows.
    #[serde(default)]
    pub position: Option<Position>,
    /// What the most recent buttons were shown for. (Kept as `screen` by the first version.)
    #[serde(default, alias = "screen")]
    pub keyboard: Keyboard,
    /// Bumped whenever new buttons are shown; a press must carry the current value.
    #[serde(default)]
    pub seq: u32,
    /// Saved answers, by flow and then by answer name.
    #[serde(default)]
    pub answers: BTreeMap<FlowId, BTreeMap<String, Answer>>,
    /// When the person wants check-in reminders; `None` when they have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkin: Option<Schedule>,
    /// Their check-ins, oldest first: each one's answers and when it was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<CheckinEntry>,
    /// An open safety episode: the crisis screen found something, and the flow waits until
    /// the person chooses to go back to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety: Option<SafetyEpisode>,
    /// A sign of abuse was seen: flows that coach toward staying together are not offered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub coaching_off: bool,
    /// Text the person typed where buttons were shown, kept word for word so the next typed
    /// question can be answered with it in one tap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Answer>,
    /// A shared answer that met its question's notes before the partner could read it: it
    /// waits here until the person writes it again, or shares it as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unshared: Option<Answer>,
    /// A rule proposed under `/rules` that met its notes before the partner could read it:
    /// it waits here, unsent, until the person writes it again or sends it as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsent_rule: Option<String>,
    /// When the person last answered a whole safety screen with nothing worrying (seconds
    /// since the epoch); cleared by any concern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screened: Option<i64>,
    /// The flows the person has walked to an end.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub done: BTreeSet<FlowId>,
    /// The flow that fits what the person last wrote outside a flow, offered first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest: Option<FlowId>,
    /// The parts of a `/summary` being chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<SummaryPick>,
    /// What storage must still do beside this state (schedule or cancel a reminder): saved in
    /// the same write as the state, cleared once carried out, so a crash in between loses
    /// nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<PendingEffect>,
    /// Couples mode: the person's invitation, the one they are accepting, or their link.
    /// What the partners share is in the pair's own record, never here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub couple: Option<Couple>,
    /// When the person last answered "No" to the gentle question about each kind of
    /// concern: an unsure word of that kind is not asked about again for a while (a clear one
    /// always is).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub declined: BTreeMap<ConcernKind, i64>,
    /// The `[[listen]]` entry that last answered the person, and when: it is not said again
    /// word for word soon after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heard: Option<Heard>,
}

/// A `[[listen]]` entry said to the person (its id), and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heard {
    pub id: String,
    pub at: i64,
}

/// Where a person stands with a partner in couples mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Couple {
    /// They invited a partner; the link is made (pair `pair`) once the partner accepts.
    Inviting {
        token: String,
        pair: i64,
        expires: i64,
    },
    /// They opened `inviter`'s invitation and are deciding, or answering the private check.
    Joining {
        token: String,
        inviter: i64,
        pair: i64,
    },
    /// Linked in pair `pair` since `since`.
    Linked { pair: i64, since: i64 },
}

impl Couple {
    /// The pair whose record may exist: an invitation's (made once accepted) or the link's.
    pub fn pair(&self) -> Option<i64> {
        match self {
            Couple::Inviting { pair, .. } | Couple::Linked { pair, .. } => Some(*pair),
            Couple::Joining { .. } => None,
        }
    }
}

/// One check-in as it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinEntry {
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub answers: BTreeMap<String, String>,
}

/// The most check-ins kept; older ones give way.
pub(crate) const HISTORY_LIMIT: usize = 1000;

/// Where in a flow a person is, and which version of the flow it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub flow: FlowId,
    pub step: StepId,
    pub version: u32,
}

/// An effect on the reminder queue waiting in a state's outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum PendingEffect {
    /// Schedule the next reminder for this time (seconds since the epoch).
    ScheduleReminder { due: i64 },
    /// Schedule the next occurrence of the check-in schedule in the state.
    ScheduleNextCheckin,
    /// Remove the pending reminder.
    CancelReminder,
}

/// What the buttons of the latest keyboard (the buttons under the last message) belong to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Keyboard {
    #[default]
    Nothing,
    /// The choice step at the person's position.
    Step,
    Menu,
    /// The end step of a flow, with its suggestions.
    End {
        flow: FlowId,
        step: StepId,
    },
    /// The question whether to delete everything.
    Forget,
    /// A typed question offering the text kept from earlier.
    Ask,
    /// The question whether to put a part in the `/summary`.
    Summary,
    /// The question whether to accept a partner's invitation.
    Join,
    /// Waiting at a shared question for the partner (or for one who said "not yet").
    Shared,
    /// The question whether to end the link with a partner.
    Unlink,
    /// The rules shared with a partner, with their buttons (`/rules`).
    Rules,
    /// Waiting for the words of a rule to propose to the partner.
    Propose,
}

/// A part of the summary a person can pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum SummaryPart {
    /// The stages and the flows finished in each.
    Path,
    /// The card a `bot.toml` command shows (`/rules`, `/boundaries`), by command name.
    Card(String),
    /// The check-in trend, in words and as the chart.
    Trend,
    /// The notes written at check-ins.
    Notes,
}

/// Where a person is in choosing their summary's parts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryPick {
    /// Still to ask about, the next first.
    pub left: Vec<SummaryPart>,
    pub picked: Vec<SummaryPart>,
}

/// One saved answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub value: String,
    /// When it was given, in seconds since the Unix epoch.
    pub at: i64,
}

/// An open safety episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyEpisode {
    /// The kind of concern the reply answers: the latest clear one.
    pub kind: ConcernKind,
    /// Whether it is clear (or the person confirmed it); false while the gentle question is
    /// waiting for an answer.
    pub confirmed: bool,
    /// When it opened, in seconds since the Unix epoch.
    pub opened: i64,
    /// Where the person was, to go back to when they choose.
    #[serde(default)]
    pub paused: Option<Position>,
    /// Whether this episode turned coaching toward staying off (so "That's not what I meant"
    /// turns it back on).
    #[serde(default)]
    pub stopped_coaching: bool,
    /// A gentle question about another kind of concern, asked while the reply to `kind`
    /// waits: an unsure word about hurting oneself is not answered with the violence text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asking: Option<ConcernKind>,
    /// What the person wrote that opened or last reached the episode, word for word: if they
    /// say it was not what they meant, it is answered as if the screen had passed it (an
    /// answer to the question they were on is not lost to a misreading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<String>,
    /// Whether, after "I'm safe" in this episode, the person was asked whether there is
    /// someone they could reach (or chose to make a safety plan): after words about hurting
    /// themselves, one tap does not take them straight back to coaching.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub asked_who_to_reach: bool,
    /// Whether they then said there is no one: the way back then says the lines are there
    /// whenever they need them, instead of being glad.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_one_to_reach: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_the_first_version_stored_still_reads() {
        let stored = r#"{"screen":{"kind":"menu"},"seq":3}"#;
        let state: PersonState = serde_json::from_str(stored).expect("it reads");
        assert_eq!(state.keyboard, Keyboard::Menu);
        assert_eq!(state.seq, 3);
        let written = serde_json::to_string(&state).expect("it writes");
        assert!(
            written.contains(r#""keyboard":{"kind":"menu"}"#),
            "{written}"
        );
    }
}
