//! The files replies carry, made from the engine's [`Attachment`]s: the `/progress` chart drawn
//! as a PNG (by [`crate::chart`]) and the `/export` document, filled in with what storage keeps
//! beside the state. Pure: the caller (the conversation) reads what is kept and passes it in.

use chrono::DateTime;

use crate::chart::{ChartPoint, ChartText, progress_chart_beside, progress_chart_pixels};
use crate::dialogue::PersonState;
use crate::dialogue::engine::{Attachment, ProgressChart, SummaryDocument};
use crate::dialogue::pair::{PairState, SharedAnswer, Side};
use crate::storage::LastUpdate;

/// The name of the file `/export` sends.
pub(crate) const EXPORT_FILE_NAME: &str = "kintsugi-export.json";
/// The name of the file `/summary` sends.
pub(crate) const SUMMARY_FILE_NAME: &str = "kintsugi-summary.pdf";
/// The name of the `/progress` chart.
pub(crate) const CHART_FILE_NAME: &str = "progress.png";

/// A file to send with a reply's text.
#[derive(Clone, PartialEq, Eq)]
pub struct File {
    pub kind: FileKind,
    /// The file name the person sees.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Shows the name and size only: the bytes may be what a person wrote.
impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "File({:?}, {}, {} bytes)",
            self.kind,
            self.name,
            self.bytes.len()
        )
    }
}

/// How a file is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A picture shown in the chat.
    Photo,
    /// A file to download.
    Document,
}

/// What storage keeps about a person beside their state, for `/export`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct KeptBeside {
    /// The last Telegram update applied to their state.
    pub last_update: Option<LastUpdate>,
    /// False once they blocked the bot (until they unblock it).
    pub reachable: bool,
    /// When their pending check-in reminder is due.
    pub reminder_due: Option<i64>,
    /// When the last reminder sent to them was due.
    pub reminder_last_sent: Option<i64>,
    /// The record they share with a linked partner, and which partner they are.
    pub pair: Option<(PairState, Side)>,
}

/// The file an attachment becomes: `state` and `kept` fill in an export; `None` for a chart
/// that cannot be drawn (the words matter more than the picture, so the text goes alone).
pub(crate) fn file_of(
    attachment: &Attachment,
    state: &PersonState,
    kept: &KeptBeside,
    now: i64,
) -> Option<File> {
    match attachment {
        Attachment::Chart(chart) => chart_file(chart),
        Attachment::Export => Some(File {
            kind: FileKind::Document,
            name: EXPORT_FILE_NAME.to_owned(),
            bytes: export_json(state, kept, now).into_bytes(),
        }),
        Attachment::Summary(summary) => summary_file(summary),
    }
}

/// The `/summary` as a PDF; `None` (logged) if it cannot be made.
pub(crate) fn summary_file(summary: &SummaryDocument) -> Option<File> {
    let sections = summary
        .sections
        .iter()
        .map(|section| crate::pdf::Section {
            heading: section.heading.clone(),
            paragraphs: section.paragraphs.clone(),
            picture: section.chart.as_ref().and_then(chart_picture),
        })
        .collect();
    let document = crate::pdf::Document {
        title: summary.title.clone(),
        subtitle: summary.subtitle.clone(),
        sections,
        footer: summary.footer.clone(),
    };
    match crate::pdf::render(&document) {
        Ok(bytes) => Some(File {
            kind: FileKind::Document,
            name: SUMMARY_FILE_NAME.to_owned(),
            bytes,
        }),
        Err(error) => {
            log::warn!("event=summary_not_made error={error}");
            None
        }
    }
}

/// What the chart module draws `chart` from: its points and its words.
fn chart_input(chart: &ProgressChart) -> (Vec<ChartPoint>, Vec<ChartPoint>, ChartText) {
    let points = |ratings: &[(i64, u8)]| {
        ratings
            .iter()
            .map(|&(at, rating)| ChartPoint { at, rating })
            .collect()
    };
    let text = ChartText {
        title: chart.title.clone(),
        empty: chart.empty.clone(),
    };
    (points(&chart.ratings), points(&chart.partner), text)
}

/// The chart's pixels, for a PDF.
fn chart_picture(chart: &ProgressChart) -> Option<crate::pdf::Picture> {
    let (points, partner, text) = chart_input(chart);
    match progress_chart_pixels(&points, &partner, chart.zone, &text) {
        Ok(rgb) => Some(crate::pdf::Picture {
            width: crate::chart::WIDTH,
            height: crate::chart::HEIGHT,
            rgb,
        }),
        Err(error) => {
            log::warn!("event=chart_not_drawn error={error}");
            None
        }
    }
}

/// The `/progress` chart as a PNG.
pub(crate) fn chart_file(chart: &ProgressChart) -> Option<File> {
    let (points, partner, text) = chart_input(chart);
    match progress_chart_beside(&points, &partner, chart.zone, &text) {
        Ok(bytes) => Some(File {
            kind: FileKind::Photo,
            name: CHART_FILE_NAME.to_owned(),
            bytes,
        }),
        Err(error) => {
            log::warn!("event=chart_not_drawn error={error}");
            None
        }
    }
}

/// Everything kept about a person, as the JSON `/export` sends: their whole state and what
/// storage keeps beside it, with times also written out in UTC so the file reads without tools.
pub(crate) fn export_json(state: &PersonState, kept: &KeptBeside, now: i64) -> String {
    let when = |at: i64| {
        DateTime::from_timestamp(at, 0)
            .map(|time| time.to_rfc3339())
            .unwrap_or_default()
    };
    let checkins: Vec<serde_json::Value> = state
        .history
        .iter()
        .map(|entry| serde_json::json!({ "at": when(entry.at), "answers": entry.answers }))
        .collect();
    let answers: serde_json::Map<String, serde_json::Value> = state
        .answers
        .iter()
        .map(|(flow, answers)| {
            let answers: serde_json::Map<String, serde_json::Value> = answers
                .iter()
                .map(|(name, answer)| {
                    (
                        name.clone(),
                        serde_json::json!({ "value": answer.value, "at": when(answer.at) }),
                    )
                })
                .collect();
            (flow.0.clone(), serde_json::Value::Object(answers))
        })
        .collect();
    let together = kept.pair.as_ref().map(|(pair, side)| {
        // What the person can see: their own answers, the partner's once revealed.
        let shared: serde_json::Map<String, serde_json::Value> = pair
            .shared
            .keys()
            .map(|item| {
                let view = pair.view(item, *side);
                let answer = |answer: Option<&SharedAnswer>| {
                    answer.map(|answer| serde_json::json!({ "value": answer.value, "at": when(answer.at) }))
                };
                (
                    item.clone(),
                    serde_json::json!({
                        "yours": answer(view.mine),
                        "your_partner": answer(view.theirs),
                        "revealed_at": view.revealed.map(when),
                    }),
                )
            })
            .collect();
        let rules: Vec<serde_json::Value> = pair
            .rules
            .iter()
            .map(|rule| {
                serde_json::json!({
                    "number": rule.number,
                    "text": rule.text,
                    "proposed_by": if rule.proposed_by == *side { "you" } else { "your partner" },
                    "proposed_at": when(rule.proposed_at),
                    "agreed_at": rule.agreed_at.map(when),
                })
            })
            .collect();
        let gone: Vec<serde_json::Value> = pair
            .gone
            .iter()
            .map(|gone| {
                serde_json::json!({
                    "text": gone.text,
                    "by": if gone.by == *side { "you" } else { "your partner" },
                    "how": if gone.declined { "declined" } else { "withdrawn" },
                    "at": when(gone.at),
                })
            })
            .collect();
        serde_json::json!({
            "linked_since": when(pair.since),
            "shared_exercises": shared,
            "rules": rules,
            "rules_gone_lately": gone,
        })
    });
    let document = serde_json::json!({
        "about": "Everything Kintsugi keeps about you, as of exported_at. Times are in UTC.",
        "with_your_partner": together,
        "exported_at": when(now),
        "answers": answers,
        "checkins": checkins,
        "checkin_reminders": state.checkin,
        "next_reminder_due": kept.reminder_due.map(when),
        "last_reminder_sent": kept.reminder_last_sent.map(when),
        "role": state.role,
        "where_you_are": state.position,
        "words_kept_for_a_later_question": state.kept.as_ref().map(|kept| &kept.value),
        "shared_answer_waiting_after_notes": state.unshared.as_ref().map(|answer| &answer.value),
        "rule_waiting_after_notes": state.unsent_rule,
        "safety_episode": state.safety,
        "rebuilding_conversations_paused": state.coaching_off,
        "blocked_the_bot": !kept.reachable,
        "last_telegram_update": kept.last_update.map(|update| serde_json::json!({
            "id": update.id,
            "at": when(update.at),
        })),
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}
