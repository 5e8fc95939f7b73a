//! Checks one step: its kind, texts and templates, review notes and buttons.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Range;

use toml::Spanned;

use crate::diagnostics::did_you_mean;
use crate::dialogue::callback;
use crate::dialogue::model::{Choice, EndEffect, SafetyMark, Step, StepId, StepKind};
use crate::dialogue::review::{Note, NoteTest, Phrase};
use crate::dialogue::source::{ChoiceFile, NoteFile, StepFile};
use crate::dialogue::template::Template;

use super::{
    FlowChecker, MAX_CHOICES, MAX_ID_LENGTH, MAX_LABEL_LENGTH, is_step_id, speaks_of_fear,
};

impl FlowChecker<'_> {
    pub(super) fn check_step(
        &mut self,
        name: &Spanned<String>,
        step: &Spanned<StepFile>,
        step_names: &[&str],
        saved_names: &BTreeSet<String>,
    ) -> Option<Step> {
        let id = name.get_ref().as_str();
        let raw = step.get_ref();
        let before = self.problems.len();

        let say = raw.say.as_ref().and_then(|say| self.template(id, say));
        if let Some(say) = &raw.say
            && say.get_ref().trim().is_empty()
        {
            self.report(
                self.at(say.span(), format!("step \"{id}\" has an empty `say`"))
                    .help("write the message, or remove `say`"),
            );
        }

        let kinds: Vec<&str> = [
            raw.choices.as_ref().map(|_| "choices"),
            raw.ask.as_ref().map(|_| "ask"),
            raw.branch.as_ref().map(|_| "branch"),
            raw.jump.as_ref().map(|_| "jump"),
            raw.end.as_ref().map(|_| "end"),
            raw.review.as_ref().map(|_| "review"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() > 1 {
            self.report(
                self.at(
                    step.span(),
                    format!("step \"{id}\" mixes {}", kinds.join(" and ")),
                )
                .help("a step is exactly one kind: split it into two steps"),
            );
            return None;
        }
        let kind_name = kinds.first().copied().unwrap_or("message");
        let needs_say = matches!(kind_name, "message" | "choices" | "ask");
        if needs_say && raw.say.is_none() {
            self.report(
                self.at(step.span(), format!("step \"{id}\" has no `say`"))
                    .help("write what the bot says at this step"),
            );
        }
        // Fields that only belong to one kind.
        let stray = |field: &str, present: bool, owner: &str| {
            (present && kind_name != owner).then(|| (field.to_owned(), owner.to_owned()))
        };
        let strays: Vec<(String, String)> = [
            stray("otherwise", raw.otherwise.is_some(), "branch"),
            stray("suggest", raw.suggest.is_some(), "end"),
            stray("effect", raw.effect.is_some(), "end"),
            stray("save", raw.save.is_some(), "choices"),
            // A shared question may carry notes too (read before the partner can see the
            // answer): `check_shared` checks those.
            stray("notes", raw.notes.is_some() && kind_name != "ask", "review"),
            stray("all_clear", raw.all_clear.is_some(), "review"),
            stray("next_if_clear", raw.next_if_clear.is_some(), "review"),
            stray("shared", raw.shared.is_some(), "ask"),
            stray("reveal", raw.reveal.is_some(), "ask"),
        ]
        .into_iter()
        .flatten()
        .collect();
        for (field, owner) in strays {
            self.report(
                self.at(
                    step.span(),
                    format!(
                        "step \"{id}\" has `{field}`, which only {} `{owner}` step uses",
                        if owner.starts_with(['a', 'e', 'i', 'o', 'u']) {
                            "an"
                        } else {
                            "a"
                        }
                    ),
                )
                .help(format!("remove `{field}`")),
            );
        }
        let next_allowed = matches!(kind_name, "message" | "ask" | "review");
        if raw.next.is_some() && !next_allowed {
            self.report(self.at(step.span(), format!("step \"{id}\" has `next`, but a `{kind_name}` step decides where to go by itself")).help("remove `next`"));
        }

        let kind = match kind_name {
            "message" => {
                let Some(next) = &raw.next else {
                    self.report(self.at(step.span(), format!("step \"{id}\" does nothing after its message")).help("give it `next = \"<step>\"`, `choices`, `ask`, `branch`, `jump` or `end = true`"));
                    return None;
                };
                StepKind::Message {
                    next: self.target(id, next, step_names),
                }
            }
            "choices" => {
                let choices = raw.choices.as_ref()?;
                self.check_choices(id, choices, raw.save.as_ref(), step_names, saved_names)?
            }
            "ask" => {
                let ask = raw.ask.as_ref()?;
                let Some(next) = &raw.next else {
                    self.report(
                        self.at(
                            step.span(),
                            format!("step \"{id}\" asks a question but has no `next`"),
                        )
                        .help("add `next = \"<step>\"`: where to go once the person answers"),
                    );
                    return None;
                };
                let next = self.target(id, next, step_names);
                let save = self.answer_name(id, &ask.get_ref().save, saved_names, false);
                let rule = self.check_ask(id, ask)?;
                let reveal = self.check_shared(id, step)?;
                let before_sharing = match (&raw.notes, &reveal) {
                    (None, _) => Vec::new(),
                    (Some(_), Some(_)) => self.check_notes(id, step, raw.notes.as_ref())?,
                    (Some(notes), None) => {
                        self.report(
                            self.at(
                                notes.span(),
                                format!("step \"{id}\" has `notes`, but its answer is not shared"),
                            )
                            .help("notes on an `ask` step are read before a shared answer reaches the partner: add `shared = true`, or put the notes on a `review` step after this one"),
                        );
                        return None;
                    }
                };
                let offer_faq = ask
                    .get_ref()
                    .offer_faq
                    .as_ref()
                    .is_some_and(|offer| *offer.get_ref());
                StepKind::Ask {
                    save,
                    rule,
                    next,
                    reveal,
                    offer_faq,
                    before_sharing,
                }
            }
            "branch" => {
                let rules = raw.branch.as_ref()?;
                let Some(otherwise) = &raw.otherwise else {
                    self.report(
                        self.at(
                            step.span(),
                            format!("step \"{id}\" has a branch without `otherwise`"),
                        )
                        .help("add `otherwise = \"<step>\"`: where to go when no rule holds"),
                    );
                    return None;
                };
                if rules.get_ref().is_empty() {
                    self.report(
                        self.at(rules.span(), format!("step \"{id}\" has an empty branch"))
                            .help("add a rule, or make it a message with `next`"),
                    );
                }
                let mut built = Vec::new();
                for rule in rules.get_ref() {
                    if let Some(rule) = self.check_rule(id, rule, step_names, saved_names) {
                        built.push(rule);
                    }
                }
                StepKind::Branch {
                    rules: built,
                    otherwise: self.target(id, otherwise, step_names),
                }
            }
            "review" => {
                let review = raw.review.as_ref()?;
                let Some(next) = &raw.next else {
                    self.report(
                        self.at(
                            step.span(),
                            format!("step \"{id}\" reviews an answer but has no `next`"),
                        )
                        .help("add `next = \"<step>\"`: where to go after the notes"),
                    );
                    return None;
                };
                let next = self.target(id, next, step_names);
                let answer = self.answer_name(id, review, saved_names, true);
                let notes = self.check_notes(id, step, raw.notes.as_ref())?;
                let all_clear = raw
                    .all_clear
                    .as_ref()
                    .and_then(|text| self.template(id, text));
                let next_if_clear = raw
                    .next_if_clear
                    .as_ref()
                    .map(|target| self.target(id, target, step_names));
                StepKind::Review {
                    answer,
                    notes,
                    all_clear,
                    next,
                    next_if_clear,
                }
            }
            "jump" => {
                let jump = raw.jump.as_ref()?;
                StepKind::Jump {
                    flow: self.flow_ref(
                        format!("step \"{id}\" jumps to unknown flow \"{}\"", jump.get_ref()),
                        jump,
                    ),
                }
            }
            _ => {
                let end = raw.end.as_ref()?;
                if !*end.get_ref() {
                    self.report(
                        self.at(end.span(), format!("step \"{id}\" says `end = false`"))
                            .help("write `end = true`, or remove `end`"),
                    );
                }
                let mut suggest = Vec::new();
                for flow in raw.suggest.iter().flat_map(|list| list.get_ref()) {
                    suggest.push(self.flow_ref(
                        format!("step \"{id}\" suggests unknown flow \"{}\"", flow.get_ref()),
                        flow,
                    ));
                }
                if suggest.len() + 1 > MAX_CHOICES {
                    self.report(self.at(step.span(), format!("step \"{id}\" suggests {} flows; at most {} fit beside the menu button", suggest.len(), MAX_CHOICES - 1)));
                }
                let effect = raw.effect.as_ref().and_then(|word| {
                    let effect = EndEffect::parse(word.get_ref());
                    if effect.is_none() {
                        let diagnostic = self.at(word.span(), format!("step \"{id}\" has an unknown effect \"{}\"", word.get_ref()));
                        self.report(match did_you_mean(word.get_ref(), ["schedule_checkins", "record_checkin", "link", "no_link"]) {
                            Some(close) => diagnostic.help(format!("did you mean \"{close}\"? effects: schedule_checkins, record_checkin, link, no_link")),
                            None => diagnostic.help("effects: schedule_checkins (sets up check-in reminders), record_checkin (keeps a check-in's answers), link and no_link (couples mode: the private check before linking passed, or set linking aside)"),
                        });
                    }
                    effect
                });
                StepKind::End { suggest, effect }
            }
        };
        (self.problems.len() == before).then(|| Step {
            id: StepId(id.to_owned()),
            say,
            kind,
        })
    }

    /// A shared question's reveal (`Some(None)`: the step is not shared); `None` when
    /// `shared` and `reveal` do not go together.
    fn check_shared(&mut self, id: &str, step: &Spanned<StepFile>) -> Option<Option<Template>> {
        let raw = step.get_ref();
        let shared = raw.shared.as_ref().is_some_and(|shared| *shared.get_ref());
        match (shared, &raw.reveal) {
            (true, Some(reveal)) => self.template(id, reveal).map(Some),
            (true, None) => {
                self.report(self.at(step.span(), format!("step \"{id}\" is shared but has no `reveal`")).help("add `reveal = \"...\"`: what both partners see once both have answered, with {name} for their own answer and {partner.name} for the other's"));
                None
            }
            (false, Some(reveal)) => {
                self.report(
                    self.at(
                        reveal.span(),
                        format!("step \"{id}\" has a `reveal` but is not shared"),
                    )
                    .help("add `shared = true`, or remove `reveal`"),
                );
                None
            }
            (false, None) => Some(None),
        }
    }

    /// Parses a text of step `step`, reporting a broken placeholder.
    pub(super) fn template(&mut self, step: &str, text: &Spanned<String>) -> Option<Template> {
        match Template::parse(text.get_ref()) {
            Ok(template) => Some(template),
            Err(error) => {
                self.report(self.at(text.span(), format!("step \"{step}\": {}", error.message)));
                None
            }
        }
    }

    /// The notes of review step `id`: each with an id, one test and a text.
    pub(super) fn check_notes(
        &mut self,
        id: &str,
        step: &Spanned<StepFile>,
        notes: Option<&Spanned<Vec<Spanned<NoteFile>>>>,
    ) -> Option<Vec<Note>> {
        let Some(notes) = notes.filter(|notes| !notes.get_ref().is_empty()) else {
            self.report(
                self.at(step.span(), format!("step \"{id}\" reviews an answer but has no notes"))
                    .help("add `[[steps.<step>.notes]]` tables, each with `id`, `when_any` or `when_none`, and `say`"),
            );
            return None;
        };
        let before = self.problems.len();
        let mut seen = HashSet::new();
        let mut built = Vec::new();
        for note in notes.get_ref() {
            let raw = note.get_ref();
            let note_id = raw.id.get_ref();
            if !is_step_id(note_id) {
                self.report(self.at(raw.id.span(), format!("step \"{id}\": note id \"{note_id}\" is not usable")).help(format!(
                    "use lowercase letters, digits and \"_\", at most {MAX_ID_LENGTH} characters"
                )));
            } else if !seen.insert(note_id.as_str()) {
                self.report(
                    self.at(
                        raw.id.span(),
                        format!("two notes of step \"{id}\" have the id \"{note_id}\""),
                    )
                    .help("give each note its own id"),
                );
            }
            let (words, any) = match (&raw.when_any, &raw.when_none) {
                (Some(words), None) => (words, true),
                (None, Some(words)) => (words, false),
                (both, _) => {
                    let what = if both.is_some() {
                        "both `when_any` and `when_none`"
                    } else {
                        "neither `when_any` nor `when_none`"
                    };
                    self.report(
                        self.at(note.span(), format!("note \"{note_id}\" of step \"{id}\" has {what}"))
                            .help("give it `when_any = [...]` (shown when the answer says one of these) or `when_none = [...]` (shown when it says none of them)"),
                    );
                    continue;
                }
            };
            if words.get_ref().is_empty() {
                self.report(
                    self.at(
                        words.span(),
                        format!("note \"{note_id}\" of step \"{id}\" lists no words"),
                    )
                    .help("list the words or phrases to look for"),
                );
            }
            let mut phrases = Vec::new();
            for word in words.get_ref() {
                match Phrase::parse(word.get_ref()) {
                    Some(phrase) => phrases.push(phrase),
                    None => self.report(self.at(word.span(), format!("note \"{note_id}\" of step \"{id}\" looks for \"{}\", which has no word in it", word.get_ref())).help("write a word or phrase, such as \"but\" or \"if you were hurt\"")),
                }
            }
            if raw.say.get_ref().trim().is_empty() {
                self.report(self.at(
                    raw.say.span(),
                    format!("note \"{note_id}\" of step \"{id}\" has an empty `say`"),
                ));
            }
            let Some(text) = self.template(id, &raw.say) else {
                continue;
            };
            let mut unless_after = Vec::new();
            for word in raw.unless_after.iter().flatten() {
                let written = word.get_ref().trim();
                if written.is_empty() || written.contains(char::is_whitespace) {
                    self.report(
                        self.at(
                            word.span(),
                            format!("note \"{note_id}\" of step \"{id}\": `unless_after` takes single words, not \"{written}\""),
                        )
                        .help("list words such as \"no\", \"not\" or \"never\""),
                    );
                    continue;
                }
                unless_after.push(written.to_lowercase());
            }
            built.push(Note {
                id: note_id.clone(),
                unless_after,
                test: if any {
                    NoteTest::MentionsAny(phrases)
                } else {
                    NoteTest::MentionsNone(phrases)
                },
                text,
            });
        }
        (self.problems.len() == before).then_some(built)
    }

    pub(super) fn check_choices(
        &mut self,
        id: &str,
        choices: &Spanned<Vec<Spanned<ChoiceFile>>>,
        save: Option<&Spanned<String>>,
        step_names: &[&str],
        saved_names: &BTreeSet<String>,
    ) -> Option<StepKind> {
        let list = choices.get_ref();
        if list.is_empty() {
            self.report(
                self.at(choices.span(), format!("step \"{id}\" has no buttons"))
                    .help("add at least one choice, or make it a message with `next`"),
            );
        }
        if list.len() > MAX_CHOICES {
            self.report(
                self.at(
                    choices.span(),
                    format!(
                        "step \"{id}\" has {} buttons; at most {MAX_CHOICES} fit on a phone",
                        list.len()
                    ),
                )
                .help("split the step in two"),
            );
        }
        let save = save.map(|name| self.answer_name(id, name, saved_names, false));
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        let mut built = Vec::new();
        for choice in list {
            let raw = choice.get_ref();
            let label = raw.label.get_ref().trim();
            if label.is_empty() || label.contains('\n') {
                self.report(self.at(
                    raw.label.span(),
                    format!("a button of step \"{id}\" needs a one-line label"),
                ));
            } else if label.chars().count() > MAX_LABEL_LENGTH {
                self.report(self.at(raw.label.span(), format!("the button \"{label}\" of step \"{id}\" is {} characters long; at most {MAX_LABEL_LENGTH} show whole on a phone", label.chars().count())).help("shorten the label"));
            }
            let goto = self.target(id, &raw.goto, step_names);
            let (choice_id, id_span) = match &raw.id {
                Some(explicit) => (explicit.get_ref().clone(), explicit.span()),
                None => (goto.0.clone(), raw.goto.span()),
            };
            if !is_step_id(&choice_id) {
                self.report(self.at(id_span.clone(), format!("button id \"{choice_id}\" of step \"{id}\" is not usable")).help(format!("use lowercase letters, digits and \"_\", at most {MAX_ID_LENGTH} characters")));
            } else if callback::choice_data_len(&choice_id) > callback::MAX_DATA_LEN {
                self.report(
                    self.at(
                        id_span.clone(),
                        format!("button id \"{choice_id}\" is too long for Telegram's button data"),
                    )
                    .help("give the button a shorter `id`"),
                );
            }
            if seen.contains_key(&choice_id) {
                self.report(
                    self.at(
                        choice.span(),
                        format!("two buttons of step \"{id}\" have the id \"{choice_id}\""),
                    )
                    .help("give one of them its own `id = \"...\"`"),
                );
            }
            seen.insert(choice_id.clone(), id_span);
            let role = match &raw.role {
                Some(word) => self.role(word),
                None => None,
            };
            if raw.value.is_some() && save.is_none() {
                self.report(
                    self.at(
                        choice.span(),
                        format!(
                            "a button of step \"{id}\" has a `value` but the step saves nothing"
                        ),
                    )
                    .help("add `save = \"<answer name>\"` to the step, or remove `value`"),
                );
            }
            let mut clear = Vec::new();
            for name in raw.clear.iter().flatten() {
                clear.push(self.answer_name(id, name, saved_names, true));
            }
            let safety = match raw
                .safety
                .as_ref()
                .map(|word| (word, word.get_ref().as_str()))
            {
                None => None,
                Some((_, "concern")) => Some(SafetyMark::Concern),
                Some((_, "clear")) => Some(SafetyMark::Clear),
                Some((_, "screened")) => Some(SafetyMark::Screened),
                Some((word, other)) => {
                    self.report(
                        self.at(
                            word.span(),
                            format!("a button of step \"{id}\" has `safety = \"{other}\"`"),
                        )
                        .help("write \"concern\" (a sign of abuse: coaching toward staying stops), \"clear\" (the person feels safe: it resumes) or \"screened\" (the last answer of a safety screen with nothing worrying)"),
                    );
                    None
                }
            };
            let mut also = Vec::new();
            for words in raw.also.iter().flatten() {
                let text = words.get_ref().trim();
                if text.is_empty() || text.contains('\n') || text.chars().count() > MAX_LABEL_LENGTH
                {
                    self.report(
                        self.at(
                            words.span(),
                            format!("an `also` answer of the button \"{label}\" of step \"{id}\" must be one line of 1 to {MAX_LABEL_LENGTH} characters"),
                        )
                        .help("write a short answer someone might type instead of pressing, such as \"every night\""),
                    );
                    continue;
                }
                if safety.is_none() && speaks_of_fear(text) {
                    self.warnings.push(
                        self.at(
                            words.span(),
                            format!("\"{text}\", typed for the button \"{label}\" of step \"{id}\", speaks of fear, threats or control but the button sets no concern"),
                        )
                        .help("press such words on a button with `safety = \"concern\"`, or leave them out")
                        .warning(),
                    );
                }
                also.push(text.to_owned());
            }
            if safety.is_none() && speaks_of_fear(label) {
                let warning = self
                    .at(
                        raw.label.span(),
                        format!("the button \"{label}\" of step \"{id}\" speaks of fear, threats or control but sets no concern"),
                    )
                    .help("add `safety = \"concern\"`, so the flows about staying together are set aside once it is pressed")
                    .warning();
                self.warnings.push(warning);
            }
            built.push(Choice {
                id: choice_id,
                label: label.to_owned(),
                goto,
                role,
                value: raw
                    .value
                    .as_ref()
                    .map_or_else(|| label.to_owned(), |value| value.get_ref().clone()),
                clear,
                safety,
                also,
            });
        }
        Some(StepKind::Choice {
            save,
            choices: built,
        })
    }
}
