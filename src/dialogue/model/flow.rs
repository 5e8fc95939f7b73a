//! A flow and its steps, as the compiler validated them.

use std::collections::{BTreeSet, HashMap};

use crate::dialogue::review::Note;
use crate::dialogue::template::Template;

use super::{FlowId, Role, Stage, StepId};

/// One guided conversation.
#[derive(Debug, Clone)]
pub struct Flow {
    pub id: FlowId,
    pub version: u32,
    pub title: String,
    pub summary: String,
    pub audience: Vec<Role>,
    pub entry: StepId,
    pub on_menu: bool,
    /// Coaches toward staying together, so it is not offered once a sign of abuse was seen.
    pub toward_staying: bool,
    /// Where the flow sits on the path; none for tools used at any time (check-ins, safety).
    pub stage: Option<Stage>,
    /// Couples mode: offered only to linked partners; only such a flow has shared steps.
    pub couple: bool,
    /// Steps in file order.
    pub steps: Vec<Step>,
    index: HashMap<StepId, usize>,
}

impl Flow {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: FlowId,
        version: u32,
        title: String,
        summary: String,
        audience: Vec<Role>,
        entry: StepId,
        on_menu: bool,
        steps: Vec<Step>,
    ) -> Flow {
        let index = steps
            .iter()
            .enumerate()
            .map(|(position, step)| (step.id.clone(), position))
            .collect();
        Flow {
            id,
            version,
            title,
            summary,
            audience,
            entry,
            on_menu,
            toward_staying: false,
            stage: None,
            couple: false,
            steps,
            index,
        }
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.index.get(id).map(|&position| &self.steps[position])
    }

    /// The answers its shared questions save (couples mode), in file order.
    pub fn shared_answers(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().filter_map(|step| match &step.kind {
            StepKind::Ask {
                save,
                reveal: Some(_),
                ..
            } => Some(save.as_str()),
            _ => None,
        })
    }

    /// The names of the answers this flow can save.
    pub(crate) fn saved_names(&self) -> BTreeSet<&str> {
        self.steps
            .iter()
            .filter_map(|step| match &step.kind {
                StepKind::Ask { save, .. } => Some(save.as_str()),
                StepKind::Choice {
                    save: Some(save), ..
                } => Some(save.as_str()),
                _ => None,
            })
            .collect()
    }
}

impl Step {
    /// Every text this step can show: its `say`, then a review's notes and `all_clear`, or a
    /// shared question's reveal.
    pub fn texts(&self) -> Vec<&Template> {
        let mut texts: Vec<&Template> = self.say.iter().collect();
        match &self.kind {
            StepKind::Review {
                notes, all_clear, ..
            } => {
                texts.extend(notes.iter().map(|note| &note.text));
                texts.extend(all_clear);
            }
            StepKind::Ask {
                reveal,
                before_sharing,
                ..
            } => {
                texts.extend(before_sharing.iter().map(|note| &note.text));
                texts.extend(reveal);
            }
            _ => {}
        }
        texts
    }
}

/// One step of a flow.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: StepId,
    pub say: Option<Template>,
    pub kind: StepKind,
}

/// What a step does once its message (if any) is shown.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// Shows the message and moves straight on.
    Message { next: StepId },
    /// Shows the message with the notes that apply to a saved answer, and moves on.
    Review {
        answer: String,
        notes: Vec<Note>,
        /// Shown when no note applies.
        all_clear: Option<Template>,
        next: StepId,
        /// Where to go instead of `next` when no note applies (a "Try again" only after
        /// notes).
        next_if_clear: Option<StepId>,
    },
    /// Shows buttons and waits for a press.
    Choice {
        save: Option<String>,
        choices: Vec<Choice>,
    },
    /// Waits for a typed answer, saves it, and moves on. A shared one (couples mode) keeps
    /// the answer in the pair's record instead, and moves on once both partners have answered
    /// and `reveal` has shown them both answers.
    Ask {
        save: String,
        rule: AnswerRule,
        next: StepId,
        reveal: Option<Template>,
        /// Whether a question typed as the answer is also looked up in the FAQ: only where the
        /// author asks for it (an answer about the person themselves, never a draft of words
        /// for a partner, where a question is rhetorical).
        offer_faq: bool,
        /// A shared question's notes on the answer before the partner can read it (`notes` on
        /// the step): when any applies, the answer waits, unshared, until the person writes
        /// it again or shares it as it is. Empty for a question that is not shared.
        before_sharing: Vec<Note>,
    },
    /// Picks the next step from saved answers or the person's role.
    Branch {
        rules: Vec<BranchRule>,
        otherwise: StepId,
    },
    /// Starts another flow at its entry.
    Jump { flow: FlowId },
    /// Ends the flow, offering other flows, and may act on the person's answers.
    End {
        suggest: Vec<FlowId>,
        effect: Option<EndEffect>,
    },
}

impl StepKind {
    /// The steps of the same flow this step can lead to.
    pub(crate) fn targets(&self) -> Vec<&StepId> {
        match self {
            StepKind::Message { next } | StepKind::Ask { next, .. } => vec![next],
            StepKind::Review {
                next,
                next_if_clear,
                ..
            } => std::iter::once(next).chain(next_if_clear).collect(),
            StepKind::Choice { choices, .. } => choices.iter().map(|choice| &choice.goto).collect(),
            StepKind::Branch { rules, otherwise } => rules
                .iter()
                .map(|rule| &rule.goto)
                .chain(std::iter::once(otherwise))
                .collect(),
            StepKind::Jump { .. } | StepKind::End { .. } => Vec::new(),
        }
    }

    /// Whether the engine stops here to wait for the person.
    pub fn waits_for_person(&self) -> bool {
        matches!(
            self,
            StepKind::Choice { .. } | StepKind::Ask { .. } | StepKind::End { .. }
        )
    }
}

/// What an end step does with the answers of its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndEffect {
    /// Sets the person's check-in reminders from the answers `frequency`, `weekday` (when
    /// weekly), `time` and `zone`.
    ScheduleCheckins,
    /// Adds the flow's answers, with the time, to the person's check-in history.
    RecordCheckin,
    /// Couples mode: the private check before linking is done; make the invitation, or
    /// accept the one being joined (unless the check raised a concern).
    Link,
    /// Couples mode: the private check set linking aside; withdraw the invitation, or give
    /// up the one being joined (its inviter hears only that it could not be completed).
    NoLink,
}

impl EndEffect {
    /// The word an author writes.
    pub fn parse(word: &str) -> Option<EndEffect> {
        match word {
            "schedule_checkins" => Some(EndEffect::ScheduleCheckins),
            "record_checkin" => Some(EndEffect::RecordCheckin),
            "link" => Some(EndEffect::Link),
            "no_link" => Some(EndEffect::NoLink),
            _ => None,
        }
    }

    /// The word an author writes for it.
    pub fn word(self) -> &'static str {
        match self {
            EndEffect::ScheduleCheckins => "schedule_checkins",
            EndEffect::RecordCheckin => "record_checkin",
            EndEffect::Link => "link",
            EndEffect::NoLink => "no_link",
        }
    }

    /// The answers the flow must have saved by the time it reaches the end step.
    pub fn needs(self) -> &'static [&'static str] {
        match self {
            EndEffect::ScheduleCheckins => &["frequency", "time", "zone"],
            EndEffect::RecordCheckin => &["rating"],
            EndEffect::Link | EndEffect::NoLink => &[],
        }
    }
}

/// One button of a choice step.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Stable id; defaults to the target step's id.
    pub id: String,
    pub label: String,
    pub goto: StepId,
    pub role: Option<Role>,
    /// What the step's `save` stores when this button is pressed.
    pub value: String,
    /// Answers of this flow deleted when this button is pressed.
    pub clear: Vec<String>,
    /// What pressing it says about the person's safety, if anything.
    pub safety: Option<SafetyMark>,
    /// Other short answers that name it when typed ("every night" for Often), as its label
    /// does.
    pub also: Vec<String>,
}

/// What a button says about safety: a sign of abuse (coaching toward staying stops), the
/// person saying they feel safe (it resumes), or a safety screen answered to its end with
/// nothing worrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafetyMark {
    Concern,
    Clear,
    /// The last answer of a safety screen, every answer before it untroubling: the time is
    /// kept, so a screen soon after can ask whether it all still holds instead.
    Screened,
}

/// What a typed answer must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerRule {
    Text {
        min_length: usize,
        max_length: usize,
    },
    Number {
        min: i64,
        max: i64,
    },
    /// A time of day, saved as `HH:MM`.
    Time,
    /// A time zone, saved as its IANA name; `<name>_time` is saved beside it with the local
    /// time there, so the next step can confirm it.
    Zone,
}

/// The answer saved beside a zone answer named `name`: the local time in that zone.
pub fn zone_time_name(name: &str) -> String {
    format!("{name}_time")
}

impl AnswerRule {
    /// The longest a saved answer can be, in characters.
    pub(crate) fn longest(&self) -> usize {
        match self {
            AnswerRule::Text { max_length, .. } => *max_length,
            AnswerRule::Number { min, max } => min.to_string().len().max(max.to_string().len()),
            AnswerRule::Time => "00:00".len(),
            // The longest IANA names, such as America/Argentina/ComodRivadavia.
            AnswerRule::Zone => 32,
        }
    }
}

/// One rule of a branch step.
#[derive(Debug, Clone)]
pub struct BranchRule {
    pub test: BranchTest,
    pub goto: StepId,
}

#[derive(Debug, Clone)]
pub enum BranchTest {
    AnswerEquals {
        answer: String,
        value: String,
    },
    AnswerAtLeast {
        answer: String,
        bound: i64,
    },
    AnswerAtMost {
        answer: String,
        bound: i64,
    },
    RoleIs(Role),
    /// The person's safety concern is of this kind: the open safety episode's, or abuse once
    /// a sign of it set the flows about staying aside.
    ConcernIs(crate::safety::ConcernKind),
    /// The person answered a whole safety screen with nothing worrying within this many
    /// seconds, and no concern was raised since.
    ScreenedWithin(i64),
}
