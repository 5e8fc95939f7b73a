//! What a person sends inside a flow: a button press (checked against the keyboard it was
//! shown under), a choice, or typed text checked against the step's rule and saved.

use std::collections::BTreeMap;

use crate::calendar::zones::{find_zones, is_zone_name, zone_named};
use crate::calendar::{TypedTime, find_wall_time};
use crate::dialogue::callback::{self, Action};
use crate::dialogue::model::{
    AnswerRule, Flow, FlowId, Reflection, SafetyMark, StepKind, zone_time_name,
};
use crate::dialogue::state::{Answer, Heard, Keyboard};

use super::checkins::local_time_in;
use super::{Turn, named};
use crate::dialogue::faq::looks_like_question;
use crate::dialogue::review::Words;

/// How many words typed at a button step are worth keeping for the next typed question.
const KEPT_MIN_WORDS: usize = 4;
/// Words typed at a button step that a reflection met are a feeling heard, not a draft, and
/// are not kept, unless they run to this many words (a letter typed a step too early).
const KEPT_REFLECTED_MIN_WORDS: usize = 25;
/// How long, in seconds, a `[[listen]]` entry is not said again word for word.
const HEARD_FOR: i64 = 60 * 60;
/// How long kept text is offered, in seconds.
pub(super) const KEPT_FOR: i64 = 24 * 60 * 60;

impl<'a> Turn<'a> {
    pub(super) fn press(&mut self, data: &str) {
        let Some(press) = callback::decode(data) else {
            self.stale();
            return;
        };
        match press.action {
            // An FAQ answer changes nothing, so its button works under any keyboard, however old.
            Action::Question(id) => {
                match self.library.faq.by_id(&id) {
                    Some(question) => self.answer_question(question),
                    None => self.say_faq_missing(),
                }
                return;
            }
            Action::AllQuestions => {
                self.faq("");
                return;
            }
            // Back from an FAQ answer to wherever the person is now, however old the button.
            Action::Resume => {
                self.show_current();
                return;
            }
            // A reminder's buttons belong to no keyboard of the person's: they work whenever pressed.
            Action::Reminder(action) => {
                self.reminder_pressed(action);
                return;
            }
            // So do a safety reply's: the way to help, or back, is never stale.
            Action::Safety(action) => {
                self.safety_pressed(action);
                return;
            }
            _ if press.seq != self.state.seq => {
                self.stale();
                return;
            }
            _ => {}
        }
        match (press.action, self.state.keyboard.clone()) {
            (Action::Choice(choice_id), Keyboard::Step) => self.choose(&choice_id),
            (Action::Forget(confirmed), Keyboard::Forget) => self.forget_answered(confirmed),
            (Action::Summary(answer), Keyboard::Summary) => self.summary_answered(answer),
            (Action::Couple(button), keyboard) => self.couple_pressed(button, &keyboard),
            (Action::Rule(button, number), Keyboard::Rules) => self.rule_pressed(button, number),
            // An answer held back by notes before sharing is shared by pressing, as by typing
            // it again; otherwise the button answers with words kept from earlier.
            (Action::UseKept, Keyboard::Ask) => self.use_kept(),
            // A rule held back by its notes goes as it is.
            (Action::UseKept, Keyboard::Propose) => self.send_unsent_rule(),
            (Action::OpenFlow(flow_id), Keyboard::Menu) => {
                let offered = self.menu().any(|flow| flow.id.0 == flow_id);
                if offered {
                    self.enter_flow(&FlowId(flow_id));
                } else {
                    self.stale();
                }
            }
            (Action::OpenFlow(flow_id), Keyboard::End { flow, step }) => {
                let suggested = self
                    .library
                    .flow(&flow.0)
                    .and_then(|flow| flow.step(&step.0))
                    .is_some_and(|step| match &step.kind {
                        StepKind::End { suggest, .. } => suggest.iter().any(|id| id.0 == flow_id),
                        _ => false,
                    });
                if suggested {
                    self.enter_flow(&FlowId(flow_id));
                } else {
                    self.stale();
                }
            }
            (
                Action::Menu,
                Keyboard::End { .. } | Keyboard::Menu | Keyboard::Shared | Keyboard::Rules,
            ) => {
                self.state.position = None;
                self.show_menu();
            }
            _ => self.stale(),
        }
    }

    pub(super) fn stale(&mut self) {
        self.note("stale_button");
        self.show_current();
    }

    pub(super) fn choose(&mut self, choice_id: &str) {
        let Some((flow, step)) = self.current_step() else {
            self.stale();
            return;
        };
        let StepKind::Choice { save, choices } = &step.kind else {
            self.stale();
            return;
        };
        let Some(choice) = choices.iter().find(|choice| choice.id == choice_id) else {
            self.stale();
            return;
        };
        if let Some(role) = choice.role {
            self.state.role = Some(role);
        }
        match choice.safety {
            Some(SafetyMark::Concern) => {
                self.state.coaching_off = true;
                self.state.screened = None;
            }
            Some(SafetyMark::Clear) => self.state.coaching_off = false,
            Some(SafetyMark::Screened) => self.state.screened = Some(self.now),
            None => {}
        }
        let answers = self.state.answers.entry(flow.id.clone()).or_default();
        for name in &choice.clear {
            answers.remove(name);
        }
        if let Some(name) = save {
            // A button naming a zone (Europe/Berlin) brings its local time, as a typed zone does.
            if is_zone_name(&choice.value) {
                save_zone_time(answers, name, &choice.value, self.now);
            }
            answers.insert(
                name.clone(),
                Answer {
                    value: choice.value.clone(),
                    at: self.now,
                },
            );
        }
        self.run(flow, &choice.goto);
    }

    /// The button under a question that answers it with words held back ("Share it as it
    /// is", "Use “…”"): an answer held back by notes before sharing is shared, as by typing
    /// it again; otherwise the words kept from earlier answer.
    fn use_kept(&mut self) {
        match self.state.unshared.clone() {
            Some(unshared) => self.text(&unshared.value),
            None => match self.state.kept.take() {
                Some(kept) => self.text(&kept.value),
                None => self.stale(),
            },
        }
    }

    /// That button's label typed instead of pressed: pressed, never saved as the answer
    /// itself (a walk's shared agreement read "Share it as it is" on both sides). Returns
    /// whether it was.
    fn kept_button_typed(&mut self, text: &str) -> bool {
        if self.state.keyboard != Keyboard::Ask {
            return false;
        }
        let label = match (&self.state.unshared, &self.state.kept) {
            (Some(_), _) => self.bot_message("share_as_is_button"),
            (None, Some(kept)) => self.kept_label(kept),
            (None, None) => return false,
        };
        let buttons = [(label, Vec::new(), ())];
        if named::pressed_by(&buttons, text).is_none() {
            return false;
        }
        self.use_kept();
        true
    }

    pub(super) fn text(&mut self, text: &str) {
        if self.state.position.is_none() && self.state.safety.is_some() {
            match self.safety_action_typed(text) {
                Some(action) => self.safety_pressed(action),
                None => self.show_current(),
            }
            return;
        }
        if self.propose_rule(text) || self.couple_button_typed(text) {
            return;
        }
        if self.state.keyboard == Keyboard::Summary && self.state.summary.is_some() {
            self.summary_typed(text);
            return;
        }
        let Some((flow, step)) = self.current_step() else {
            // A menu title typed ("owning what happened") opens that flow, as its button does,
            // before an FAQ question of the same words.
            match self.menu_title_typed(text) {
                Some(flow) => self.enter_flow(&flow.id),
                None if self.lasting_button_pressed(text) => {}
                None => self.listen(text),
            }
            return;
        };
        if self.choice_typed(text).is_none() && self.lasting_button_pressed(text) {
            return;
        }
        if self.kept_button_typed(text) || self.answer_shared(text) {
            return;
        }
        match &step.kind {
            StepKind::Ask {
                save,
                rule,
                next,
                offer_faq,
                ..
            } => match self.check_answer(rule, text) {
                Ok(value) => {
                    if *offer_faq && self.asked_instead(rule, text) {
                        return;
                    }
                    let now = self.now;
                    let answers = self.state.answers.entry(flow.id.clone()).or_default();
                    if *rule == AnswerRule::Zone {
                        save_zone_time(answers, save, &value, now);
                    }
                    answers.insert(save.clone(), Answer { value, at: now });
                    // Answered in the person's own words now: what was kept has had its turn.
                    self.state.kept = None;
                    if *offer_faq && matches!(rule, AnswerRule::Text { .. }) {
                        self.offer_faq_in_answer(text);
                    }
                    self.run(flow, next);
                }
                Err(note) => self.refused(rule, text, note),
            },
            _ => self.typed_at_buttons(text),
        }
    }

    /// A typed "answer" that is only a question the FAQ is sure of ("is it normal to feel
    /// nothing at all?"), at a step whose author asked for `offer_faq`: it is not saved as the
    /// answer. The questions that may help are offered, the words are kept, and the step is
    /// shown again with the button that uses them, should they be the answer after all.
    /// Returns whether it was taken so.
    fn asked_instead(&mut self, rule: &AnswerRule, text: &str) -> bool {
        if !matches!(rule, AnswerRule::Text { .. }) || !only_a_question(text) || self.misread {
            return false;
        }
        let found = self.library.faq.suggest_when_sure(text);
        if found.is_empty() {
            return false;
        }
        self.keep(text);
        self.offer_questions_with(&found, "faq_not_answer");
        self.show_current();
        true
    }

    /// A question asked inside a typed answer (with a question mark, and one the FAQ is sure
    /// of, at a step whose author asked for it with `offer_faq`): the answer is kept as the answer, and the questions that may help are offered beside
    /// the flow going on, a tap away.
    fn offer_faq_in_answer(&mut self, text: &str) {
        self.offer_question_asked(text, true);
    }

    /// Offers the FAQ questions for a question asked in earnest inside `text`, above
    /// `faq_in_answer`: those the learned order is sure of (`sure`), or those the matcher
    /// offers for a question typed at buttons.
    fn offer_question_asked(&mut self, text: &str, sure: bool) {
        if !asks_in_earnest(text) {
            return;
        }
        let faq = &self.library.faq;
        let found = if sure {
            faq.suggest_when_sure(text)
        } else {
            faq.suggest(text)
        };
        if !found.is_empty() {
            self.offer_questions_with(&found, "faq_in_answer");
        }
    }

    /// Text typed while buttons are shown: words that name one of them press it (with what
    /// they mention met first); a question is looked up in the FAQ; otherwise what
    /// it mentions is met by its `[[listen]]` entry's words (with no offer: the step stays),
    /// and more than a few words no entry met (or a long text, met or not) are kept, word for
    /// word, to answer the next typed question with one tap (a letter typed a step too early
    /// is not lost); a word or two no entry met gets the reminder to tap.
    fn typed_at_buttons(&mut self, text: &str) {
        let pressed = self.choice_typed(text);
        if pressed.is_none() && self.zone_typed(text) {
            return;
        }
        let found = if pressed.is_none() && looks_like_question(text) {
            self.library.faq.suggest(text)
        } else {
            Vec::new()
        };
        if !found.is_empty() {
            self.offer_questions(&found);
            self.show_current();
            return;
        }
        let reflected = self.reflection_for(text);
        let repeated = reflected.is_some_and(|reflection| self.heard_lately(reflection));
        if let Some(reflection) = reflected {
            self.hear(reflection, repeated);
        }
        if let Some(choice_id) = pressed {
            // "yeah constantly. how long does this take??": the button, and the question
            // looked up as any question typed at buttons is, a tap away.
            self.offer_question_asked(text, false);
            self.choose(&choice_id);
            return;
        }
        let words = Words::of(text).iter().count();
        // Words met by a reflection are a feeling heard, and words that open as a reply to
        // the buttons ("no its not like that", "yeah shes on my team") answer this step: not
        // a draft for a later question, unless they run long.
        let kept_length = if reflected.is_some() || answers_the_buttons(text) {
            KEPT_REFLECTED_MIN_WORDS
        } else {
            KEPT_MIN_WORDS
        };
        // Words the screen stopped at are never shown back on a button.
        if words >= kept_length && !self.misread {
            // Words already met by a reflection, or a second message at the same step, get
            // one short line: the long note once, not after every message.
            let kept_before = self.state.kept.is_some();
            self.keep(text);
            if reflected.is_some() || kept_before {
                self.note("kept_text_brief");
            } else {
                self.note("kept_text");
            }
        } else if reflected.is_none() || repeated {
            self.note("use_buttons");
        }
        self.show_current();
    }

    /// Presses the button that works under any keyboard that typed `text` names (an FAQ
    /// question, the whole list, the way back), if it names one.
    fn lasting_button_pressed(&mut self, text: &str) -> bool {
        let Some(action) = self.lasting_button_typed(text) else {
            return false;
        };
        self.press(&callback::encode(self.state.seq, &action));
        true
    }

    /// Whether `reflection` answered the person within the last [`HEARD_FOR`] seconds.
    fn heard_lately(&self, reflection: &Reflection) -> bool {
        self.state
            .heard
            .as_ref()
            .is_some_and(|heard| heard.id == reflection.id && self.now - heard.at < HEARD_FOR)
    }

    /// Says `reflection`, unless it was said lately (`repeated`): the same paragraph again
    /// reads as not listening.
    fn hear(&mut self, reflection: &Reflection, repeated: bool) {
        if !repeated {
            self.say(reflection.say.clone());
        }
        self.state.heard = Some(Heard {
            id: reflection.id.clone(),
            at: self.now,
        });
    }

    /// The menu's flow that typed `text` names by its title, if one does.
    fn menu_title_typed(&self, text: &str) -> Option<&'a Flow> {
        let titles: Vec<(&str, Vec<&str>, &'a Flow)> = self
            .menu()
            .map(|flow| (flow.title.as_str(), Vec::new(), flow))
            .collect();
        named::pressed_by(&titles, text)
    }

    /// Keeps `text`, word for word, to answer a later typed question with one tap.
    fn keep(&mut self, text: &str) {
        self.state.kept = Some(Answer {
            value: text.trim().to_owned(),
            at: self.now,
        });
    }

    /// A place typed where the buttons name time zones ("toronto" beside London and New
    /// York): taken as a button naming its zone would be, saved with its local time, and on
    /// to where those buttons go. Returns whether it was.
    fn zone_typed(&mut self, text: &str) -> bool {
        if self.state.keyboard != Keyboard::Step {
            return false;
        }
        let Some((flow, step)) = self.current_step() else {
            return false;
        };
        let StepKind::Choice {
            save: Some(save),
            choices,
        } = &step.kind
        else {
            return false;
        };
        let Some(goto) = choices
            .iter()
            .find(|choice| is_zone_name(&choice.value))
            .map(|choice| &choice.goto)
        else {
            return false;
        };
        let Some(zone) = zone_named(text) else {
            return false;
        };
        let now = self.now;
        let answers = self.state.answers.entry(flow.id.clone()).or_default();
        save_zone_time(answers, save, zone.name(), now);
        answers.insert(
            save.clone(),
            Answer {
                value: zone.name().to_owned(),
                at: now,
            },
        );
        self.run(flow, goto);
        true
    }

    /// The id of the current step's button that `text` names ("no" at No), if it names one.
    fn choice_typed(&self, text: &str) -> Option<String> {
        if self.state.keyboard != Keyboard::Step {
            return None;
        }
        let (_, step) = self.current_step()?;
        let StepKind::Choice { choices, .. } = &step.kind else {
            return None;
        };
        named::choice_named(choices, text).map(|choice| choice.id.clone())
    }

    /// Someone wrote outside a flow: what they wrote is met by the first `[[listen]]` entry
    /// its words mention, with the flows it offers (and, for a question, the FAQ questions
    /// that fit); else a question is offered the FAQ; else a warm default. The words are not
    /// kept.
    fn listen(&mut self, text: &str) {
        if let Some(key) = small_talk(text) {
            self.note(key);
            self.show_menu();
            return;
        }
        let found = self.library.faq.suggest(text);
        match self.reflection_for(text) {
            // What they said is met first, even when it ends in a question ("she went to her
            // mum's with the kids. what do i do"); the questions that may help come with it.
            Some(reflection) => {
                let repeated = self.heard_lately(reflection);
                self.hear(reflection, repeated);
                if looks_like_question(text) && !found.is_empty() {
                    self.offer_questions(&found);
                }
                self.state.interest = reflection.offer.first().cloned();
                self.offer_flows(&reflection.offer);
            }
            None if !found.is_empty() => self.offer_questions_then_menu(&found),
            None => {
                self.note("listen_default");
                self.show_menu();
            }
        }
    }

    /// The first `[[listen]]` entry for the person's role whose words `text` mentions.
    fn reflection_for(&self, text: &str) -> Option<&'a Reflection> {
        let words = Words::of(text);
        let role = self.state.role;
        self.library.bot.listen.iter().find(|reflection| {
            reflection.fits(role)
                && reflection
                    .mentions
                    .iter()
                    .any(|phrase| words.mention(phrase))
        })
    }

    /// The answer to save, or the kind note explaining what is expected.
    pub(super) fn check_answer(&self, rule: &AnswerRule, text: &str) -> Result<String, String> {
        let trimmed = text.trim();
        let fill = |key: &str, min: String, max: String| {
            self.bot_message(key)
                .replace("{min}", &min)
                .replace("{max}", &max)
        };
        if trimmed.is_empty() {
            return Err(self.bot_message("answer_empty"));
        }
        match rule {
            AnswerRule::Text {
                min_length,
                max_length,
            } => {
                let length = trimmed.chars().count();
                if length < *min_length {
                    Err(fill(
                        "answer_too_short",
                        min_length.to_string(),
                        max_length.to_string(),
                    ))
                } else if length > *max_length {
                    Err(fill(
                        "answer_too_long",
                        min_length.to_string(),
                        max_length.to_string(),
                    ))
                } else {
                    Ok(trimmed.to_owned())
                }
            }
            AnswerRule::Number { min, max } => match first_integer(trimmed) {
                None => Err(fill(
                    "answer_not_a_number",
                    min.to_string(),
                    max.to_string(),
                )),
                Some(number) if number < *min || number > *max => Err(fill(
                    "answer_out_of_range",
                    min.to_string(),
                    max.to_string(),
                )),
                Some(number) => Ok(number.to_string()),
            },
            AnswerRule::Time => match find_wall_time(trimmed) {
                TypedTime::At(time) => Ok(time.format("%H:%M").to_string()),
                TypedTime::WhichHalf(hour) => Err(self
                    .bot_message("answer_time_which_half")
                    .replace("{hour}", &hour.to_string())),
                TypedTime::Nothing => Err(self.bot_message("answer_not_a_time")),
            },
            AnswerRule::Zone => find_zones(trimmed, 1)
                .first()
                .map(|zone| zone.name().to_owned())
                .ok_or_else(|| self.bot_message("answer_not_a_zone")),
        }
    }
}

/// Beside a zone saved as answer `name`, its local time now (`{name_time}` in a text), so
/// the person can confirm the zone by its clock.
fn save_zone_time(answers: &mut BTreeMap<String, Answer>, name: &str, zone: &str, now: i64) {
    answers.insert(
        zone_time_name(name),
        Answer {
            value: local_time_in(zone, now),
            at: now,
        },
    );
}

/// The first whole number in `text` ("7", "about 7", "7/10"), forgivingly.
pub(super) fn first_integer(text: &str) -> Option<i64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let negative = text[..start].ends_with('-');
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let number: i64 = digits.parse().ok()?;
    Some(if negative { -number } else { number })
}

/// Whether `text` is one question and nothing else: it ends with a question mark and no
/// sentence ends before it ("numb. is it normal?" also answers, so it is not).
fn only_a_question(text: &str) -> bool {
    let text = text.trim();
    let Some(body) = text.strip_suffix('?') else {
        return false;
    };
    let body = body.trim_end_matches('?');
    // Read without its mark, so it must open the way a question does, not only end like one.
    !body.contains(['.', '!', '?', '\n']) && looks_like_question(body)
}

/// The bot message for a greeting or thanks and nothing more ("hi", "hello again", "thank
/// you so much"): a few words, at least one of them the greeting or the thanks itself, the
/// rest the words that go with it.
fn small_talk(text: &str) -> Option<&'static str> {
    const HELLO: &[&str] = &[
        "hi",
        "hello",
        "hey",
        "heya",
        "hiya",
        "yo",
        "morning",
        "evening",
        "afternoon",
    ];
    const WITH_HELLO: &[&str] = &["good", "again", "there", "kintsugi"];
    const THANKS: &[&str] = &["thanks", "thank", "thx", "ty", "cheers", "appreciate"];
    const WITH_THANKS: &[&str] = &[
        "you", "so", "much", "very", "a", "lot", "it", "that", "helped", "kintsugi",
    ];
    let words: Vec<String> = Words::of(text)
        .iter()
        .map(|word| word.to_lowercase())
        .collect();
    if words.is_empty() || words.len() > 5 {
        return None;
    }
    let only = |core: &[&str], with: &[&str]| {
        words.iter().any(|word| core.contains(&word.as_str()))
            && words
                .iter()
                .all(|word| core.contains(&word.as_str()) || with.contains(&word.as_str()))
    };
    if only(HELLO, WITH_HELLO) {
        Some("listen_hello")
    } else if only(THANKS, WITH_THANKS) {
        Some("listen_thanks")
    } else {
        None
    }
}

/// Whether `text` opens as a reply to buttons does: yes, no, maybe, not...
fn answers_the_buttons(text: &str) -> bool {
    const REPLIES: &[&str] = &[
        "yes", "yeah", "yep", "yup", "ya", "no", "nope", "nah", "not", "maybe", "ok", "okay",
        "sure", "idk", "kind", "sort",
    ];
    Words::of(text)
        .first()
        .is_some_and(|word| REPLIES.contains(&word.to_lowercase().as_str()))
}

/// Whether `text` holds a question of a few words ending in a question mark ("is it normal
/// to feel this?"), not only a word or two of disbelief ("seriously? ok. the pictures").
fn asks_in_earnest(text: &str) -> bool {
    /// Fewer words than this before a question mark are an exclamation, not a question.
    const QUESTION_WORDS: usize = 3;
    let mut rest = text;
    while let Some(mark) = rest.find('?') {
        let before = &rest[..mark];
        let sentence = before
            .rfind(['.', '!', '?', '\n'])
            .map_or(before, |end| &before[end + 1..]);
        if Words::of(sentence).iter().count() >= QUESTION_WORDS && looks_like_question(sentence) {
            return true;
        }
        rest = &rest[mark + 1..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{asks_in_earnest, only_a_question};

    #[test]
    fn a_word_or_two_of_disbelief_is_no_question_asked_in_earnest() {
        assert!(!asks_in_earnest(
            "seriously? ok. the pictures, and the lies"
        ));
        assert!(!asks_in_earnest("what?? he said that"));
        assert!(asks_in_earnest("the lies. is it normal to feel this?"));
        assert!(asks_in_earnest("seriously? how long does this take?"));
        assert!(!asks_in_earnest("I wish you had told me the truth?"));
    }

    #[test]
    fn only_a_question_is_one_question_and_nothing_said_before_it() {
        assert!(only_a_question("is it normal to feel nothing?"));
        assert!(only_a_question("  how long does this take?? "));
        assert!(!only_a_question("numb. is it normal to feel nothing?"));
        assert!(!only_a_question("is it normal? i feel nothing"));
        assert!(!only_a_question("numb"));
        assert!(!only_a_question("I wish you had told me?"));
    }
}
