//! The validated, in-memory form of the dialogue folder: flows, their steps and the bot's own
//! messages. Built only by `load`, so every reference in it is known to resolve.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::review::Note;
use super::template::Template;
use crate::safety::CrisisScreen;

/// A flow's id, as written in its file (`ground-rules`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FlowId(pub String);

/// A step's id within its flow (`time_place`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepId(pub String);

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who a person is in the story they bring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The partner who was hurt.
    Hurt,
    /// The partner who broke trust.
    BrokeTrust,
    /// Both partners, working on it together.
    Together,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Hurt, Role::BrokeTrust, Role::Together];

    /// The word an author writes for this role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Hurt => "hurt",
            Role::BrokeTrust => "broke_trust",
            Role::Together => "together",
        }
    }

    pub fn parse(word: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == word)
    }
}

/// Every flow and the bot's own messages, validated.
#[derive(Debug, Clone)]
pub struct Library {
    pub flows: Vec<Flow>,
    pub bot: BotText,
    /// The FAQ and takeaways; empty when the folder has no `faq.toml`.
    pub faq: Faq,
    /// The crisis-language screen from `crisis-language.toml`; the dialogue folder must have
    /// one (`dialogue_dir` insists), files loaded one by one in tests may not.
    pub screen: Option<CrisisScreen>,
    /// Days without a visit after which a person's data expires (`None`: kept until they
    /// delete it), for `/privacy` to say; from the configuration, given at compile time.
    retention_days: Option<u64>,
    /// What `kintsugi check` warns about: worth a look, but the folder loads.
    pub warnings: Vec<crate::diagnostics::Diagnostic>,
    index: HashMap<FlowId, usize>,
}

/// How long data is kept unless the configuration says otherwise.
pub const DEFAULT_RETENTION_DAYS: u64 = 180;

impl Library {
    pub fn new(
        flows: Vec<Flow>,
        bot: BotText,
        faq: Faq,
        screen: Option<CrisisScreen>,
        retention_days: Option<u64>,
    ) -> Library {
        let index = flows
            .iter()
            .enumerate()
            .map(|(position, flow)| (flow.id.clone(), position))
            .collect();
        Library {
            flows,
            bot,
            faq,
            screen,
            retention_days,
            warnings: Vec::new(),
            index,
        }
    }

    /// Days without a visit after which a person's data expires; `None`: until deleted.
    pub fn retention_days(&self) -> Option<u64> {
        self.retention_days
    }

    /// What the crisis-language screen finds in `text`, if anything.
    pub fn screen(&self, text: &str) -> Option<crate::safety::Concern> {
        self.screen.as_ref()?.check(text)
    }

    pub fn flow(&self, id: &str) -> Option<&Flow> {
        self.index.get(id).map(|&position| &self.flows[position])
    }

    /// The flows a person with `role` sees on the menu, in menu order; none that coach toward
    /// staying together once `coaching_off` (a sign of abuse was seen).
    pub fn menu_for(&self, role: Option<Role>, coaching_off: bool) -> impl Iterator<Item = &Flow> {
        self.flows.iter().filter(move |flow| {
            flow.on_menu
                && role.is_none_or(|role| flow.audience.contains(&role))
                && !(coaching_off && flow.toward_staying)
        })
    }

    /// How many steps, and how many of them are free-text or number prompts.
    pub fn counts(&self) -> (usize, usize) {
        let steps = self.flows.iter().map(|flow| flow.steps.len()).sum();
        let prompts = self
            .flows
            .iter()
            .flat_map(|flow| &flow.steps)
            .filter(|step| matches!(step.kind, StepKind::Ask { .. }))
            .count();
        (steps, prompts)
    }
}

impl std::borrow::Borrow<str> for FlowId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for StepId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

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
            steps,
            index,
        }
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.index.get(id).map(|&position| &self.steps[position])
    }

    /// The names of the answers this flow can save.
    pub fn saved_names(&self) -> BTreeSet<&str> {
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
    /// Every text this step can show: its `say`, then a review's notes and `all_clear`.
    pub fn texts(&self) -> Vec<&Template> {
        let mut texts: Vec<&Template> = self.say.iter().collect();
        if let StepKind::Review {
            notes, all_clear, ..
        } = &self.kind
        {
            texts.extend(notes.iter().map(|note| &note.text));
            texts.extend(all_clear);
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
    },
    /// Shows buttons and waits for a press.
    Choice {
        save: Option<String>,
        choices: Vec<Choice>,
    },
    /// Waits for a typed answer, saves it, and moves on.
    Ask {
        save: String,
        rule: AnswerRule,
        next: StepId,
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
    pub fn targets(&self) -> Vec<&StepId> {
        match self {
            StepKind::Message { next }
            | StepKind::Review { next, .. }
            | StepKind::Ask { next, .. } => vec![next],
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
}

impl EndEffect {
    /// The word an author writes.
    pub fn parse(word: &str) -> Option<EndEffect> {
        match word {
            "schedule_checkins" => Some(EndEffect::ScheduleCheckins),
            "record_checkin" => Some(EndEffect::RecordCheckin),
            _ => None,
        }
    }

    /// The word an author writes for it.
    pub fn word(self) -> &'static str {
        match self {
            EndEffect::ScheduleCheckins => "schedule_checkins",
            EndEffect::RecordCheckin => "record_checkin",
        }
    }

    /// The answers the flow must have saved by the time it reaches the end step.
    pub fn needs(self) -> &'static [&'static str] {
        match self {
            EndEffect::ScheduleCheckins => &["frequency", "time", "zone"],
            EndEffect::RecordCheckin => &["rating"],
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
}

/// What a button says about safety: a sign of abuse (coaching toward staying stops), or the
/// person saying they feel safe (it resumes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafetyMark {
    Concern,
    Clear,
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
    pub fn longest(&self) -> usize {
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
}

/// The bot's own messages (from `bot.toml`), with the flow `/start` opens.
#[derive(Debug, Clone)]
pub struct BotText {
    pub start_flow: FlowId,
    pub messages: HashMap<String, String>,
    /// The bot's own commands from `[commands]`, by name (without the slash).
    pub commands: BTreeMap<String, BotCommand>,
    /// The flows behind `/checkin`; without them `/checkin` is not offered.
    pub checkin_flows: Option<CheckinFlows>,
    /// Where a safety reply's grounding and safety-plan buttons lead; without it the reply
    /// offers only the way back.
    pub safety: Option<SafetySteps>,
}

/// The safety flow's steps a safety reply offers.
#[derive(Debug, Clone)]
pub struct SafetySteps {
    pub flow: FlowId,
    pub grounding: StepId,
    pub plan: StepId,
}

impl BotText {
    /// Whether `flow` is the safety flow named in `[safety]`.
    pub fn is_safety_flow(&self, flow: &FlowId) -> bool {
        self.safety
            .as_ref()
            .is_some_and(|safety| safety.flow == *flow)
    }
}

/// The flows `/checkin` opens: the setup of reminders, and the check-in itself.
#[derive(Debug, Clone)]
pub struct CheckinFlows {
    pub setup: FlowId,
    pub checkin: FlowId,
}

/// A command defined in `bot.toml`.
#[derive(Debug, Clone)]
pub struct BotCommand {
    /// A one-line description for Telegram's command list.
    pub about: String,
    pub action: CommandAction,
}

#[derive(Debug, Clone)]
pub enum CommandAction {
    /// Opens a flow at its entry.
    Open(FlowId),
    /// Shows `text` filled in with the person's answers in `flow`; `missing` when they have
    /// none of the answers it shows yet.
    Show {
        flow: FlowId,
        text: Template,
        missing: String,
    },
}

/// Commands the engine itself answers; `[commands]` cannot redefine them.
pub const BUILT_IN_COMMANDS: &[&str] = &[
    "start",
    "menu",
    "help",
    "continue",
    "cancel",
    "faq",
    "takeaways",
    "checkin",
    "progress",
    "privacy",
    "export",
    "forget",
];

/// The keys `bot.toml` must define, with what each is for.
pub const BOT_MESSAGES: &[(&str, &str)] = &[
    ("help", "the reply to /help"),
    ("menu", "the line above the menu buttons"),
    ("menu_button", "the label of the button back to the menu"),
    ("menu_empty", "said when no flow fits the person yet"),
    (
        "stale_button",
        "said when someone presses a button of an older message",
    ),
    (
        "flow_changed",
        "said when a flow changed under someone and they start it again",
    ),
    ("flow_gone", "said when someone's flow no longer exists"),
    (
        "unknown_flow",
        "said when a /start link names a flow that does not exist",
    ),
    ("cancelled", "the reply to /cancel inside a flow"),
    ("nothing_to_cancel", "the reply to /cancel outside a flow"),
    (
        "use_buttons",
        "said when someone types while buttons are shown",
    ),
    (
        "nothing_open",
        "said when someone types while no question is open",
    ),
    (
        "unknown_command",
        "the reply to a command the bot does not know",
    ),
    ("answer_empty", "said when an answer is empty"),
    (
        "answer_too_short",
        "said when an answer is shorter than {min} characters",
    ),
    (
        "answer_too_long",
        "said when an answer is longer than {max} characters",
    ),
    (
        "answer_not_a_number",
        "said when a number between {min} and {max} is expected",
    ),
    (
        "answer_out_of_range",
        "said when a number is outside {min} to {max}",
    ),
    ("faq", "the line above the /faq buttons"),
    (
        "faq_missing",
        "said when /faq names no question, with {max} questions",
    ),
    (
        "faq_suggest",
        "said above the questions that match what someone typed",
    ),
    (
        "faq_try",
        "added to an FAQ answer that offers flows, with {flows}: the titles of those the person is offered",
    ),
    (
        "takeaways_missing",
        "the reply to /takeaways when faq.toml is missing",
    ),
    (
        "unsupported",
        "said when someone sends a sticker, photo, voice note or file",
    ),
    (
        "storage_down",
        "said when the bot cannot reach its memory (Redis) for a moment",
    ),
    ("group_leave", "said once before leaving a group chat"),
    ("checkin_off", "the reply to /checkin off"),
    (
        "checkin_none",
        "the reply to /checkin off when no reminders are set",
    ),
    (
        "progress_empty",
        "the reply to /progress before the first check-in",
    ),
    (
        "progress",
        "the reply to /progress, with {count}, {latest}, {trend}, {run} and {note}",
    ),
    ("progress_note", "the {note} of /progress, with the {date}"),
    (
        "reminder",
        "the check-in reminder; it may show on a lock screen, so keep it neutral",
    ),
    (
        "reminder_start",
        "the reminder's button that starts the check-in",
    ),
    ("reminder_hour", "the reminder's button: again in an hour"),
    ("reminder_tomorrow", "the reminder's button: again tomorrow"),
    ("reminder_skip", "the reminder's button: skip this one"),
    (
        "reminder_snoozed_hour",
        "said after choosing: again in an hour",
    ),
    (
        "reminder_snoozed_tomorrow",
        "said after choosing: again tomorrow",
    ),
    ("reminder_skipped", "said after skipping a reminder"),
    (
        "progress_no_note",
        "the {note} of /progress when no check-in has a note",
    ),
    ("trend_early", "the {trend} of /progress with few check-ins"),
    ("trend_up", "the {trend} of /progress when ratings rise"),
    ("trend_down", "the {trend} of /progress when ratings fall"),
    ("trend_steady", "the {trend} of /progress when ratings hold"),
    (
        "answer_not_a_time",
        "said when a time of day is expected, such as 9:00 or 8pm",
    ),
    (
        "answer_not_a_zone",
        "said when a typed place or zone is not recognised",
    ),
    (
        "flood",
        "said once when someone sends messages too fast to take in",
    ),
    (
        "progress_chart_title",
        "the title drawn on the /progress chart",
    ),
    (
        "safety_self_harm",
        "the safety reply when someone writes about hurting themselves: acknowledge, ask about danger now, resources for any country",
    ),
    (
        "safety_violence",
        "the safety reply when someone writes about violence or threats",
    ),
    (
        "safety_abuse",
        "the safety reply when someone writes about abuse or control",
    ),
    (
        "safety_ask_self_harm",
        "the gentle question when words might be about hurting oneself",
    ),
    (
        "safety_ask_violence",
        "the gentle question when words might be about violence",
    ),
    (
        "safety_ask_abuse",
        "the gentle question when words might be about abuse or control",
    ),
    ("safety_yes", "the gentle question's button: yes"),
    ("safety_no", "the gentle question's button: no, I'm okay"),
    (
        "safety_grounding",
        "the safety reply's button to a grounding exercise",
    ),
    ("safety_plan", "the safety reply's button to a safety plan"),
    (
        "safety_safe",
        "the safety reply's button: I'm safe, let's go on",
    ),
    (
        "safety_not_meant",
        "the safety reply's button: that's not what I meant",
    ),
    (
        "safety_waiting",
        "said, with the safety reply's buttons, when someone writes while a safety reply waits for their choice",
    ),
    (
        "safety_back",
        "said, with the resources once more, when someone says they are safe and goes back",
    ),
    (
        "safety_not_meant_back",
        "said, with the resources once more, when it was not what someone meant",
    ),
    (
        "coaching_off",
        "said when a flow about staying together is asked for after a sign of abuse",
    ),
    (
        "privacy",
        "the reply to /privacy: what is kept, why, how long ({retention}), who sees it, how to delete it",
    ),
    (
        "privacy_retention",
        "the {retention} of /privacy when data expires, with the {days} without a visit",
    ),
    (
        "privacy_retention_none",
        "the {retention} of /privacy when data is kept until deleted",
    ),
    ("export", "the words sent with the /export file"),
    (
        "forget_confirm",
        "the question /forget asks before deleting everything",
    ),
    ("forget_yes", "the button that deletes everything"),
    ("forget_no", "the button that keeps everything"),
    ("forget_done", "said once everything is deleted"),
    (
        "forget_kept",
        "said when someone decides to keep their data",
    ),
];

impl BotText {
    /// The message under `key`; load guarantees every key in `BOT_MESSAGES` exists.
    pub fn message<'a>(&'a self, key: &'a str) -> &'a str {
        self.messages.get(key).map_or(key, String::as_str)
    }
}

/// The FAQ and the key takeaways.
#[derive(Debug, Clone, Default)]
pub struct Faq {
    pub questions: Vec<Question>,
    pub takeaways: String,
}

/// One question and its answer.
#[derive(Debug, Clone)]
pub struct Question {
    /// Stable id, for translations and buttons.
    pub id: String,
    /// The short label of its button.
    pub button: String,
    pub question: String,
    pub answer: String,
    /// Other words people use when they ask this.
    pub keywords: Vec<String>,
    /// Flows the answer points to: named after it (`faq_try` in `bot.toml`) only when they
    /// are on the person's menu, so an answer never points to a flow set aside.
    pub flows: Vec<FlowId>,
}
