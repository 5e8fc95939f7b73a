//! Check-ins: `/checkin` and its set-up, `/progress` (the summary and the chart as data), the
//! reminder and its buttons, and what the end of a check-in or set-up flow records.

use std::collections::BTreeMap;

use crate::calendar::{Schedule, parse_frequency, parse_wall_time};
use crate::dialogue::callback::{self, Action, ReminderAction};
use crate::dialogue::model::{EndEffect, FlowId, Library};
use crate::dialogue::progress;
use crate::dialogue::state::{CheckinEntry, HISTORY_LIMIT};

use super::{Attachment, Button, Effect, ProgressChart, Reply, Turn};

impl<'a> Turn<'a> {
    /// `/checkin` sets reminders up (or, once they are set, starts a check-in, as `/checkin now`
    /// does), `/checkin change` sets them up again, `/checkin off` stops them.
    pub(super) fn checkin(&mut self, argument: &str) {
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
            // Reminders already set: a plain /checkin is most likely a wish to check in.
            ("", Some(flows)) if self.state.checkin.is_some() => {
                let flow = flows.checkin.clone();
                self.note("checkin_already");
                self.enter_flow(&flow);
            }
            (_, Some(flows)) => {
                let flow = flows.setup.clone();
                self.enter_flow(&flow);
            }
        }
    }

    /// `/progress`: the summary in words, with the chart of ratings when there are any.
    pub(super) fn progress(&mut self) {
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
        // A linked partner's ratings, when both share them: those this person may see.
        let partner: Vec<(i64, u8)> = match self.linked() {
            Some((record, side, _)) if record.sharing_ratings() => record
                .partner_ratings(side)
                .into_iter()
                .map(|rating| (rating.at, rating.rating))
                .collect(),
            _ => Vec::new(),
        };
        let mut text = summary;
        if let Some(&(_, theirs)) = partner.last() {
            text = format!("{text}\n\n{}", self.bot_message("progress_partner"));
            // Where the two lines are far apart now: a gentle word about talking it over.
            let mine = ratings.last().map(|&(_, rating)| rating);
            if mine.is_some_and(|mine| mine.abs_diff(theirs) >= super::couple::RATINGS_APART) {
                text = format!("{text}\n\n{}", self.bot_message("ratings_apart"));
            }
        }
        let chart = (!ratings.is_empty()).then(|| {
            Attachment::Chart(ProgressChart {
                ratings,
                partner,
                zone,
                title: self.bot_message("progress_chart_title"),
                empty: self.bot_message("progress_empty"),
            })
        });
        self.replies.push(Reply {
            text,
            buttons: Vec::new(),
            attachment: chart,
        });
    }

    pub(super) fn reminder_pressed(&mut self, action: ReminderAction) {
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
    pub(super) fn end_effect(&mut self, flow: &FlowId, effect: EndEffect) {
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
                self.share_rating();
            }
            EndEffect::ScheduleCheckins => {
                // The compiler (`dialogue::compile`) makes sure every answer is saved and every word readable.
                let Some(schedule) = schedule_from(&answers, self.now) else {
                    return;
                };
                self.state.checkin = Some(schedule);
                self.effects.push(Effect::ScheduleNextCheckin);
            }
            EndEffect::Link => self.checked_before_linking(),
            EndEffect::NoLink => self.set_linking_aside(),
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
pub(super) fn schedule_from(answers: &BTreeMap<String, String>, now: i64) -> Option<Schedule> {
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
pub(super) fn local_time_in(zone: &str, now: i64) -> String {
    let zone: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .with_timezone(&zone)
        .format("%H:%M")
        .to_string()
}
