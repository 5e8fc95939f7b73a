//! The dialogue engine: a pure function from (flows, a person's state, an input, the time) to
//! (new state, replies). It never does I/O and has no clock of its own; storage, Telegram, the
//! shell and the tests all drive it the same way.
//!
//! `safety` holds what happens when the crisis screen finds something (a safety episode), and
//! `privacy` the person's data rights (`/privacy`, `/export`, `/forget`).

mod privacy;
mod safety;

pub use safety::safety_replies;

use std::collections::BTreeMap;

use super::callback::{self, Action, ReminderAction};
use super::model::Question;
use super::model::{
    AnswerRule, BranchTest, CommandAction, EndEffect, Flow, FlowId, Library, SafetyMark, Step,
    StepId, StepKind, zone_time_name,
};
use super::progress;
use super::review;
use super::state::{Answer, CheckinEntry, HISTORY_LIMIT, Keyboard, PersonState, Position};
use super::template::Template;
use crate::calendar::zones::{find_zones, is_zone_name};
use crate::calendar::{Schedule, parse_frequency, parse_wall_time};
use crate::safety::Concern;

/// Something outside the person's state the engine asks its caller to do, once the new state
/// is saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Schedule the person's next reminder for this time (seconds since the epoch).
    ScheduleReminder { due: i64 },
    /// Schedule the next occurrence of the person's (new) check-in schedule, on no day a
    /// reminder already went out: the caller knows when the last one was sent.
    ScheduleNextCheckin,
    /// Remove the person's pending reminder.
    CancelReminder,
    /// Delete everything stored about the person, instead of saving the state.
    Forget,
}

/// Something a person did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `/name argument`.
    Command { name: String, argument: String },
    /// Typed text that is not a command.
    Text(String),
    /// A button press, carrying the button's data.
    Press(String),
    /// Something the bot cannot read: a sticker, photo, voice note, file or location.
    Unsupported,
    /// Text in which the crisis screen found `concern`. The text goes no further than the
    /// engine: it is never saved (except as an answer inside the safety flow itself).
    Concern { concern: Concern, text: String },
}

impl Input {
    /// Runs the crisis screen over typed text (a command's too): a concern turns the input
    /// into `Input::Concern`, before anything else sees it.
    pub fn screened(self, library: &Library) -> Input {
        self.concern(library).unwrap_or(self)
    }

    /// What the crisis screen finds in typed text (a command's too), as `Input::Concern`;
    /// `None` when it finds nothing or there is no text.
    pub fn concern(&self, library: &Library) -> Option<Input> {
        let screened = match self {
            Input::Text(text) => text.as_str(),
            // A flow's id after a command (`/start pillars`, a deep link) is the bot's own word,
            // not something the person wrote.
            Input::Command { argument, .. }
                if !argument.is_empty() && library.flow(argument).is_none() =>
            {
                argument.as_str()
            }
            _ => return None,
        };
        let concern = library.screen(screened)?;
        let text = match self {
            Input::Command { name, argument } => format!("/{name} {argument}"),
            _ => screened.to_owned(),
        };
        Some(Input::Concern { concern, text })
    }

    /// Reads typed text: `/start payload` and `/menu@SomeBot` are commands, the rest is text.
    pub fn from_text(text: &str) -> Input {
        let trimmed = text.trim();
        if let Some(rest) = trimmed.strip_prefix('/') {
            let (word, argument) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let name = word.split('@').next().unwrap_or_default();
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Input::Command {
                    name: name.to_ascii_lowercase(),
                    argument: argument.trim().to_owned(),
                };
            }
        }
        Input::Text(text.to_owned())
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub buttons: Vec<Button>,
    /// A picture or file sent with the text (as its caption when the text is short).
    pub attachment: Option<Attachment>,
}

impl Reply {
    /// A reply of text alone.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            buttons: Vec::new(),
            attachment: None,
        }
    }
}

/// What a reply carries beside its text, as data: the rings make the file (the chart drawn,
/// the export filled in with what storage keeps) and send it with the text as its caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// `/progress`: the check-in ratings as a chart.
    Chart(ProgressChart),
    /// `/export`: everything kept about the person.
    Export,
}

/// The chart `/progress` shows: each check-in's trust rating, and the chart's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressChart {
    /// (when, in seconds since the epoch; the rating, 0 to 10), oldest first.
    pub ratings: Vec<(i64, u8)>,
    /// The zone the dates are shown in: the person's check-in zone, or UTC.
    pub zone: chrono_tz::Tz,
    /// Above the chart.
    pub title: String,
    /// In place of the line when there are no ratings.
    pub empty: String,
}

/// One button under a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub data: String,
}

/// What the engine decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub state: PersonState,
    pub replies: Vec<Reply>,
    /// Whether `state` differs from the state passed in (and so must be saved).
    pub changed: bool,
    /// What to do once the state is saved.
    pub effects: Vec<Effect>,
}

/// A guard against a loop of automatic steps; validation rejects such loops already.
const MAX_AUTOMATIC_STEPS: usize = 100;

/// Runs one input against a person's state.
pub fn advance(library: &Library, state: &PersonState, input: &Input, now: i64) -> Outcome {
    let mut turn = Turn {
        library,
        state: state.clone(),
        replies: Vec::new(),
        effects: Vec::new(),
        now,
    };
    let repaired = turn.repair();
    match input {
        Input::Concern { concern, text } => turn.concern(*concern, text),
        Input::Command { name, argument } => turn.command(name, argument),
        _ if repaired => turn.show_current(),
        Input::Press(data) => turn.press(data),
        Input::Text(text) => turn.text(text),
        Input::Unsupported => {
            turn.note("unsupported");
            turn.show_current();
        }
    }
    let changed = turn.state != *state;
    Outcome {
        state: turn.state,
        replies: turn.replies,
        changed,
        effects: turn.effects,
    }
}

/// One input being handled: the state as it changes and the replies so far.
struct Turn<'a> {
    library: &'a Library,
    state: PersonState,
    replies: Vec<Reply>,
    effects: Vec<Effect>,
    now: i64,
}

impl<'a> Turn<'a> {
    fn say(&mut self, text: impl Into<String>) {
        self.replies.push(Reply::text(text));
    }

    fn bot_message(&self, key: &str) -> String {
        self.library.bot.message(key).to_owned()
    }

    fn note(&mut self, key: &str) {
        let text = self.bot_message(key);
        self.say(text);
    }

    /// Lands a person whose flow changed under them somewhere safe. Returns whether it did.
    fn repair(&mut self) -> bool {
        let Some(position) = &self.state.position else {
            return false;
        };
        let Some(flow) = self.library.flow(&position.flow.0) else {
            self.state.position = None;
            self.state.keyboard = Keyboard::Nothing;
            self.note("flow_gone");
            return true;
        };
        if flow.step(&position.step.0).is_none() {
            self.state.position = Some(Position {
                flow: flow.id.clone(),
                step: flow.entry.clone(),
                version: flow.version,
            });
            self.state.keyboard = Keyboard::Nothing;
            self.note("flow_changed");
            return true;
        }
        if position.version != flow.version {
            // The step still exists, so the person carries on where they were.
            self.state.position = Some(Position {
                version: flow.version,
                ..position.clone()
            });
        }
        false
    }

    fn command(&mut self, name: &str, argument: &str) {
        match name {
            "start" => {
                let start = self.library.bot.start_flow.clone();
                if argument.is_empty() {
                    self.enter_flow(&start);
                } else if self.library.flow(argument).is_some() {
                    self.enter_flow(&FlowId(argument.to_owned()));
                } else {
                    self.note("unknown_flow");
                    self.enter_flow(&start);
                }
            }
            "menu" => {
                self.state.position = None;
                self.show_menu();
            }
            "continue" => self.show_current(),
            "faq" => self.faq(argument),
            "checkin" => self.checkin(argument),
            "progress" => self.progress(),
            "privacy" => self.privacy(),
            "export" => self.export(),
            "forget" => self.ask_to_forget(),
            "takeaways" => {
                let takeaways = self.library.faq.takeaways.clone();
                if takeaways.is_empty() {
                    self.note("takeaways_missing");
                } else {
                    self.say(takeaways);
                }
            }
            "help" => {
                self.note("help");
                if self.state.position.is_some() {
                    self.show_current();
                }
            }
            "cancel" => {
                if self.state.position.take().is_some() {
                    self.note("cancelled");
                } else {
                    self.note("nothing_to_cancel");
                }
                self.show_menu();
            }
            _ => match self.library.bot.commands.get(name) {
                Some(command) => self.bot_command(&command.action),
                None => {
                    self.note("unknown_command");
                    self.show_current();
                }
            },
        }
    }

    /// Runs a command from `bot.toml`'s `[commands]`.
    fn bot_command(&mut self, action: &'a CommandAction) {
        match action {
            CommandAction::Open(flow) => self.enter_flow(flow),
            CommandAction::Show {
                flow,
                text,
                missing,
            } => {
                let answers = self.state.answers.get(flow);
                let answer = |name: &str| {
                    answers
                        .and_then(|answers| answers.get(name))
                        .map(|answer| answer.value.as_str())
                };
                let shown = if text.placeholders().any(|name| answer(name).is_some()) {
                    text.render(answer)
                } else {
                    missing.clone()
                };
                self.say(shown);
            }
        }
    }

    /// `/checkin` sets reminders up, `/checkin now` starts a check-in, `/checkin off` stops them.
    fn checkin(&mut self, argument: &str) {
        let flows = &self.library.bot.checkin_flows;
        match (argument, flows) {
            (_, None) => {
                self.note("unknown_command");
                self.show_current();
            }
            ("off", _) => {
                if self.state.checkin.take().is_some() {
                    self.effects.push(Effect::CancelReminder);
                    self.note("checkin_off");
                } else {
                    self.note("checkin_none");
                }
            }
            ("now", Some(flows)) => {
                let flow = flows.checkin.clone();
                self.enter_flow(&flow);
            }
            (_, Some(flows)) => {
                let flow = flows.setup.clone();
                self.enter_flow(&flow);
            }
        }
    }

    /// `/progress`: the summary in words, with the chart of ratings when there are any.
    fn progress(&mut self) {
        let zone = self
            .state
            .checkin
            .as_ref()
            .map_or(chrono_tz::UTC, |schedule| schedule.zone);
        let summary = progress::summary(&self.state.history, &self.library.bot, zone);
        let ratings: Vec<(i64, u8)> = progress::ratings(&self.state.history)
            .into_iter()
            .map(|(at, rating)| (at, u8::try_from(rating.clamp(0, 255)).unwrap_or(u8::MAX)))
            .collect();
        let chart = (!ratings.is_empty()).then(|| {
            Attachment::Chart(ProgressChart {
                ratings,
                zone,
                title: self.bot_message("progress_chart_title"),
                empty: self.bot_message("progress_empty"),
            })
        });
        self.replies.push(Reply {
            text: summary,
            buttons: Vec::new(),
            attachment: chart,
        });
    }

    fn reminder_pressed(&mut self, action: ReminderAction) {
        let Some(flows) = &self.library.bot.checkin_flows else {
            self.stale();
            return;
        };
        if self.state.checkin.is_none() {
            self.note("checkin_none");
            return;
        }
        match action {
            ReminderAction::Start => {
                let flow = flows.checkin.clone();
                self.enter_flow(&flow);
            }
            ReminderAction::Hour => {
                self.effects.push(Effect::ScheduleReminder {
                    due: self.now + 60 * 60,
                });
                self.note("reminder_snoozed_hour");
            }
            ReminderAction::Tomorrow => {
                self.effects.push(Effect::ScheduleReminder {
                    due: self.now + 24 * 60 * 60,
                });
                self.note("reminder_snoozed_tomorrow");
            }
            ReminderAction::Skip => self.note("reminder_skipped"),
        }
    }

    /// Carries out an end step's effect on the answers of `flow`.
    fn end_effect(&mut self, flow: &FlowId, effect: EndEffect) {
        let answers: BTreeMap<String, String> = self
            .state
            .answers
            .get(flow)
            .map(|answers| {
                answers
                    .iter()
                    .map(|(name, answer)| (name.clone(), answer.value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        match effect {
            EndEffect::RecordCheckin => {
                self.state.history.push(CheckinEntry {
                    at: self.now,
                    answers,
                });
                let excess = self.state.history.len().saturating_sub(HISTORY_LIMIT);
                self.state.history.drain(..excess);
            }
            EndEffect::ScheduleCheckins => {
                // The compiler (`dialogue::compile`) makes sure every answer is saved and every word readable.
                let Some(schedule) = schedule_from(&answers, self.now) else {
                    return;
                };
                self.state.checkin = Some(schedule);
                self.effects.push(Effect::ScheduleNextCheckin);
            }
        }
    }

    /// `/faq` lists the questions, `/faq 3` answers the third, `/faq some words` looks them up.
    fn faq(&mut self, argument: &str) {
        let faq = &self.library.faq;
        if argument.is_empty() {
            if faq.questions.is_empty() {
                self.say_faq_missing();
                return;
            }
            let buttons = faq
                .questions
                .iter()
                .enumerate()
                .map(|(index, question)| faq_button(index + 1, question))
                .collect();
            self.replies.push(Reply {
                text: self.bot_message("faq"),
                buttons,
                attachment: None,
            });
        } else if let Ok(number) = argument.parse::<usize>() {
            match faq.numbered(number) {
                Some(question) => self.answer_question(question),
                None => self.say_faq_missing(),
            }
        } else {
            let found = faq.suggest(argument);
            match found.as_slice() {
                [] => self.faq(""),
                [only] => self.answer_question(only),
                several => self.offer_questions(several),
            }
        }
    }

    fn say_faq_missing(&mut self) {
        let count = self.library.faq.questions.len().to_string();
        let text = self.bot_message("faq_missing").replace("{max}", &count);
        self.say(text);
    }

    /// An FAQ answer, ending with the flows it points to that are on the person's menu: never
    /// one set aside, nor one for another role.
    fn answer_question(&mut self, question: &Question) {
        let titles: Vec<String> = self
            .library
            .menu_for(self.state.role, self.state.coaching_off)
            .filter(|flow| question.flows.contains(&flow.id))
            .map(|flow| format!("'{}'", flow.title))
            .collect();
        let mut text = format!("{}\n\n{}", question.question, question.answer);
        if let Some((last, others)) = titles.split_last() {
            let flows = if others.is_empty() {
                last.clone()
            } else {
                format!("{} or {last}", others.join(", "))
            };
            text.push(' ');
            text.push_str(&self.bot_message("faq_try").replace("{flows}", &flows));
        }
        self.say(text);
    }

    /// Offers FAQ questions as buttons, numbered as `/faq` numbers them.
    fn offer_questions(&mut self, questions: &[&Question]) {
        let faq = &self.library.faq;
        let buttons = questions
            .iter()
            .map(|wanted| {
                let number = faq
                    .questions
                    .iter()
                    .position(|question| question.id == wanted.id)
                    .map_or(0, |index| index + 1);
                faq_button(number, wanted)
            })
            .collect();
        self.replies.push(Reply {
            text: self.bot_message("faq_suggest"),
            buttons,
            attachment: None,
        });
    }

    fn press(&mut self, data: &str) {
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
            (Action::OpenFlow(flow_id), Keyboard::Menu) => {
                let offered = self
                    .library
                    .menu_for(self.state.role, self.state.coaching_off)
                    .any(|flow| flow.id.0 == flow_id);
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
            (Action::Menu, Keyboard::End { .. } | Keyboard::Menu) => {
                self.state.position = None;
                self.show_menu();
            }
            _ => self.stale(),
        }
    }

    fn stale(&mut self) {
        self.note("stale_button");
        self.show_current();
    }

    fn choose(&mut self, choice_id: &str) {
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
            Some(SafetyMark::Concern) => self.state.coaching_off = true,
            Some(SafetyMark::Clear) => self.state.coaching_off = false,
            None => {}
        }
        let answers = self.state.answers.entry(flow.id.clone()).or_default();
        for name in &choice.clear {
            answers.remove(name);
        }
        if let Some(name) = save {
            // A button naming a zone (Europe/Berlin) brings its local time, as a typed zone does.
            if is_zone_name(&choice.value) {
                answers.insert(
                    zone_time_name(name),
                    Answer {
                        value: local_time_in(&choice.value, self.now),
                        at: self.now,
                    },
                );
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

    fn text(&mut self, text: &str) {
        if self.state.position.is_none() && self.state.safety.is_some() {
            self.show_current();
            return;
        }
        let Some((flow, step)) = self.current_step() else {
            let found = self.library.faq.suggest(text);
            if found.is_empty() {
                self.note("nothing_open");
            } else {
                self.offer_questions(&found);
            }
            self.show_menu();
            return;
        };
        match &step.kind {
            StepKind::Ask { save, rule, next } => match self.check_answer(rule, text) {
                Ok(value) => {
                    let now = self.now;
                    let answers = self.state.answers.entry(flow.id.clone()).or_default();
                    if *rule == AnswerRule::Zone {
                        answers.insert(
                            zone_time_name(save),
                            Answer {
                                value: local_time_in(&value, now),
                                at: now,
                            },
                        );
                    }
                    answers.insert(save.clone(), Answer { value, at: now });
                    self.run(flow, next);
                }
                Err(note) => self.say(note),
            },
            _ => {
                self.note("use_buttons");
                self.show_current();
            }
        }
    }

    /// The answer to save, or the kind note explaining what is expected.
    fn check_answer(&self, rule: &AnswerRule, text: &str) -> Result<String, String> {
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
            AnswerRule::Time => parse_wall_time(trimmed)
                .map(|time| time.format("%H:%M").to_string())
                .ok_or_else(|| self.bot_message("answer_not_a_time")),
            AnswerRule::Zone => find_zones(trimmed, 1)
                .first()
                .map(|zone| zone.name().to_owned())
                .ok_or_else(|| self.bot_message("answer_not_a_zone")),
        }
    }

    /// The flow and step at the person's position, if both exist.
    fn current_step(&self) -> Option<(&'a Flow, &'a Step)> {
        let position = self.state.position.as_ref()?;
        let flow = self.library.flow(&position.flow.0)?;
        Some((flow, flow.step(&position.step.0)?))
    }

    /// Shows the person where they are again: their step, the safety episode waiting for
    /// their choice, or the menu.
    fn show_current(&mut self) {
        match self.current_step() {
            Some((flow, step)) => self.run(flow, &step.id),
            None if self.state.safety.is_some() => self.show_episode(false),
            None => self.show_menu(),
        }
    }

    /// Opens a flow because the person chose it. Choosing anything but the safety flow ends
    /// an open safety episode: that is their choice to go on.
    fn enter_flow(&mut self, id: &FlowId) {
        if !self.library.bot.is_safety_flow(id) {
            self.state.safety = None;
        }
        match self.library.flow(&id.0) {
            Some(flow) if self.held_back(flow) => {
                self.note("coaching_off");
                self.show_menu();
            }
            Some(flow) => self.run(flow, &flow.entry),
            None => {
                self.note("flow_gone");
                self.show_menu();
            }
        }
    }

    /// Whether `flow` coaches toward staying together while a sign of abuse was seen.
    fn held_back(&self, flow: &Flow) -> bool {
        self.state.coaching_off && flow.toward_staying
    }

    fn show_menu(&mut self) {
        self.state.position = None;
        self.state.seq = self.state.seq.wrapping_add(1);
        self.state.keyboard = Keyboard::Menu;
        let seq = self.state.seq;
        let buttons: Vec<Button> = self
            .library
            .menu_for(self.state.role, self.state.coaching_off)
            .map(|flow| Button {
                label: flow.title.clone(),
                data: callback::encode(seq, &Action::OpenFlow(flow.id.0.clone())),
            })
            .collect();
        let key = if buttons.is_empty() {
            "menu_empty"
        } else {
            "menu"
        };
        self.replies.push(Reply {
            text: self.bot_message(key),
            buttons,
            attachment: None,
        });
    }

    /// Runs a flow from `start` until a step that waits for the person.
    fn run(&mut self, mut flow: &'a Flow, start: &StepId) {
        let mut step_id = start.clone();
        for _ in 0..MAX_AUTOMATIC_STEPS {
            let Some(step) = flow.step(&step_id.0) else {
                self.note("flow_changed");
                self.show_menu();
                return;
            };
            self.state.position = Some(Position {
                flow: flow.id.clone(),
                step: step_id.clone(),
                version: flow.version,
            });
            let answers = self.state.answers.get(&flow.id);
            let render = |template: &Template| {
                template.render(|name| {
                    answers
                        .and_then(|answers| answers.get(name))
                        .map(|answer| answer.value.as_str())
                })
            };
            let text = step.say.as_ref().map(render);
            match &step.kind {
                StepKind::Message { next } => {
                    self.say(text.unwrap_or_default());
                    step_id = next.clone();
                }
                StepKind::Review {
                    answer,
                    notes,
                    all_clear,
                    next,
                } => {
                    let reviewed = answers
                        .and_then(|answers| answers.get(answer))
                        .map_or("", |answer| answer.value.as_str());
                    let mut shown: Vec<String> = text.into_iter().collect();
                    shown.extend(review::notes_for(notes, reviewed).map(|note| render(&note.text)));
                    if shown.len() == usize::from(step.say.is_some()) {
                        shown.extend(all_clear.as_ref().map(render));
                    }
                    self.say(shown.join("\n\n"));
                    step_id = next.clone();
                }
                StepKind::Branch { rules, otherwise } => {
                    step_id = rules
                        .iter()
                        .find(|rule| self.holds(&flow.id, &rule.test))
                        .map_or(otherwise, |rule| &rule.goto)
                        .clone();
                }
                StepKind::Jump { flow: target } => {
                    if let Some(text) = text {
                        self.say(text);
                    }
                    let Some(next_flow) = self.library.flow(&target.0) else {
                        self.note("flow_gone");
                        self.show_menu();
                        return;
                    };
                    if self.held_back(next_flow) {
                        self.note("coaching_off");
                        self.show_menu();
                        return;
                    }
                    flow = next_flow;
                    step_id = flow.entry.clone();
                }
                StepKind::Ask { .. } => {
                    self.state.keyboard = Keyboard::Nothing;
                    self.say(text.unwrap_or_default());
                    return;
                }
                StepKind::Choice { choices, .. } => {
                    self.state.seq = self.state.seq.wrapping_add(1);
                    self.state.keyboard = Keyboard::Step;
                    let seq = self.state.seq;
                    let buttons = choices
                        .iter()
                        .map(|choice| Button {
                            label: choice.label.clone(),
                            data: callback::encode(seq, &Action::Choice(choice.id.clone())),
                        })
                        .collect();
                    self.replies.push(Reply {
                        text: text.unwrap_or_default(),
                        buttons,
                        attachment: None,
                    });
                    return;
                }
                StepKind::End { suggest, effect } => {
                    if let Some(effect) = effect {
                        self.end_effect(&flow.id, *effect);
                    }
                    self.state.position = None;
                    self.state.seq = self.state.seq.wrapping_add(1);
                    self.state.keyboard = Keyboard::End {
                        flow: flow.id.clone(),
                        step: step_id.clone(),
                    };
                    let seq = self.state.seq;
                    let mut buttons: Vec<Button> = suggest
                        .iter()
                        .filter_map(|id| self.library.flow(&id.0))
                        .filter(|suggested| !self.held_back(suggested))
                        .map(|suggested| Button {
                            label: suggested.title.clone(),
                            data: callback::encode(seq, &Action::OpenFlow(suggested.id.0.clone())),
                        })
                        .collect();
                    buttons.push(Button {
                        label: self.bot_message("menu_button"),
                        data: callback::encode(seq, &Action::Menu),
                    });
                    self.replies.push(Reply {
                        text: text.unwrap_or_else(|| self.bot_message("menu")),
                        buttons,
                        attachment: None,
                    });
                    return;
                }
            }
        }
        // Only a loop of automatic steps gets here, and validation refuses those.
        self.show_menu();
    }

    fn holds(&self, flow: &FlowId, test: &BranchTest) -> bool {
        let answer = |name: &str| {
            self.state
                .answers
                .get(flow)
                .and_then(|answers| answers.get(name))
                .map(|answer| answer.value.as_str())
        };
        match test {
            BranchTest::RoleIs(role) => self.state.role == Some(*role),
            BranchTest::ConcernIs(kind) => self.concern_kind() == Some(*kind),
            BranchTest::AnswerEquals {
                answer: name,
                value,
            } => answer(name).is_some_and(|given| given.trim().eq_ignore_ascii_case(value.trim())),
            BranchTest::AnswerAtLeast {
                answer: name,
                bound,
            } => answer(name)
                .and_then(first_integer)
                .is_some_and(|number| number >= *bound),
            BranchTest::AnswerAtMost {
                answer: name,
                bound,
            } => answer(name)
                .and_then(first_integer)
                .is_some_and(|number| number <= *bound),
        }
    }
}

/// The check-in reminder itself: discreet words (it may show on a lock screen) and its
/// buttons. Its buttons carry no keyboard number, so they work whenever they are pressed.
pub fn reminder(library: &Library) -> Reply {
    let button = |key: &str, action: ReminderAction| Button {
        label: library.bot.message(key).to_owned(),
        data: callback::encode(0, &Action::Reminder(action)),
    };
    Reply {
        text: library.bot.message("reminder").to_owned(),
        buttons: vec![
            button("reminder_start", ReminderAction::Start),
            button("reminder_hour", ReminderAction::Hour),
            button("reminder_tomorrow", ReminderAction::Tomorrow),
            button("reminder_skip", ReminderAction::Skip),
        ],
        attachment: None,
    }
}

/// A schedule from a setup flow's answers, starting on today's local date.
fn schedule_from(answers: &BTreeMap<String, String>, now: i64) -> Option<Schedule> {
    let zone: chrono_tz::Tz = answers.get("zone")?.parse().ok()?;
    let weekday = answers
        .get("weekday")
        .and_then(|day| day.parse::<chrono::Weekday>().ok());
    let frequency = parse_frequency(answers.get("frequency")?, weekday)?;
    let time = parse_wall_time(answers.get("time")?)?;
    let start = chrono::DateTime::from_timestamp(now, 0)?
        .with_timezone(&zone)
        .date_naive();
    Some(Schedule {
        frequency,
        time,
        zone,
        start,
    })
}

/// The local time (`HH:MM`) at `now` (seconds since the epoch) in IANA zone `zone`.
fn local_time_in(zone: &str, now: i64) -> String {
    let zone: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .with_timezone(&zone)
        .format("%H:%M")
        .to_string()
}

/// A button that shows FAQ question `number`'s answer.
fn faq_button(number: usize, question: &Question) -> Button {
    Button {
        label: format!("{number}. {}", question.button),
        data: callback::encode(0, &Action::Question(question.id.clone())),
    }
}

/// The first whole number in `text` ("7", "about 7", "7/10"), forgivingly.
fn first_integer(text: &str) -> Option<i64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let negative = text[..start].ends_with('-');
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let number: i64 = digits.parse().ok()?;
    Some(if negative { -number } else { number })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised_with_bot_names_and_payloads() {
        assert_eq!(
            Input::from_text("/start@KintsugiBot ground-rules"),
            Input::Command {
                name: "start".to_owned(),
                argument: "ground-rules".to_owned()
            }
        );
        assert_eq!(
            Input::from_text("/MENU"),
            Input::Command {
                name: "menu".to_owned(),
                argument: String::new()
            }
        );
        assert_eq!(
            Input::from_text("/ not a command"),
            Input::Text("/ not a command".to_owned())
        );
        assert_eq!(Input::from_text("hello"), Input::Text("hello".to_owned()));
    }

    #[test]
    fn first_integer_is_forgiving() {
        assert_eq!(first_integer("7"), Some(7));
        assert_eq!(first_integer("about 6/10"), Some(6));
        assert_eq!(first_integer("-3"), Some(-3));
        assert_eq!(first_integer("seven"), None);
        assert_eq!(first_integer("99999999999999999999999"), None);
    }
}
