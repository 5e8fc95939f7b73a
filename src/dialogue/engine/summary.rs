//! `/summary`: a short document a person can bring to a therapist. They pick each part in turn
//! (nothing goes in that they did not pick), and the engine returns the document as data for
//! the files ring to lay out as a PDF. Never in it: a safety episode, the safety flow, or any
//! line the crisis screen would stop at.

use chrono::TimeZone;

use crate::dialogue::callback::{self, Action, SummaryAnswer};
use crate::dialogue::model::{CommandAction, Stage};
use crate::dialogue::progress;
use crate::dialogue::state::{Keyboard, SummaryPart, SummaryPick};

use super::{Attachment, Button, ProgressChart, Reply, Turn};

/// The summary as data: the files ring lays it out as a PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryDocument {
    pub title: String,
    pub subtitle: String,
    pub sections: Vec<SummarySection>,
    pub footer: String,
}

/// One picked part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummarySection {
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub chart: Option<ProgressChart>,
}

impl<'a> Turn<'a> {
    /// `/summary`: asks about the first part there is something for.
    pub(super) fn summary(&mut self) {
        let left = self.summary_parts();
        if left.is_empty() {
            self.note("summary_nothing");
            return;
        }
        self.state.position = None;
        self.state.summary = Some(SummaryPick {
            left,
            picked: Vec::new(),
        });
        self.note("summary_intro");
        self.ask_summary_part();
    }

    pub(super) fn summary_answered(&mut self, answer: SummaryAnswer) {
        let Some(mut pick) = self.state.summary.take() else {
            self.stale();
            return;
        };
        if pick.left.is_empty() {
            self.stale();
            return;
        }
        let part = pick.left.remove(0);
        match answer {
            SummaryAnswer::Include => pick.picked.push(part),
            SummaryAnswer::Leave => {}
            SummaryAnswer::Stop => {
                self.note("summary_stopped");
                self.show_menu();
                return;
            }
        }
        self.state.summary = Some(pick);
        self.ask_summary_part();
    }

    /// Text typed while a part of the summary is asked about: its buttons' words ("put it
    /// in", "yes", "leave it out", "no") answer it; anything else asks again, with the
    /// buttons, so the summary is never dropped by a typed word.
    pub(super) fn summary_typed(&mut self, text: &str) {
        let buttons = [
            (
                self.bot_message("summary_include"),
                vec!["yes", "include it"],
                SummaryAnswer::Include,
            ),
            (
                self.bot_message("summary_leave"),
                vec!["no", "leave it"],
                SummaryAnswer::Leave,
            ),
            (
                self.bot_message("summary_stop"),
                vec!["stop"],
                SummaryAnswer::Stop,
            ),
        ];
        match super::named::pressed_by(&buttons, text) {
            Some(answer) => self.summary_answered(answer),
            None => {
                self.note("use_buttons");
                self.ask_summary_part();
            }
        }
    }

    /// Asks about the next part, or makes the document once every part was asked about.
    fn ask_summary_part(&mut self) {
        let Some(pick) = &self.state.summary else {
            return;
        };
        let Some(part) = pick.left.first() else {
            let picked = pick.picked.clone();
            self.state.summary = None;
            self.make_summary(&picked);
            return;
        };
        let text = self
            .bot_message("summary_ask")
            .replace("{part}", &decapitalised(&self.part_label(part)));
        self.state.seq = self.state.seq.wrapping_add(1);
        self.state.keyboard = Keyboard::Summary;
        let seq = self.state.seq;
        let button = |key: &str, answer| Button {
            label: self.bot_message(key),
            data: callback::encode(seq, &Action::Summary(answer)),
        };
        let buttons = vec![
            button("summary_include", SummaryAnswer::Include),
            button("summary_leave", SummaryAnswer::Leave),
            button("summary_stop", SummaryAnswer::Stop),
        ];
        self.replies.push(Reply {
            text,
            buttons,
            attachment: None,
        });
    }

    /// The parts there is something for, in the document's order.
    fn summary_parts(&self) -> Vec<SummaryPart> {
        let mut parts = Vec::new();
        if self
            .library
            .flows
            .iter()
            .any(|flow| flow.stage.is_some() && self.state.done.contains(&flow.id))
        {
            parts.push(SummaryPart::Path);
        }
        for (name, command) in &self.library.bot.commands {
            if let CommandAction::Show { flow, .. } = &command.action
                && !self.library.bot.is_safety_flow(flow)
                && self
                    .state
                    .answers
                    .get(flow)
                    .is_some_and(|answers| !answers.is_empty())
            {
                parts.push(SummaryPart::Card(name.clone()));
            }
        }
        if !self.state.history.is_empty() {
            parts.push(SummaryPart::Trend);
        }
        if self.state.history.iter().any(|entry| {
            entry
                .answers
                .get("note")
                .is_some_and(|note| !note.trim().is_empty())
        }) {
            parts.push(SummaryPart::Notes);
        }
        parts
    }

    fn part_label(&self, part: &SummaryPart) -> String {
        match part {
            SummaryPart::Path => self.bot_message("summary_path"),
            SummaryPart::Card(name) => self
                .library
                .bot
                .commands
                .get(name)
                .map_or_else(|| name.clone(), |command| command.about.clone()),
            SummaryPart::Trend => self.bot_message("summary_trend"),
            SummaryPart::Notes => self.bot_message("summary_notes"),
        }
    }

    fn make_summary(&mut self, picked: &[SummaryPart]) {
        if picked.is_empty() {
            self.note("summary_none_picked");
            return;
        }
        let zone = self
            .state
            .checkin
            .as_ref()
            .map_or(chrono_tz::UTC, |schedule| schedule.zone);
        let date = |at: i64| {
            zone.timestamp_opt(at, 0)
                .single()
                .map(|time| time.format("%-d %B %Y").to_string())
                .unwrap_or_default()
        };
        let mut left_out = 0;
        let mut sections = Vec::new();
        for part in picked {
            let mut section = SummarySection {
                heading: capitalised(&self.part_label(part)),
                paragraphs: Vec::new(),
                chart: None,
            };
            match part {
                SummaryPart::Path => {
                    for stage in Stage::ALL {
                        let titles: Vec<&str> = self
                            .library
                            .flows
                            .iter()
                            .filter(|flow| {
                                flow.stage == Some(stage) && self.state.done.contains(&flow.id)
                            })
                            .map(|flow| flow.title.as_str())
                            .collect();
                        if !titles.is_empty() {
                            let name = self.bot_message(&format!("stage_{}", stage.as_str()));
                            section.paragraphs.push(format!(
                                "{}: {}",
                                capitalised(&name),
                                titles.join(", ")
                            ));
                        }
                    }
                }
                SummaryPart::Card(name) => {
                    if let Some(command) = self.library.bot.commands.get(name)
                        && let CommandAction::Show { flow, text, .. } = &command.action
                    {
                        let answers = self.state.answers.get(flow);
                        section.paragraphs.push(text.render(|name| {
                            answers
                                .and_then(|answers| answers.get(name))
                                .map(|answer| answer.value.as_str())
                        }));
                    }
                }
                SummaryPart::Trend => {
                    section.paragraphs.push(progress::summary(
                        &self.state.history,
                        &self.library.bot,
                        zone,
                    ));
                    let ratings: Vec<(i64, u8)> = progress::ratings(&self.state.history)
                        .into_iter()
                        .map(|(at, rating)| (at, u8::try_from(rating.clamp(0, 10)).unwrap_or(0)))
                        .collect();
                    section.chart = Some(ProgressChart {
                        ratings,
                        // A partner's ratings are theirs: never in this person's summary.
                        partner: Vec::new(),
                        zone,
                        title: self.bot_message("progress_chart_title"),
                        empty: self.bot_message("progress_empty"),
                    });
                }
                SummaryPart::Notes => {
                    for entry in &self.state.history {
                        if let Some(note) = entry.answers.get("note")
                            && !note.trim().is_empty()
                        {
                            section
                                .paragraphs
                                .push(format!("{}: {}", date(entry.at), note.trim()));
                        }
                    }
                }
            }
            // Nothing the crisis screen would stop at goes into a document meant for others.
            let before = section.paragraphs.len();
            section
                .paragraphs
                .retain(|paragraph| self.library.screen(paragraph).is_none());
            left_out += before - section.paragraphs.len();
            sections.push(section);
        }
        let mut text = self.bot_message("summary_ready");
        if left_out > 0 {
            text = format!("{text}\n\n{}", self.bot_message("summary_left_out"));
        }
        let document = SummaryDocument {
            title: self.bot_message("summary_title"),
            subtitle: self
                .bot_message("summary_made")
                .replace("{date}", &date(self.now)),
            sections,
            footer: self.bot_message("summary_footer"),
        };
        self.state.position = None;
        self.replies.push(Reply {
            text,
            buttons: Vec::new(),
            attachment: Some(Attachment::Summary(Box::new(document))),
        });
    }
}

/// `text` with its first letter upper case, as a heading starts.
fn capitalised(text: &str) -> String {
    with_first(text, |first| first.to_uppercase().collect())
}

/// `text` with its first letter lower case, as it reads inside a sentence.
fn decapitalised(text: &str) -> String {
    with_first(text, |first| first.to_lowercase().collect())
}

fn with_first(text: &str, change: impl Fn(char) -> String) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| change(first) + chars.as_str())
        .unwrap_or_default()
}
