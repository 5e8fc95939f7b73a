//! The bot's own words and settings from `bot.toml` (messages, commands, the safety and
//! check-in flows) and the FAQ from `faq.toml`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use crate::dialogue::review::Phrase;
use crate::dialogue::template::Template;

use super::{FlowId, Role, StepId};

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
    /// What to answer someone who writes outside a flow, by what their words mention.
    pub listen: Vec<Reflection>,
}

/// A reply to someone writing outside a flow (`[[listen]]` in `bot.toml`): when their words
/// mention one of `mentions`, the bot says `say` and offers the flows in `offer` that are on
/// their menu.
#[derive(Debug, Clone)]
pub struct Reflection {
    /// Stable, for translations.
    pub id: String,
    pub mentions: Vec<Phrase>,
    pub say: String,
    pub offer: Vec<FlowId>,
    /// Whose words it answers; empty for everyone (and for someone who has not said yet).
    pub roles: Vec<Role>,
}

impl Reflection {
    /// Whether this reply fits a person of `role`.
    pub fn fits(&self, role: Option<Role>) -> bool {
        match role {
            Some(role) => self.roles.is_empty() || self.roles.contains(&role),
            None => true,
        }
    }
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
    pub(crate) fn is_safety_flow(&self, flow: &FlowId) -> bool {
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
    /// Couples mode: while linked, the rules shared with the partner follow the action.
    pub partner_rules: bool,
    /// Couples mode: the shared question whose notes a rule proposed there meets before the
    /// partner reads it.
    pub rule_notes: Option<(FlowId, StepId)>,
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
    "summary",
    "invite",
    "unlink",
    "together",
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
        "said when someone types a word or two while buttons are shown",
    ),
    (
        "kept_text",
        "said when someone types more than a few words while buttons are shown: it is kept",
    ),
    (
        "menu_suggested",
        "a menu button for the suggested next step, marked where it stands on the path ({flow}: its title)",
    ),
    (
        "faq_not_answer",
        "said above the FAQ questions offered when a typed answer (at a step with offer_faq) is only a question: it is kept, not saved, and the step is shown again",
    ),
    (
        "kept_text_brief",
        "said instead of kept_text when the words were just met by a listen entry, or when words were kept already (they are replaced)",
    ),
    (
        "use_kept",
        "the label of the button that answers a typed question with the kept text",
    ),
    (
        "listen_default",
        "said when someone writes outside a flow and no [[listen]] entry fits",
    ),
    (
        "rules_decline_button",
        "the label of the button that says no to the partner's proposed rule ({number})",
    ),
    (
        "rules_declined",
        "said when someone declines their partner's proposed rule",
    ),
    (
        "rules_withdraw_confirm",
        "asks before withdrawing a rule both agreed ({number}, {rule}: its words)",
    ),
    (
        "rules_withdraw_yes_button",
        "withdraws the agreed rule after that question",
    ),
    (
        "rules_withdraw_no_button",
        "keeps the agreed rule after that question",
    ),
    (
        "listen_hello",
        "said, with the menu, to a greeting alone outside a flow (\"hi\", \"hello again\")",
    ),
    (
        "listen_thanks",
        "said, with the menu, to thanks alone outside a flow (\"thanks\", \"thank you so much\")",
    ),
    (
        "listen_offer",
        "the line above the flows a [[listen]] entry offers",
    ),
    (
        "menu_next",
        "added to the menu's line: where the person is ({stage}) and the next step ({flow})",
    ),
    (
        "menu_done",
        "the menu's button for a flow the person has walked to its end ({flow}: its title)",
    ),
    (
        "summary_nothing",
        "the reply to /summary when there is nothing to put in one yet",
    ),
    (
        "summary_intro",
        "the first reply to /summary: what it is, and that nothing goes in unpicked",
    ),
    (
        "summary_ask",
        "the question about each part of the summary ({part})",
    ),
    (
        "summary_include",
        "the button that puts a part in the summary",
    ),
    ("summary_leave", "the button that leaves a part out"),
    ("summary_stop", "the button that stops making the summary"),
    (
        "summary_stopped",
        "said when someone stops making the summary",
    ),
    (
        "summary_path",
        "the summary part: the stages and the conversations finished",
    ),
    (
        "summary_trend",
        "the summary part: the check-in trend and its chart",
    ),
    (
        "summary_notes",
        "the summary part: the notes written at check-ins",
    ),
    (
        "summary_none_picked",
        "said when every part was left out, so no summary is made",
    ),
    ("summary_ready", "the caption of the summary PDF"),
    (
        "summary_left_out",
        "added when a line was left out of the summary for the person's safety",
    ),
    ("summary_title", "the title at the top of the summary PDF"),
    ("summary_made", "the line under the title ({date})"),
    ("summary_footer", "the line at the foot of the summary PDF"),
    (
        "stage_first_days",
        "the name of the first stage, as the menu shows it",
    ),
    (
        "stage_atone",
        "the name of the atone stage, as the menu shows it",
    ),
    (
        "stage_attune",
        "the name of the attune stage, as the menu shows it",
    ),
    (
        "stage_attach",
        "the name of the attach stage, as the menu shows it",
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
        "faq_in_answer",
        "above the FAQ questions offered for a question typed inside an answer, which is kept",
    ),
    (
        "faq_back",
        "the button under an FAQ answer read in the middle of a flow, back to its step",
    ),
    (
        "faq_all_button",
        "the label of the last button under suggested questions, which lists them all",
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
        "checkin_already",
        "said before the check-in that /checkin starts once reminders are set (how to change or stop them)",
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
        "answer_time_which_half",
        "asks whether a bare {hour} (1 to 12) means the morning or the evening",
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
        "safety_safe_check",
        "asked once, after \"I'm safe\" following words about hurting oneself: is there someone they could reach",
    ),
    (
        "safety_someone",
        "that question's button: yes, there is someone",
    ),
    ("safety_no_one", "that question's button: not really"),
    (
        "safety_no_one_reply",
        "said after \"not really\": a line to call any time, and the safety plan offered",
    ),
    (
        "rules_gone_list",
        "under /rules, above the rules the partner withdrew or declined lately",
    ),
    (
        "rules_gone_withdrawn",
        "a line of that list: an agreed {rule} the partner withdrew",
    ),
    (
        "rules_gone_declined",
        "a line of that list: a {rule} this person proposed and the partner declined",
    ),
    (
        "rules_send_or_rewrite",
        "said after the notes a proposed rule met before the partner reads it: write it again, or send it as it is",
    ),
    (
        "rules_send_as_is_button",
        "the button under those notes that sends the rule unchanged",
    ),
    ("safety_go_on", "the button after that reply: go on for now"),
    (
        "safety_back_alone",
        "said instead of safety_back when going on after saying there is no one to reach",
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
    (
        "invite_intro",
        "/invite: what linking a partner means, before the private check",
    ),
    (
        "invite_made",
        "above the invitation: forward the next message; single use, 24 hours",
    ),
    ("invite_card", "the invitation to forward, with {link}"),
    ("invite_failed", "said when an invitation could not be made"),
    (
        "invite_withdrawn",
        "said when a pending invitation is withdrawn",
    ),
    ("invite_pending", "/together while the invitation waits"),
    ("invite_unusable", "an expired, used or forged invitation"),
    ("invite_own", "someone opened their own invitation"),
    ("already_linked", "/invite or a link while already linked"),
    (
        "join_consent",
        "what linking means, shown to the partner who opened the invitation",
    ),
    (
        "join_accept_button",
        "the button that accepts an invitation",
    ),
    (
        "join_decline_button",
        "the button that leaves an invitation for now",
    ),
    ("join_declined", "after not now"),
    ("linked", "to the one who accepted"),
    ("linked_notice", "to the inviter, discreet"),
    (
        "link_not_completed",
        "to the other partner when linking cannot happen: neutral",
    ),
    (
        "link_alone",
        "to the person whose answers set linking aside",
    ),
    ("unlink_confirm", "asks before ending a link"),
    ("unlink_yes_button", "the button that ends a link"),
    ("unlink_no_button", "the button that keeps a link"),
    ("unlinked", "to the one who ended a link"),
    (
        "unlinked_notice",
        "to the other partner when a link ends: neutral",
    ),
    ("not_linked", "/unlink or /together when not linked"),
    ("shared_saved", "after answering a shared question first"),
    ("shared_held", "both answered, the partner said not yet"),
    (
        "shared_held_mine",
        "both or one answered, this person said not yet",
    ),
    ("not_yet_button", "holds an answer back"),
    (
        "before_sharing",
        "opens the notes a shared question's answer met before the partner can read it",
    ),
    (
        "share_or_rewrite",
        "after those notes: the person may write the answer again, or share it as it is",
    ),
    (
        "share_as_is_button",
        "shares an answer as it is after its notes",
    ),
    ("ready_button", "lets the answers be shown"),
    ("shared_ready_notice", "discreet notice to a partner"),
    ("together_intro", "above the list of shared exercises"),
    (
        "together_empty",
        "/together when no shared exercise is there yet",
    ),
    ("together_open", "a shared exercise nobody answered"),
    ("together_waiting_partner", "answered by this person only"),
    ("together_waiting_you", "answered by the partner only"),
    ("together_revealed", "both answers shown"),
    (
        "rules_intro",
        "/rules when linked: above the rules shared with the partner",
    ),
    ("rules_agreed_list", "the heading of the agreed rules"),
    (
        "rules_for_you_list",
        "the heading of the partner's proposals waiting for this person",
    ),
    (
        "rules_for_partner_list",
        "the heading of this person's proposals waiting for the partner",
    ),
    ("rules_none", "/rules when no rule is shared yet"),
    (
        "rules_accept_button",
        "the button that accepts rule {number}",
    ),
    (
        "rules_withdraw_button",
        "the button that withdraws rule {number}",
    ),
    ("rules_propose_button", "the button that proposes a rule"),
    (
        "rules_propose_ask",
        "asks for the words of a rule to propose",
    ),
    ("rules_length", "a proposed rule too short or too long"),
    ("rules_proposed", "after proposing a rule"),
    ("rules_agreed", "after accepting a rule"),
    ("rules_withdrawn", "after withdrawing a rule"),
    (
        "rules_notice",
        "discreet notice to the partner about a rule",
    ),
    (
        "together_ratings_on_button",
        "the /together button that shares check-in ratings",
    ),
    (
        "together_ratings_off_button",
        "the /together button that stops sharing ratings",
    ),
    (
        "together_ratings_both",
        "/together: both share check-in ratings",
    ),
    (
        "together_ratings_you",
        "/together: this person shares ratings, the partner not yet",
    ),
    (
        "together_ratings_partner",
        "/together: the partner would like to share ratings",
    ),
    (
        "ratings_on_both",
        "after choosing to share ratings, when the partner already does",
    ),
    (
        "ratings_on_waiting",
        "after choosing to share ratings, while the partner has not",
    ),
    ("ratings_off", "after stopping sharing ratings"),
    (
        "ratings_compare",
        "after a shared check-in: the two latest ratings, {mine} and {partner}",
    ),
    (
        "ratings_apart",
        "after a shared check-in when the two ratings are far apart",
    ),
    (
        "ratings_shared_first",
        "after a shared check-in when the partner has not rated yet",
    ),
    (
        "progress_partner",
        "added to /progress when a partner's ratings are on the chart",
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
    /// The takeaways as the partner who broke trust reads them, when written for them.
    pub takeaways_broke_trust: Option<String>,
    /// How many questions' examples hold each term, read the first time it is needed.
    pub(crate) example_counts: OnceLock<ExampleCounts>,
    /// The learned order of the questions, fitted on the examples the first time it is needed
    /// (`None` when too few examples to learn from).
    pub(crate) ranker: OnceLock<Option<crate::dialogue::faq::Ranker>>,
}

impl Faq {
    /// The takeaways a person of `role` reads: their own when written, the main ones otherwise.
    pub fn takeaways_for(&self, role: Option<Role>) -> &str {
        match (role, &self.takeaways_broke_trust) {
            (Some(Role::BrokeTrust), Some(theirs)) => theirs,
            _ => &self.takeaways,
        }
    }
}

/// How rare each term is among all the FAQ's examples (see `dialogue::faq`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ExampleCounts {
    /// How many examples hold each term.
    pub holding: BTreeMap<String, usize>,
    /// How many examples there are.
    pub total: usize,
    /// Every example's length as a weighed vector (see `dialogue::faq`), by question and then
    /// example, in file order: an example's number is its place here.
    pub norms: Vec<f64>,
    /// The question of each example, by its number.
    pub owners: Vec<usize>,
    /// The examples that hold each term, by number, in order.
    pub postings: BTreeMap<String, Vec<usize>>,
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
    /// Whole messages people sent when they asked this (see `dialogue::faq`).
    pub examples: Vec<String>,
    /// Flows the answer points to: named after it (`faq_try` in `bot.toml`) only when they
    /// are on the person's menu, so an answer never points to a flow set aside.
    pub flows: Vec<FlowId>,
    /// The question as the other partner asks it, where the main wording speaks to one: shown
    /// to a person of that role in place of `button`, `question` and `answer`. Matching reads
    /// the main wording only.
    pub wordings: Vec<(Role, Wording)>,
    /// Its words read into matching terms, once, by `dialogue::faq` the first time a typed
    /// question is matched.
    pub(crate) terms: OnceLock<QuestionTerms>,
}

/// An FAQ question as one partner asks it and needs it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wording {
    /// The short label of its button.
    pub button: String,
    pub question: String,
    pub answer: String,
}

impl Question {
    /// The button label, question line and answer shown to a person of `role`: their own
    /// wording when the question has one, the main one otherwise.
    pub fn worded_for(&self, role: Option<Role>) -> (&str, &str, &str) {
        match self
            .wordings
            .iter()
            .find(|(wording_role, _)| Some(*wording_role) == role)
        {
            Some((_, wording)) => (&wording.button, &wording.question, &wording.answer),
            None => (&self.button, &self.question, &self.answer),
        }
    }
}

/// A question's words as the FAQ matcher reads them (see `dialogue::faq`).
#[derive(Debug, Clone, Default)]
pub(crate) struct QuestionTerms {
    /// The content terms of its `question` line.
    pub line: BTreeSet<String>,
    /// The content terms of its `question` line and its `keywords`.
    pub core: BTreeSet<String>,
    /// The content terms of its answer.
    pub answer: BTreeSet<String>,
    /// Its keywords of several terms, each matched as a whole.
    pub phrases: Vec<Vec<String>>,
    /// The content terms of each of its examples.
    pub examples: Vec<BTreeSet<String>>,
}
