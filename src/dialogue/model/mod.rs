//! The validated, in-memory form of the dialogue folder: flows, their steps and the bot's own
//! messages. Built only by `compile`, so every reference in it is known to resolve.
//! This file holds the ids, roles and the `Library`; `flow` the flows and their steps, `bot`
//! the bot's own messages, commands and FAQ.

mod bot;
mod flow;

pub use self::bot::{
    BOT_MESSAGES, BUILT_IN_COMMANDS, BotCommand, BotText, CheckinFlows, CommandAction, Faq,
    Question, Reflection, SafetySteps, Wording,
};
pub(crate) use self::bot::{ExampleCounts, QuestionTerms};
pub use self::flow::{
    AnswerRule, BranchRule, BranchTest, Choice, EndEffect, Flow, SafetyMark, Step, StepKind,
    zone_time_name,
};

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

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

/// Where a flow sits on the path of affair recovery, in the order people usually walk it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The first days and weeks after finding out: steadying, not deciding.
    FirstDays,
    /// The partner who broke trust takes responsibility; the hurt partner is heard.
    Atone,
    /// Learning to talk, turn toward each other and repair, without blaming the hurt partner.
    Attune,
    /// Closeness, shared meaning and new agreements; forgiveness belongs here, late.
    Attach,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::FirstDays, Stage::Atone, Stage::Attune, Stage::Attach];

    /// The word an author writes for this stage.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::FirstDays => "first_days",
            Stage::Atone => "atone",
            Stage::Attune => "attune",
            Stage::Attach => "attach",
        }
    }

    pub fn parse(word: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.as_str() == word)
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
    /// The bot's own words a person may type back: flow titles and the labels of buttons
    /// that say nothing about safety, folded by [`label_key`].
    own_labels: std::collections::HashSet<String>,
}

/// How long data is kept unless the configuration says otherwise.
pub const DEFAULT_RETENTION_DAYS: u64 = 180;

/// More messages than this in a row, the one with the buttons included, scroll the first ones
/// away on a phone: `kintsugi check` warns of a step that sends more, and the engine joins
/// messages when a note and a step together would.
pub const MAX_MESSAGES_BEFORE_BUTTONS: usize = 3;
/// A message longer than this is more than a phone shows at a glance.
pub const LONG_MESSAGE: usize = 600;

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
        let own_labels = flows
            .iter()
            .flat_map(|flow| {
                let labels = flow.steps.iter().flat_map(|step| match &step.kind {
                    StepKind::Choice { choices, .. } => choices
                        .iter()
                        .filter(|choice| choice.safety.is_none())
                        .map(|choice| choice.label.as_str())
                        .collect(),
                    _ => Vec::new(),
                });
                std::iter::once(flow.title.as_str()).chain(labels)
            })
            // The bot's own buttons from `bot.toml` ("I'm ready to see them", "Yes, link us"),
            // those without a number to fill in; none of them is about safety.
            .chain(
                bot.messages
                    .iter()
                    .filter(|(key, label)| {
                        (key.ends_with("_button") && *key != "stale_button" || *key == "use_kept")
                            && !label.contains('{')
                    })
                    .map(|(_, label)| label.as_str()),
            )
            .map(label_key)
            .filter(|key| !key.is_empty())
            .collect();
        Library {
            own_labels,
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

    /// What the crisis-language screen finds in `text`, if anything. A flow's title or a
    /// button's label typed back ("Healing the deepest hurt") is the bot's own words, not
    /// the person's, and is not screened.
    pub fn screen(&self, text: &str) -> Option<crate::safety::Concern> {
        if self.own_labels.contains(&label_key(text)) {
            return None;
        }
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
    pub(crate) fn counts(&self) -> (usize, usize) {
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

/// `text` as a label is compared: as the crisis screen reads it (lower case, letters and
/// digits, one space between words).
fn label_key(text: &str) -> String {
    crate::safety::normalise(text)
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
