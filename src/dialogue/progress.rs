//! `/progress` in words: how many check-ins, the latest trust rating, the trend, the run of
//! check-ins in a row, and when the last note was written. Pure: it reads the history it is
//! given; the chart is drawn elsewhere.

use chrono::{DateTime, Duration};
use chrono_tz::Tz;

use super::model::BotText;
use super::state::CheckinEntry;

/// Check-ins further apart than this end a run.
const RUN_GAP: Duration = Duration::days(8);
/// Check-ins closer together than this are one day's (a morning and an evening one).
const SAME_DAY: Duration = Duration::hours(12);

/// How ratings are moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    /// Too few check-ins to tell.
    Early,
    Up,
    Down,
    Steady,
}

/// The figures `/progress` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub count: usize,
    pub latest: Option<i64>,
    pub trend: Trend,
    /// Check-ins in a row, counted back from the latest, none more than a week apart; two
    /// within [`SAME_DAY`] of each other count once.
    pub run: usize,
    /// When the last check-in with a note was made.
    pub last_note: Option<i64>,
}

/// The ratings of `history`, oldest first, with their times.
pub fn ratings(history: &[CheckinEntry]) -> Vec<(i64, i64)> {
    history
        .iter()
        .filter_map(|entry| {
            let rating = entry.answers.get("rating")?.trim().parse().ok()?;
            Some((entry.at, rating))
        })
        .collect()
}

pub fn progress(history: &[CheckinEntry]) -> Progress {
    let rated = ratings(history);
    let values: Vec<i64> = rated.iter().map(|(_, rating)| *rating).collect();
    let trend = if values.len() < 4 {
        Trend::Early
    } else {
        let recent = &values[values.len().saturating_sub(3)..];
        let before = &values[values.len().saturating_sub(6)..values.len() - 3];
        let mean = |part: &[i64]| part.iter().sum::<i64>() as f64 / part.len().max(1) as f64;
        let change = mean(recent) - mean(before);
        if change >= 1.0 {
            Trend::Up
        } else if change <= -1.0 {
            Trend::Down
        } else {
            Trend::Steady
        }
    };
    let mut run = usize::from(!history.is_empty());
    for pair in history.windows(2).rev() {
        let apart = pair[1].at - pair[0].at;
        if apart > RUN_GAP.num_seconds() {
            break;
        }
        // A second check-in the same day is not a day more in a row.
        if apart >= SAME_DAY.num_seconds() {
            run += 1;
        }
    }
    let last_note = history
        .iter()
        .rev()
        .find(|entry| {
            entry
                .answers
                .get("note")
                .is_some_and(|note| !note.trim().is_empty())
        })
        .map(|entry| entry.at);
    Progress {
        count: history.len(),
        latest: values.last().copied(),
        trend,
        run,
        last_note,
    }
}

/// The words of `/progress`, from `bot.toml`'s messages; dates in `zone`.
pub fn summary(history: &[CheckinEntry], bot: &BotText, zone: Tz) -> String {
    let figures = progress(history);
    if figures.count == 0 {
        return bot.message("progress_empty").to_owned();
    }
    let trend = bot.message(match figures.trend {
        Trend::Early => "trend_early",
        Trend::Up => "trend_up",
        Trend::Down => "trend_down",
        Trend::Steady => "trend_steady",
    });
    let note = match figures.last_note {
        Some(at) => bot
            .message("progress_note")
            .replace("{date}", &local_date(at, zone)),
        None => bot.message("progress_no_note").to_owned(),
    };
    bot.message("progress")
        .replace("{count}", &figures.count.to_string())
        .replace(
            "{latest}",
            &figures
                .latest
                .map_or("…".to_owned(), |rating| rating.to_string()),
        )
        .replace("{trend}", trend)
        .replace("{run}", &figures.run.to_string())
        .replace("{note}", &note)
}

fn local_date(at: i64, zone: Tz) -> String {
    DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .with_timezone(&zone)
        .format("%-d %B %Y")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 60 * 60;

    fn entry(day: i64, rating: i64, note: &str) -> CheckinEntry {
        let mut answers = std::collections::BTreeMap::new();
        answers.insert("rating".to_owned(), rating.to_string());
        if !note.is_empty() {
            answers.insert("note".to_owned(), note.to_owned());
        }
        CheckinEntry {
            at: 1_800_000_000 + day * DAY,
            answers,
        }
    }

    #[test]
    fn no_check_ins_is_nothing_to_report() {
        let figures = progress(&[]);
        assert_eq!((figures.count, figures.latest, figures.run), (0, None, 0));
    }

    #[test]
    fn a_few_check_ins_are_too_early_for_a_trend() {
        let history = [entry(0, 3, ""), entry(1, 4, "")];
        assert_eq!(progress(&history).trend, Trend::Early);
    }

    #[test]
    fn the_trend_compares_the_last_three_with_the_three_before() {
        let rising: Vec<_> = [2, 3, 3, 5, 6, 6]
            .iter()
            .enumerate()
            .map(|(day, &rating)| entry(day as i64, rating, ""))
            .collect();
        assert_eq!(progress(&rising).trend, Trend::Up);
        let falling: Vec<_> = [7, 7, 6, 4, 4, 3]
            .iter()
            .enumerate()
            .map(|(day, &rating)| entry(day as i64, rating, ""))
            .collect();
        assert_eq!(progress(&falling).trend, Trend::Down);
        let steady: Vec<_> = [5, 5, 6, 5, 6, 5]
            .iter()
            .enumerate()
            .map(|(day, &rating)| entry(day as i64, rating, ""))
            .collect();
        assert_eq!(progress(&steady).trend, Trend::Steady);
    }

    #[test]
    fn two_check_ins_the_same_day_are_one_day_in_a_row() {
        let mut evening = entry(1, 5, "");
        evening.at += 10 * 60 * 60;
        let history = [entry(0, 4, ""), entry(1, 5, ""), evening];
        assert_eq!(progress(&history).run, 2);
    }

    #[test]
    fn a_gap_of_more_than_a_week_ends_the_run_and_the_last_note_is_found() {
        let history = [
            entry(0, 4, "first"),
            entry(20, 5, "after a break"),
            entry(25, 6, ""),
            entry(31, 6, ""),
        ];
        let figures = progress(&history);
        assert_eq!(figures.run, 3);
        assert_eq!(figures.latest, Some(6));
        assert_eq!(figures.last_note, Some(1_800_000_000 + 20 * DAY));
    }
}
