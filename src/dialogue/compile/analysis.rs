//! The checks on a flow's graph: every step reachable, every end reachable, answers saved
//! before a template or a review reads them.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::calendar::zones::is_zone_name;
use crate::diagnostics::did_you_mean;
use crate::dialogue::model::{AnswerRule, EndEffect, Flow, StepKind, zone_time_name};
use crate::dialogue::template::PARTNER_PREFIX;

use super::{FlowChecker, MAX_MESSAGE_LENGTH, StepFacts};

impl FlowChecker<'_> {
    /// Reachability, traps, loops without a pause, placeholders and message length.
    /// `longest` is [`longest_answers`] of the flow.
    pub(super) fn check_graph(
        &mut self,
        flow: &Flow,
        facts: &[StepFacts],
        longest: &HashMap<String, usize>,
    ) {
        let (position, edges) = graph_of(flow);
        let Some(&entry) = position.get(flow.entry.0.as_str()) else {
            return;
        };

        // Every step reachable from the entry.
        let reachable = reach(entry, &edges);
        for (index, step) in flow.steps.iter().enumerate() {
            if !reachable.contains(&index) {
                self.report(
                    self.at(
                        facts[index].span.clone(),
                        format!(
                            "step \"{}\" can never be reached from the entry \"{}\"",
                            step.id, flow.entry
                        ),
                    )
                    .help("point a button, `next` or branch at it, or remove it"),
                );
            }
        }

        // Every step can reach an end or a jump.
        let mut reverse = vec![Vec::new(); edges.len()];
        for (from, targets) in edges.iter().enumerate() {
            for &to in targets {
                reverse[to].push(from);
            }
        }
        let mut can_finish = HashSet::new();
        for (index, step) in flow.steps.iter().enumerate() {
            if matches!(step.kind, StepKind::End { .. } | StepKind::Jump { .. }) {
                can_finish.extend(reach(index, &reverse));
            }
        }
        for (index, step) in flow.steps.iter().enumerate() {
            if reachable.contains(&index) && !can_finish.contains(&index) {
                self.report(
                    self.at(
                        facts[index].span.clone(),
                        format!(
                            "step \"{}\" is a trap: no path from it reaches an end",
                            step.id
                        ),
                    )
                    .help("give it a way on to an `end = true` step or a `jump`"),
                );
            }
        }

        // A loop of steps that never wait for the person would spin for ever.
        let automatic: Vec<Vec<usize>> = edges
            .iter()
            .enumerate()
            .map(|(index, targets)| {
                if flow.steps[index].kind.waits_for_person() {
                    Vec::new()
                } else {
                    targets.clone()
                }
            })
            .collect();
        for (index, step) in flow.steps.iter().enumerate() {
            if automatic[index]
                .iter()
                .any(|&next| reach(next, &automatic).contains(&index))
            {
                self.report(
                    self.at(
                        facts[index].span.clone(),
                        format!(
                            "step \"{}\" is in a loop that never waits for the person",
                            step.id
                        ),
                    )
                    .help("put a step with buttons or a question in the loop"),
                );
            }
        }

        // Placeholders only name answers saved on every path to the step.
        let saved = must_be_saved(flow, entry, &position, &edges);
        let mut schedules = false;
        for (index, step) in flow.steps.iter().enumerate() {
            let (
                StepKind::End {
                    effect: Some(effect),
                    ..
                },
                Some(available),
            ) = (&step.kind, &saved[index])
            else {
                continue;
            };
            for name in effect.needs() {
                if !available.contains(*name) {
                    self.report(self.at(facts[index].span.clone(), format!("step \"{}\" ends with `effect = \"{}\"`, which needs the answer \"{name}\" saved on every path to it", step.id, effect.word())).help(format!("save \"{name}\" before every way into this step")));
                }
            }
            schedules |= *effect == EndEffect::ScheduleCheckins;
        }
        if schedules {
            self.check_schedule_words(flow, facts);
        }
        for (index, step) in flow.steps.iter().enumerate() {
            let texts = step.texts();
            let spans = &facts[index].text_spans;
            if let Some(available) = &saved[index] {
                // A shared question's reveal shows both answers; its `say` comes before them.
                let revealed = with_reveal(step, available);
                let reveal_index = match &step.kind {
                    StepKind::Ask {
                        reveal: Some(_), ..
                    } => texts.len().checked_sub(1),
                    _ => None,
                };
                if let (StepKind::Review { answer, .. }, Some(span)) =
                    (&step.kind, &facts[index].review_span)
                    && !available.contains(answer)
                {
                    self.report(self.at(span.clone(), format!("step \"{}\" reviews \"{answer}\", but not every path to it saves it", step.id)).help(format!("make sure \"{answer}\" is saved before every way into this step, and not cleared")));
                }
                for (text_index, (text, span)) in texts.iter().zip(spans).enumerate() {
                    let available = if Some(text_index) == reveal_index {
                        &revealed
                    } else {
                        available
                    };
                    for name in text.placeholders() {
                        if !available.contains(name) {
                            let diagnostic = self.at(span.clone(), format!("step \"{}\" shows {{{name}}}, but not every path to it saves \"{name}\"", step.id));
                            let diagnostic = if name.starts_with(PARTNER_PREFIX)
                                && longest.contains_key(name)
                            {
                                diagnostic.help("a partner's answer shows only in its shared step's `reveal` and in the steps after it")
                            } else if longest.contains_key(name) {
                                diagnostic.help(format!("make sure \"{name}\" is saved before every way into this step, and not cleared"))
                            } else {
                                match did_you_mean(name, longest.keys().map(String::as_str)) {
                                    Some(close) => diagnostic.help(format!("did you mean {{{close}}}?")),
                                    None => diagnostic.help("no step of this flow saves it; save it with `ask = { save = \"...\" }`"),
                                }
                            };
                            self.report(diagnostic);
                        }
                    }
                }
            }
            // A review shows its texts together in one message, two line breaks apart.
            let worst = texts
                .iter()
                .map(|text| text.worst_case_length(|name| longest.get(name).copied().unwrap_or(0)))
                .sum::<usize>()
                + 2 * texts.len().saturating_sub(1);
            if worst > MAX_MESSAGE_LENGTH {
                let span = spans.first().unwrap_or(&facts[index].span).clone();
                self.report(self.at(span, format!("step \"{}\" can grow to {worst} characters with its answers filled in; Telegram allows {MAX_MESSAGE_LENGTH}", step.id)).help("shorten the text, or lower `max_length` on the questions it shows"));
            }
        }
    }
}
/// The most characters each answer a flow saves can hold: a typed answer's `max_length` (or
/// its kind's longest), a button's longest value.
pub(super) fn longest_answers(flow: &Flow) -> HashMap<String, usize> {
    flow.steps
        .iter()
        .flat_map(|step| match &step.kind {
            StepKind::Ask {
                save,
                rule: AnswerRule::Zone,
                ..
            } => vec![
                (save.clone(), AnswerRule::Zone.longest()),
                (zone_time_name(save), AnswerRule::Time.longest()),
            ],
            StepKind::Ask {
                save,
                rule,
                reveal: Some(_),
                ..
            } => vec![
                (save.clone(), rule.longest()),
                (partner_name(save), rule.longest()),
            ],
            StepKind::Ask { save, rule, .. } => vec![(save.clone(), rule.longest())],
            StepKind::Choice {
                save: Some(save),
                choices,
            } => {
                let longest = choices
                    .iter()
                    .map(|choice| choice.value.chars().count())
                    .max()
                    .unwrap_or(0);
                let mut saved = vec![(save.clone(), longest)];
                if choices.iter().any(|choice| is_zone_name(&choice.value)) {
                    saved.push((zone_time_name(save), AnswerRule::Time.longest()));
                }
                saved
            }
            _ => Vec::new(),
        })
        .fold(HashMap::new(), |mut map, (name, length)| {
            let entry = map.entry(name).or_insert(0);
            *entry = (*entry).max(length);
            map
        })
}

/// The steps reachable from `start` (itself included).
pub(super) fn reach(start: usize, edges: &[Vec<usize>]) -> HashSet<usize> {
    let mut seen = HashSet::from([start]);
    let mut stack = vec![start];
    while let Some(node) = stack.pop() {
        for &next in &edges[node] {
            if seen.insert(next) {
                stack.push(next);
            }
        }
    }
    seen
}

/// Each step's index by id, and the steps each step can go to.
pub(super) fn graph_of(flow: &Flow) -> (HashMap<&str, usize>, Vec<Vec<usize>>) {
    let position: HashMap<&str, usize> = flow
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| (step.id.0.as_str(), index))
        .collect();
    let edges = flow
        .steps
        .iter()
        .map(|step| {
            step.kind
                .targets()
                .into_iter()
                .filter_map(|target| position.get(target.0.as_str()).copied())
                .collect()
        })
        .collect();
    (position, edges)
}

/// The answers a flow entered at step `start` (not its entry) would show without ever having
/// saved them: `(step, answer)` pairs.
pub(super) fn unsaved_from(flow: &Flow, start: &str) -> Vec<(String, String)> {
    let (position, edges) = graph_of(flow);
    let Some(&start) = position.get(start) else {
        return Vec::new();
    };
    let saved = must_be_saved(flow, start, &position, &edges);
    let mut missing = Vec::new();
    for (step, available) in flow.steps.iter().zip(&saved) {
        let Some(available) = available else {
            continue;
        };
        let available = &with_reveal(step, available);
        let mut shown: Vec<&str> = step
            .texts()
            .into_iter()
            .flat_map(|text| text.placeholders())
            .collect();
        if let StepKind::Review { answer, .. } = &step.kind {
            shown.push(answer);
        }
        for name in shown {
            if !available.contains(name) {
                missing.push((step.id.0.clone(), name.to_owned()));
            }
        }
    }
    missing
}

/// For each reachable step, the answers saved on every path from the entry to it (a forward
/// "must" data-flow analysis). Unreachable steps get `None`. `position` and `edges` are
/// [`graph_of`]'s.
pub(super) fn must_be_saved(
    flow: &Flow,
    entry: usize,
    position: &HashMap<&str, usize>,
    edges: &[Vec<usize>],
) -> Vec<Option<BTreeSet<String>>> {
    let mut saved: Vec<Option<BTreeSet<String>>> = vec![None; flow.steps.len()];
    saved[entry] = Some(BTreeSet::new());
    let mut work = vec![entry];
    while let Some(node) = work.pop() {
        let Some(here) = saved[node].clone() else {
            continue;
        };
        let step = &flow.steps[node];
        let outgoing: Vec<(usize, BTreeSet<String>)> = match &step.kind {
            StepKind::Ask {
                save,
                next,
                rule,
                reveal,
                ..
            } => {
                let mut after = here.clone();
                after.insert(save.clone());
                if reveal.is_some() {
                    after.insert(partner_name(save));
                }
                if *rule == AnswerRule::Zone {
                    after.insert(zone_time_name(save));
                }
                position
                    .get(next.0.as_str())
                    .map(|&to| (to, after))
                    .into_iter()
                    .collect()
            }
            StepKind::Choice { save, choices } => choices
                .iter()
                .filter_map(|choice| {
                    let mut after = here.clone();
                    if let Some(save) = save {
                        after.insert(save.clone());
                        if is_zone_name(&choice.value) {
                            after.insert(zone_time_name(save));
                        }
                    }
                    for cleared in &choice.clear {
                        after.remove(cleared);
                    }
                    position.get(choice.goto.0.as_str()).map(|&to| (to, after))
                })
                .collect(),
            _ => edges[node].iter().map(|&to| (to, here.clone())).collect(),
        };
        for (to, after) in outgoing {
            let merged = match &saved[to] {
                None => after,
                Some(existing) => existing.intersection(&after).cloned().collect(),
            };
            if saved[to].as_ref() != Some(&merged) {
                saved[to] = Some(merged);
                work.push(to);
            }
        }
    }
    saved
}

/// The name under which a shared answer's partner side is shown: `partner.<name>`.
pub(super) fn partner_name(save: &str) -> String {
    format!("{PARTNER_PREFIX}{save}")
}

/// The answers a step's reveal may show: `available`, and for a shared question both sides
/// of its answer.
fn with_reveal(
    step: &crate::dialogue::model::Step,
    available: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut revealed = available.clone();
    if let StepKind::Ask {
        save,
        reveal: Some(_),
        ..
    } = &step.kind
    {
        revealed.insert(save.clone());
        revealed.insert(partner_name(save));
    }
    revealed
}
