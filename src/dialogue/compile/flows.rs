//! Checks one flow file as a whole: its header, its steps in order, and the references
//! between flows; the parts of a step are checked in `steps`, `asks` and `analysis`.

use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;

use crate::diagnostics::{Diagnostic, did_you_mean};
use crate::dialogue::model::{Flow, FlowId, Role, Stage, StepId, StepKind};
use crate::dialogue::source::{FlowFile, StepFile};
use crate::dialogue::template::is_answer_name;

use super::{FlowChecker, MAX_ID_LENGTH, MAX_LABEL_LENGTH, StepFacts, is_flow_id, is_step_id};

impl FlowChecker<'_> {
    pub(super) fn at(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.file.path, &self.file.text, span, message)
    }

    pub(super) fn report(&mut self, diagnostic: Diagnostic) {
        self.problems.push(diagnostic);
    }

    pub(super) fn check(&mut self, file: &FlowFile) -> Option<Flow> {
        let id = file.id.get_ref();
        if !is_flow_id(id) {
            self.report(self.at(file.id.span(), format!("flow id \"{id}\" is not usable")).help(format!(
                "use lowercase letters, digits and \"-\", at most {MAX_ID_LENGTH} characters"
            )));
        }
        if *file.version.get_ref() < 1 || *file.version.get_ref() > i64::from(u32::MAX) {
            self.report(
                self.at(
                    file.version.span(),
                    "the version must be a whole number from 1 up",
                )
                .help("start at `version = 1` and raise it when the steps change"),
            );
        }
        let title = file.title.get_ref().trim();
        if title.is_empty() || title.chars().count() > MAX_LABEL_LENGTH || title.contains('\n') {
            self.report(self.at(file.title.span(), format!("the title must be one line of 1 to {MAX_LABEL_LENGTH} characters, since it is shown on a menu button")));
        }
        if file.summary.get_ref().trim().is_empty() || file.summary.get_ref().contains('\n') {
            self.report(self.at(file.summary.span(), "the summary must be one line"));
        }
        let mut audience = Vec::new();
        for word in file.audience.get_ref() {
            match self.role(word) {
                Some(role) if audience.contains(&role) => {
                    self.report(self.at(
                        word.span(),
                        format!("\"{}\" is listed twice in `audience`", word.get_ref()),
                    ));
                }
                Some(role) => audience.push(role),
                None => {}
            }
        }
        if file.audience.get_ref().is_empty() {
            self.report(
                self.at(file.audience.span(), "`audience` is empty")
                    .help("list who the flow is for: \"hurt\", \"broke_trust\", \"together\""),
            );
        }

        let stage = file.stage.as_ref().and_then(|word| {
            let stage = Stage::parse(word.get_ref());
            if stage.is_none() {
                let names = Stage::ALL.map(Stage::as_str);
                let diagnostic = self.at(
                    word.span(),
                    format!("\"{}\" is not a stage", word.get_ref()),
                );
                let list = "stages, in order: first_days, atone, attune, attach";
                self.report(match did_you_mean(word.get_ref(), names) {
                    Some(close) => diagnostic.help(format!("did you mean \"{close}\"? {list}")),
                    None => diagnostic.help(list),
                });
            }
            stage
        });

        // Steps in file order.
        let mut raw_steps: Vec<(&Spanned<String>, &Spanned<StepFile>)> =
            file.steps.iter().collect();
        raw_steps.sort_by_key(|(name, _)| name.span().start);
        let step_names: Vec<&str> = raw_steps
            .iter()
            .map(|(name, _)| name.get_ref().as_str())
            .collect();

        let entry = file.entry.get_ref();
        if !step_names.contains(&entry.as_str()) {
            let diagnostic = self.at(
                file.entry.span(),
                format!("the entry step \"{entry}\" does not exist"),
            );
            self.report(self.with_step_hint(diagnostic, entry, &step_names));
        }
        if raw_steps.is_empty() {
            self.report(
                self.at(file.id.span(), "the flow has no steps")
                    .help("add at least one `[steps.<id>]` table"),
            );
        }

        let saved_names: BTreeSet<String> = raw_steps
            .iter()
            .flat_map(|(_, step)| {
                let step = step.get_ref();
                step.ask
                    .iter()
                    .map(|ask| ask.get_ref().save.get_ref().clone())
                    .chain(step.save.iter().map(|save| save.get_ref().clone()))
            })
            .collect();

        let mut steps = Vec::new();
        let mut facts = Vec::new();
        for (name, step) in &raw_steps {
            if !is_step_id(name.get_ref()) {
                self.report(self.at(name.span(), format!("step id \"{}\" is not usable", name.get_ref())).help(format!(
                    "use lowercase letters, digits and \"_\", at most {MAX_ID_LENGTH} characters"
                )));
            }
            if let Some(built) = self.check_step(name, step, &step_names, &saved_names) {
                steps.push(built);
                let raw = step.get_ref();
                let note_spans = raw.notes.iter().flat_map(|notes| notes.get_ref());
                facts.push(StepFacts {
                    span: name.span(),
                    text_spans: raw
                        .say
                        .iter()
                        .map(Spanned::span)
                        .chain(note_spans.map(|note| note.get_ref().say.span()))
                        .chain(raw.all_clear.iter().map(Spanned::span))
                        .chain(raw.reveal.iter().map(Spanned::span))
                        .collect(),
                    review_span: raw.review.as_ref().map(Spanned::span),
                });
            }
        }
        if !self.problems.is_empty() {
            return None;
        }

        let mut flow = Flow::new(
            FlowId(id.clone()),
            u32::try_from(*file.version.get_ref()).unwrap_or(1),
            title.to_owned(),
            file.summary.get_ref().trim().to_owned(),
            audience,
            StepId(entry.clone()),
            file.menu.unwrap_or(true),
            steps,
        );
        flow.toward_staying = file.toward_staying.unwrap_or(false);
        flow.stage = stage;
        flow.couple = file.couple.as_ref().is_some_and(|couple| *couple.get_ref());
        if !flow.couple {
            for (step, facts) in flow.steps.iter().zip(&facts) {
                if let StepKind::Ask {
                    reveal: Some(_), ..
                } = &step.kind
                {
                    self.report(self.at(facts.span.clone(), format!("step \"{}\" is shared, but flow \"{id}\" is not a couple flow", step.id)).help("add `couple = true` at the top of the flow: shared steps need two linked partners"));
                }
            }
        }
        let longest = super::analysis::longest_answers(&flow);
        self.check_graph(&flow, &facts, &longest);
        self.check_style(&flow, &facts, file.id.span(), &longest);
        self.problems.is_empty().then_some(flow)
    }

    pub(super) fn with_step_hint(
        &self,
        diagnostic: Diagnostic,
        wanted: &str,
        step_names: &[&str],
    ) -> Diagnostic {
        let list = step_names.join(", ");
        match did_you_mean(wanted, step_names.iter().copied()) {
            Some(close) => diagnostic.help(format!(
                "did you mean \"{close}\"? steps in this flow: {list}"
            )),
            None => diagnostic.help(format!("steps in this flow: {list}")),
        }
    }

    pub(super) fn role(&mut self, word: &Spanned<String>) -> Option<Role> {
        let role = Role::parse(word.get_ref());
        if role.is_none() {
            let names = Role::ALL.map(Role::as_str);
            let diagnostic = self.at(word.span(), format!("\"{}\" is not a role", word.get_ref()));
            self.report(match did_you_mean(word.get_ref(), names) {
                Some(close) => diagnostic.help(format!(
                    "did you mean \"{close}\"? roles: hurt, broke_trust, together"
                )),
                None => diagnostic.help("roles: hurt, broke_trust, together"),
            });
        }
        role
    }

    pub(super) fn target(
        &mut self,
        step: &str,
        target: &Spanned<String>,
        step_names: &[&str],
    ) -> StepId {
        if !step_names.contains(&target.get_ref().as_str()) {
            let diagnostic = self.at(
                target.span(),
                format!(
                    "step \"{step}\" goes to unknown step \"{}\"",
                    target.get_ref()
                ),
            );
            let diagnostic = self.with_step_hint(diagnostic, target.get_ref(), step_names);
            self.report(diagnostic);
        }
        StepId(target.get_ref().clone())
    }

    pub(super) fn flow_ref(&mut self, what: String, target: &Spanned<String>) -> FlowId {
        if self.known_flows.lacks(target.get_ref()) {
            let diagnostic = self
                .known_flows
                .suggest(self.at(target.span(), what), target.get_ref());
            self.report(diagnostic);
        }
        FlowId(target.get_ref().clone())
    }

    pub(super) fn answer_name(
        &mut self,
        step: &str,
        name: &Spanned<String>,
        saved_names: &BTreeSet<String>,
        must_be_saved: bool,
    ) -> String {
        let value = name.get_ref();
        if !is_answer_name(value) {
            self.report(
                self.at(
                    name.span(),
                    format!("step \"{step}\": \"{value}\" is not a usable answer name"),
                )
                .help("use lowercase letters, digits and \"_\""),
            );
        } else if must_be_saved && !saved_names.contains(value) {
            let diagnostic = self.at(
                name.span(),
                format!(
                    "step \"{step}\" uses answer \"{value}\", which no step of this flow saves"
                ),
            );
            self.report(
                match did_you_mean(value, saved_names.iter().map(String::as_str)) {
                    Some(close) => diagnostic.help(format!("did you mean \"{close}\"?")),
                    None => diagnostic.help(
                        "save it first with `ask = { save = \"...\" }` or a choice step's `save`",
                    ),
                },
            );
        }
        value.clone()
    }
}
