//! Checks what a step asks for: the rule a typed answer must meet, branch rules, and the
//! words a check-in schedule is built from.

use std::collections::BTreeSet;

use toml::Spanned;

use crate::calendar::parse_frequency;
use crate::diagnostics::did_you_mean;
use crate::dialogue::model::{AnswerRule, BranchRule, BranchTest, Flow, StepKind};
use crate::dialogue::source::RuleFile;
use crate::safety::ConcernKind;

use super::{DEFAULT_MAX_ANSWER, FlowChecker, LARGEST_MAX_ANSWER, StepFacts};

impl FlowChecker<'_> {
    pub(super) fn check_ask(
        &mut self,
        id: &str,
        ask: &Spanned<crate::dialogue::source::AskFile>,
    ) -> Option<AnswerRule> {
        let raw = ask.get_ref();
        if let Some(kind) = &raw.kind {
            let rule = match kind.get_ref().as_str() {
                "time" => AnswerRule::Time,
                "zone" => AnswerRule::Zone,
                "text" | "number" => {
                    self.report(self.at(kind.span(), format!("step \"{id}\": `kind = \"{}\"` is the default", kind.get_ref())).help("remove `kind`: a question is text, or a number when it has `min` and `max`"));
                    return None;
                }
                other => {
                    let diagnostic = self.at(
                        kind.span(),
                        format!("step \"{id}\" asks for an unknown kind of answer \"{other}\""),
                    );
                    self.report(match did_you_mean(other, ["time", "zone"]) {
                        Some(close) => {
                            diagnostic.help(format!("did you mean \"{close}\"? kinds: time, zone"))
                        }
                        None => diagnostic.help("kinds: time (a time of day), zone (a time zone)"),
                    });
                    return None;
                }
            };
            if raw.min.is_some()
                || raw.max.is_some()
                || raw.min_length.is_some()
                || raw.max_length.is_some()
            {
                self.report(
                    self.at(
                        ask.span(),
                        format!(
                            "step \"{id}\" asks for a {} but also gives limits",
                            kind.get_ref()
                        ),
                    )
                    .help("remove `min`, `max`, `min_length` and `max_length`"),
                );
                return None;
            }
            return Some(rule);
        }
        let numeric = raw.min.is_some() || raw.max.is_some();
        let textual = raw.min_length.is_some() || raw.max_length.is_some();
        if numeric && textual {
            self.report(self.at(ask.span(), format!("step \"{id}\" mixes number limits (`min`, `max`) with text limits (`min_length`, `max_length`)")).help("a question expects either a number or text"));
            return None;
        }
        if numeric {
            let (Some(min), Some(max)) = (&raw.min, &raw.max) else {
                self.report(
                    self.at(
                        ask.span(),
                        format!(
                            "step \"{id}\" asks for a number but gives only one end of the range"
                        ),
                    )
                    .help("give both `min` and `max`"),
                );
                return None;
            };
            if min.get_ref() > max.get_ref() {
                self.report(
                    self.at(
                        min.span(),
                        format!(
                            "step \"{id}\" asks for a number from {} to {}, which is empty",
                            min.get_ref(),
                            max.get_ref()
                        ),
                    )
                    .help("swap `min` and `max`"),
                );
                return None;
            }
            return Some(AnswerRule::Number {
                min: *min.get_ref(),
                max: *max.get_ref(),
            });
        }
        let min_length = raw.min_length.as_ref().map_or(1, |value| *value.get_ref());
        let max_length = raw
            .max_length
            .as_ref()
            .map_or(DEFAULT_MAX_ANSWER as i64, |value| *value.get_ref());
        if max_length < 1 || max_length > LARGEST_MAX_ANSWER as i64 {
            let span = raw.max_length.as_ref().map_or(ask.span(), Spanned::span);
            self.report(self.at(
                span,
                format!("step \"{id}\": `max_length` must be between 1 and {LARGEST_MAX_ANSWER}"),
            ));
            return None;
        }
        if min_length < 1 || min_length > max_length {
            let span = raw.min_length.as_ref().map_or(ask.span(), Spanned::span);
            self.report(self.at(
                span,
                format!(
                    "step \"{id}\": `min_length` must be between 1 and `max_length` ({max_length})"
                ),
            ));
            return None;
        }
        Some(AnswerRule::Text {
            min_length: min_length as usize,
            max_length: max_length as usize,
        })
    }

    /// `flow.name` in a rule: an answer another flow saves (the person may not have walked
    /// it, and then the rule does not hold).
    fn other_flow_answer(
        &mut self,
        id: &str,
        written: &Spanned<String>,
        flow: &str,
        name: &str,
    ) -> Option<String> {
        if self.known_flows.lacks(flow) {
            let diagnostic = self.at(
                written.span(),
                format!("a rule of step \"{id}\" reads an answer of unknown flow \"{flow}\""),
            );
            self.report(self.known_flows.suggest(diagnostic, flow));
            return None;
        }
        if let Some(saved) = self.known_flows.saves.get(flow)
            && !saved.contains(name)
        {
            let diagnostic = self.at(
                written.span(),
                format!("a rule of step \"{id}\" reads answer \"{name}\", which flow \"{flow}\" never saves"),
            );
            let listed: Vec<&str> = saved.iter().copied().collect();
            self.report(match did_you_mean(name, listed.iter().copied()) {
                Some(close) => diagnostic.help(format!("did you mean \"{flow}.{close}\"?")),
                None => diagnostic.help(format!("\"{flow}\" saves: {}", listed.join(", "))),
            });
            return None;
        }
        Some(format!("{flow}.{name}"))
    }

    /// Reports a rule of `kind` (screening, concern, role) that also compares an answer
    /// (`tests` of `equals`, `at_least` and `at_most` given): it tests one thing only.
    fn refuse_comparison<T>(&mut self, tests: usize, rule: &Spanned<T>, id: &str, kind: &str) {
        if tests > 0 {
            self.report(
                self.at(
                    rule.span(),
                    format!("a {kind} rule of step \"{id}\" cannot also compare an answer"),
                )
                .help("remove `equals`, `at_least` and `at_most`"),
            );
        }
    }

    pub(super) fn check_rule(
        &mut self,
        id: &str,
        rule: &Spanned<RuleFile>,
        step_names: &[&str],
        saved_names: &BTreeSet<String>,
    ) -> Option<BranchRule> {
        let raw = rule.get_ref();
        let goto = self.target(id, &raw.goto, step_names);
        let tests = [
            raw.equals.is_some(),
            raw.at_least.is_some(),
            raw.at_most.is_some(),
        ]
        .iter()
        .filter(|present| **present)
        .count();
        let subjects = [
            raw.answer.is_some(),
            raw.role.is_some(),
            raw.concern.is_some(),
            raw.screened_within_hours.is_some(),
        ]
        .iter()
        .filter(|present| **present)
        .count();
        if subjects != 1 {
            self.report(self.at(
                rule.span(),
                format!(
                    "a rule of step \"{id}\" must test exactly one of an `answer`, a `role`, a `concern` or `screened_within_hours`"
                ),
            ));
            return None;
        }
        if let Some(hours) = &raw.screened_within_hours {
            self.refuse_comparison(tests, rule, id, "screening");
            if !(1..=24 * 7).contains(hours.get_ref()) {
                self.report(
                    self.at(
                        hours.span(),
                        format!(
                            "a rule of step \"{id}\" trusts a safety screen for {} hours",
                            hours.get_ref()
                        ),
                    )
                    .help("use 1 to 168 hours (a week); a day is usual"),
                );
                return None;
            }
            return Some(BranchRule {
                test: BranchTest::ScreenedWithin(hours.get_ref() * 60 * 60),
                goto,
            });
        }
        if let Some(concern) = &raw.concern {
            self.refuse_comparison(tests, rule, id, "concern");
            let kind = match concern.get_ref().as_str() {
                "self-harm" => ConcernKind::SelfHarm,
                "violence" => ConcernKind::Violence,
                "abuse" => ConcernKind::Abuse,
                other => {
                    self.report(
                        self.at(
                            concern.span(),
                            format!("a rule of step \"{id}\" tests an unknown concern \"{other}\""),
                        )
                        .help("use \"self-harm\", \"violence\" or \"abuse\""),
                    );
                    return None;
                }
            };
            return Some(BranchRule {
                test: BranchTest::ConcernIs(kind),
                goto,
            });
        }
        let test = match (&raw.answer, &raw.role) {
            (Some(_), Some(_)) | (None, None) => return None,
            (None, Some(role)) => {
                self.refuse_comparison(tests, rule, id, "role");
                BranchTest::RoleIs(self.role(role)?)
            }
            (Some(answer), None) => {
                let answer = match answer.get_ref().split_once('.') {
                    Some((flow, name)) => self.other_flow_answer(id, answer, flow, name)?,
                    None => self.answer_name(id, answer, saved_names, true),
                };
                if tests != 1 {
                    self.report(self.at(rule.span(), format!("an answer rule of step \"{id}\" needs exactly one of `equals`, `at_least` or `at_most`")));
                    return None;
                }
                if let Some(value) = &raw.equals {
                    BranchTest::AnswerEquals {
                        answer,
                        value: value.get_ref().clone(),
                    }
                } else if let Some(bound) = &raw.at_least {
                    BranchTest::AnswerAtLeast {
                        answer,
                        bound: *bound.get_ref(),
                    }
                } else {
                    let bound = raw.at_most.as_ref()?;
                    BranchTest::AnswerAtMost {
                        answer,
                        bound: *bound.get_ref(),
                    }
                }
            }
        };
        Some(BranchRule { test, goto })
    }

    /// The buttons that save `frequency` and `weekday` in a flow that schedules check-ins
    /// must use the words the schedule understands.
    pub(super) fn check_schedule_words(&mut self, flow: &Flow, facts: &[StepFacts]) {
        for (index, step) in flow.steps.iter().enumerate() {
            let StepKind::Choice {
                save: Some(save),
                choices,
            } = &step.kind
            else {
                continue;
            };
            let (known, valid): (&str, fn(&str) -> bool) = match save.as_str() {
                "frequency" => ("daily, every 2 days ... every 6 days, weekly", |word| {
                    parse_frequency(word, None).is_some()
                }),
                "weekday" => ("mon, tue, wed, thu, fri, sat, sun", |word| {
                    word.parse::<chrono::Weekday>().is_ok()
                }),
                _ => continue,
            };
            for choice in choices {
                if !valid(&choice.value) {
                    self.report(self.at(facts[index].span.clone(), format!("step \"{}\": the button \"{}\" saves {save} \"{}\", which a schedule cannot read", step.id, choice.label, choice.value)).help(format!("give it `value = \"...\"`, one of: {known}")));
                }
            }
        }
    }
}
