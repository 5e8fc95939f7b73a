//! Warnings for what a flow may do but should not, for people reading on a phone in a
//! five-minute session: a long run of messages before the buttons, a message too long to read
//! at a glance, and a session whose exercises never use what the person typed. A warning
//! never stops a flow from loading.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use crate::dialogue::model::{Flow, LONG_MESSAGE, MAX_MESSAGES_BEFORE_BUTTONS, StepKind};

use super::analysis::graph_of;
use super::{FlowChecker, StepFacts};

/// A menu flow with at least this many steps is a session, which should hold an exercise.
pub(crate) const SESSION_STEPS: usize = 5;

impl FlowChecker<'_> {
    /// Adds the style warnings for `flow`; `id_span` is where the file names the flow, and
    /// `longest` the most characters each of its answers can hold.
    pub(super) fn check_style(
        &mut self,
        flow: &Flow,
        facts: &[StepFacts],
        id_span: Range<usize>,
        longest: &HashMap<String, usize>,
    ) {
        self.warn_long_messages(flow, facts, longest);
        self.warn_messages_before_buttons(flow, facts);
        self.warn_unused_answers(flow, id_span);
    }

    /// Warns about a text that can pass [`LONG_MESSAGE`] characters with every answer it
    /// shows at its longest. A review's notes are weighed one at a time, as most answers
    /// bring one or two.
    fn warn_long_messages(
        &mut self,
        flow: &Flow,
        facts: &[StepFacts],
        longest: &HashMap<String, usize>,
    ) {
        for (step, fact) in flow.steps.iter().zip(facts) {
            for (text, span) in step.texts().into_iter().zip(&fact.text_spans) {
                let length = text.worst_case_length(|name| longest.get(name).copied().unwrap_or(0));
                if length > LONG_MESSAGE {
                    let warning = self
                        .at(
                            span.clone(),
                            format!(
                                "a text of step \"{}\" is {length} characters long, more than a phone shows at a glance ({LONG_MESSAGE})",
                                step.id
                            ),
                        )
                        .help("split it over two steps, or say less: a few short lines read best")
                        .warning();
                    self.warnings.push(warning);
                }
            }
        }
    }

    fn warn_messages_before_buttons(&mut self, flow: &Flow, facts: &[StepFacts]) {
        let (_, edges) = graph_of(flow);
        let mut before: Vec<Vec<usize>> = vec![Vec::new(); edges.len()];
        for (from, targets) in edges.iter().enumerate() {
            for &to in targets {
                before[to].push(from);
            }
        }
        // The longest run of messages the bot sends on its own, without a pause, ending with
        // each step's own message; loops without a pause are errors reported elsewhere.
        let mut run: Vec<Option<usize>> = vec![None; edges.len()];
        for (index, step) in flow.steps.iter().enumerate() {
            let has_buttons = match &step.kind {
                StepKind::Choice { .. } => true,
                StepKind::End { suggest, .. } => !suggest.is_empty(),
                _ => false,
            };
            if !has_buttons {
                continue;
            }
            let messages = usize::from(step.say.is_some())
                + before[index]
                    .iter()
                    .map(|&from| messages_ending_at(flow, &before, from, &mut run))
                    .max()
                    .unwrap_or(0);
            if messages > MAX_MESSAGES_BEFORE_BUTTONS {
                let warning = self
                    .at(
                        facts[index].span.clone(),
                        format!(
                            "step \"{}\" comes at the end of {messages} messages in a row, its buttons under the last; on a phone the first ones scroll away",
                            step.id
                        ),
                    )
                    .help(format!(
                        "keep it to {MAX_MESSAGES_BEFORE_BUTTONS} or fewer, the one with the buttons included: merge messages, or give one a button (\"Go on\") so the person reads at their own pace"
                    ))
                    .warning();
                self.warnings.push(warning);
            }
        }
    }

    /// A session on the menu (not the welcome, a set-up or a short aside) whose exercises
    /// never show back or review what the person typed.
    fn warn_unused_answers(&mut self, flow: &Flow, id_span: Range<usize>) {
        if !flow.on_menu || flow.steps.len() < SESSION_STEPS {
            return;
        }
        let typed: BTreeSet<&str> = flow
            .steps
            .iter()
            .filter_map(|step| match &step.kind {
                StepKind::Ask { save, .. } => Some(save.as_str()),
                _ => None,
            })
            .collect();
        let used = flow.steps.iter().any(|step| {
            let reviewed = matches!(&step.kind, StepKind::Review { answer, .. } if typed.contains(answer.as_str()));
            reviewed
                || step
                    .texts()
                    .iter()
                    .any(|text| text.placeholders().any(|name| typed.contains(name)))
        });
        if !used {
            let warning = self
                .at(
                    id_span,
                    format!(
                        "flow \"{}\" has no exercise that uses what the person typed",
                        flow.id
                    ),
                )
                .help(
                    "ask for a few words (`ask = { save = \"...\" }`) and show them back later ({name}) or review them, so the exercise is the person's own",
                )
                .warning();
            self.warnings.push(warning);
        }
    }
}

/// How many messages the bot sends in a row, on its own, up to and including step `index`'s;
/// 0 when `index` waits for the person (the run starts after it).
fn messages_ending_at(
    flow: &Flow,
    before: &[Vec<usize>],
    index: usize,
    run: &mut Vec<Option<usize>>,
) -> usize {
    if let Some(known) = run[index] {
        return known;
    }
    let step = &flow.steps[index];
    let own = match &step.kind {
        StepKind::Message { .. } | StepKind::Review { .. } => usize::from(step.say.is_some()),
        StepKind::Branch { .. } => 0,
        // A step that waits (or ends, or leaves the flow) starts a new run after it.
        _ => return 0,
    };
    // Marked before following the steps before it, so a loop without a pause (an error
    // reported elsewhere) ends here.
    run[index] = Some(own);
    let earlier = before[index]
        .iter()
        .map(|&from| messages_ending_at(flow, before, from, run))
        .max()
        .unwrap_or(0);
    run[index] = Some(own + earlier);
    own + earlier
}
