//! The shape of the files in `dialogues/` exactly as authors write them, with the location of
//! every value so that problems can be reported with a line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A dialogue file's path (as it should appear in messages) and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlowFile {
    pub id: Spanned<String>,
    pub version: Spanned<i64>,
    pub title: Spanned<String>,
    pub summary: Spanned<String>,
    pub audience: Spanned<Vec<Spanned<String>>>,
    pub entry: Spanned<String>,
    pub menu: Option<bool>,
    /// Coaches toward staying together: not offered once a sign of abuse was seen.
    pub toward_staying: Option<bool>,
    /// Where the flow sits on the path: first_days, atone, attune or attach.
    pub stage: Option<Spanned<String>>,
    /// Couples mode: offered only to linked partners, and may have shared steps.
    pub couple: Option<Spanned<bool>>,
    pub steps: BTreeMap<Spanned<String>, Spanned<StepFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepFile {
    pub say: Option<Spanned<String>>,
    pub next: Option<Spanned<String>>,
    pub save: Option<Spanned<String>>,
    pub choices: Option<Spanned<Vec<Spanned<ChoiceFile>>>>,
    pub ask: Option<Spanned<AskFile>>,
    pub branch: Option<Spanned<Vec<Spanned<RuleFile>>>>,
    pub otherwise: Option<Spanned<String>>,
    pub jump: Option<Spanned<String>>,
    pub end: Option<Spanned<bool>>,
    pub suggest: Option<Spanned<Vec<Spanned<String>>>>,
    pub review: Option<Spanned<String>>,
    pub notes: Option<Spanned<Vec<Spanned<NoteFile>>>>,
    pub all_clear: Option<Spanned<String>>,
    /// Where a review goes when no note applies, instead of `next`.
    pub next_if_clear: Option<Spanned<String>>,
    pub effect: Option<Spanned<String>>,
    /// Couples mode: the answer is kept from the partner until both have answered.
    pub shared: Option<Spanned<bool>>,
    /// What a shared step shows both partners once both have answered.
    pub reveal: Option<Spanned<String>>,
}

/// One note of a review step: shown when the answer mentions (or lacks) some words.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteFile {
    pub id: Spanned<String>,
    pub when_any: Option<Spanned<Vec<Spanned<String>>>>,
    pub when_none: Option<Spanned<Vec<Spanned<String>>>>,
    /// Words that rule a mention out when they come up to three words before it.
    pub unless_after: Option<Vec<Spanned<String>>>,
    pub say: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChoiceFile {
    pub label: Spanned<String>,
    pub goto: Spanned<String>,
    pub id: Option<Spanned<String>>,
    pub role: Option<Spanned<String>>,
    pub value: Option<Spanned<String>>,
    pub clear: Option<Vec<Spanned<String>>>,
    /// `concern` (a sign of abuse: coaching toward staying stops) or `clear` (it resumes).
    pub safety: Option<Spanned<String>>,
    /// Other short answers that name this button when typed, as its label does.
    pub also: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AskFile {
    pub save: Spanned<String>,
    /// `time` (a time of day) or `zone` (a time zone); text or a number otherwise.
    pub kind: Option<Spanned<String>>,
    pub min_length: Option<Spanned<i64>>,
    pub max_length: Option<Spanned<i64>>,
    pub min: Option<Spanned<i64>>,
    pub max: Option<Spanned<i64>>,
    /// `true` where the answer is about the person themselves ("which feeling is loudest?"):
    /// a question typed there is also looked up in the FAQ.
    pub offer_faq: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    pub answer: Option<Spanned<String>>,
    pub equals: Option<Spanned<String>>,
    pub at_least: Option<Spanned<i64>>,
    pub at_most: Option<Spanned<i64>>,
    pub role: Option<Spanned<String>>,
    /// `self-harm`, `violence` or `abuse`: what the person's safety concern is about.
    pub concern: Option<Spanned<String>>,
    /// Hours: whether the person answered a whole safety screen with nothing worrying (a
    /// button with `safety = "screened"`) within them, with no concern raised since.
    pub screened_within_hours: Option<Spanned<i64>>,
    pub goto: Spanned<String>,
}

/// `faq.toml`: the questions for `/faq` and the key takeaways for `/takeaways`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaqFile {
    pub takeaways: Spanned<String>,
    /// The takeaways as the partner who broke trust reads them, when they differ.
    pub takeaways_broke_trust: Option<Spanned<String>>,
    #[serde(default)]
    pub questions: Vec<Spanned<QuestionFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuestionFile {
    pub id: Spanned<String>,
    pub button: Spanned<String>,
    pub question: Spanned<String>,
    pub answer: Spanned<String>,
    pub keywords: Option<Vec<String>>,
    /// Whole messages people sent when asking this: the closest one counts.
    pub examples: Option<Vec<String>>,
    /// Flows the answer points to, named after it only while the person is offered them.
    pub flows: Option<Vec<Spanned<String>>>,
    /// The question as the partner who was hurt asks it, when the main wording speaks to the
    /// other partner (`[questions.hurt]`).
    pub hurt: Option<Spanned<WordingFile>>,
    /// The question as the partner who broke trust asks it (`[questions.broke_trust]`).
    pub broke_trust: Option<Spanned<WordingFile>>,
}

/// An FAQ question worded for one partner: its button, question line and answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WordingFile {
    pub button: Spanned<String>,
    pub question: Spanned<String>,
    pub answer: Spanned<String>,
}

/// `bot.toml`: the bot's own messages and the flow `/start` opens.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BotFile {
    pub start_flow: Spanned<String>,
    pub menu_order: Option<Vec<Spanned<String>>>,
    pub messages: Spanned<BTreeMap<Spanned<String>, Spanned<String>>>,
    #[serde(default)]
    pub commands: BTreeMap<Spanned<String>, Spanned<CommandFile>>,
    /// The flow `/checkin` opens to set reminders up.
    pub checkin_setup_flow: Option<Spanned<String>>,
    /// The flow `/checkin now` and every reminder open.
    pub checkin_flow: Option<Spanned<String>>,
    /// Where the buttons under a safety reply lead.
    pub safety: Option<Spanned<SafetyFile>>,
    /// Replies to someone writing outside a flow, by what their words mention.
    #[serde(default)]
    pub listen: Vec<Spanned<ListenFile>>,
}

/// `[[listen]]` in `bot.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListenFile {
    pub id: Spanned<String>,
    pub when_any: Spanned<Vec<Spanned<String>>>,
    pub say: Spanned<String>,
    #[serde(default)]
    pub offer: Vec<Spanned<String>>,
    /// Who it is for ("hurt", "broke_trust", "together"); everyone when left out.
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
}

/// `[safety]` in `bot.toml`: the safety flow and its grounding and safety-plan steps.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SafetyFile {
    pub flow: Spanned<String>,
    pub grounding: Spanned<String>,
    pub plan: Spanned<String>,
}

/// A command of the bot's own, such as `/safety` (opens a flow) or `/rules` (shows answers).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommandFile {
    pub about: Spanned<String>,
    pub open: Option<Spanned<String>>,
    pub show: Option<Spanned<String>>,
    pub text: Option<Spanned<String>>,
    pub missing: Option<Spanned<String>>,
    /// Couples mode: the rules agreed with a partner follow what the command shows.
    pub partner_rules: Option<bool>,
    /// Couples mode: a rule proposed there meets the notes of this shared question
    /// ("flow.step") before the partner reads it.
    pub rule_notes: Option<Spanned<String>>,
}
