//! Check-in schedules and when a reminder is next due: pure arithmetic on a person's local wall
//! time and IANA time zone (never a fixed UTC offset), so 09:00 stays 09:00 across daylight
//! saving. `zones` finds a zone from what a person types.
//! A local time that does not exist that day (a spring-forward gap) fires at the first valid
//! instant after it; one that happens twice (an autumn fold) fires once, at the earlier.
//! The clock is always passed in.

pub(crate) mod zones;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How often a person wants to check in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "every", rename_all = "snake_case")]
pub enum Frequency {
    Daily,
    /// Every `days` days (2 to 6), counted from the day the schedule starts.
    Days {
        days: u8,
    },
    /// Once a week, on this day.
    Weekly {
        day: Weekday,
    },
}

/// A person's check-in schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub frequency: Frequency,
    /// The local wall time of day.
    pub time: NaiveTime,
    /// The IANA zone, such as `Europe/Berlin`.
    pub zone: Tz,
    /// The local date the schedule counts from (for "every few days").
    pub start: NaiveDate,
}

/// The most days ahead an occurrence can be: a week, plus slack for a zone's odd days.
const SEARCH_DAYS: u32 = 14;

impl Schedule {
    /// The first occurrence strictly after `after`, never on a local date on or before
    /// `skip_through` (the day a reminder was last sent, so a change of zone or time does not
    /// bring a second one that day).
    pub(crate) fn next_due(
        &self,
        after: DateTime<Utc>,
        skip_through: Option<NaiveDate>,
    ) -> DateTime<Utc> {
        let mut date = after.with_timezone(&self.zone).date_naive();
        for _ in 0..SEARCH_DAYS {
            if self.falls_on(date) && skip_through.is_none_or(|skip| date > skip) {
                let due = self.instant_on(date);
                if due > after {
                    return due;
                }
            }
            date = date.succ_opt().unwrap_or(date);
        }
        // Unreachable for real zones: every schedule falls within a week. A day later is a
        // safe answer if it ever is reached.
        after + Duration::days(1)
    }

    /// The local date an instant falls on in this schedule's zone.
    pub(crate) fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.zone).date_naive()
    }

    fn falls_on(&self, date: NaiveDate) -> bool {
        match self.frequency {
            Frequency::Daily => true,
            Frequency::Weekly { day } => date.weekday() == day,
            Frequency::Days { days } => {
                let since = (date - self.start).num_days();
                since >= 0 && since % i64::from(days.max(1)) == 0
            }
        }
    }

    /// The instant of this schedule's wall time on `date`, resolving gaps and folds.
    fn instant_on(&self, date: NaiveDate) -> DateTime<Utc> {
        let wall = date.and_time(self.time);
        // A gap is at most a few hours; walk forward a minute at a time to its end.
        for minutes in 0..=(24 * 60) {
            match self
                .zone
                .from_local_datetime(&(wall + Duration::minutes(minutes)))
            {
                LocalResult::Single(instant) => return instant.with_timezone(&Utc),
                LocalResult::Ambiguous(earlier, _) => return earlier.with_timezone(&Utc),
                LocalResult::None => {}
            }
        }
        // No zone skips a whole day; UTC is a safe reading if one ever did.
        Utc.from_utc_datetime(&wall)
    }
}

/// Reads how often, as a flow saves it: `daily`, `every 2 days` to `every 6 days`, or
/// `weekly` (on `weekday`, Monday when none was given).
pub(crate) fn parse_frequency(word: &str, weekday: Option<Weekday>) -> Option<Frequency> {
    match word.trim() {
        "daily" => Some(Frequency::Daily),
        "weekly" => Some(Frequency::Weekly {
            day: weekday.unwrap_or(Weekday::Mon),
        }),
        other => {
            let days: u8 = other
                .strip_prefix("every ")?
                .strip_suffix(" days")?
                .parse()
                .ok()?;
            (2..=6).contains(&days).then_some(Frequency::Days { days })
        }
    }
}

/// Reads a time of day as people type it: `9`, `09:30`, `9.30`, `21h`, `9am`, `8:15 pm`.
pub(crate) fn parse_wall_time(text: &str) -> Option<NaiveTime> {
    let compact: String = text
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (clock, meridiem) = if let Some(rest) = compact.strip_suffix("am") {
        (rest, Some(false))
    } else if let Some(rest) = compact.strip_suffix("pm") {
        (rest, Some(true))
    } else {
        (compact.as_str(), None)
    };
    let clock = clock.strip_suffix('h').unwrap_or(clock);
    let (hour, minute) = match clock.split_once([':', '.', 'h']) {
        Some((hour, minute)) => (hour.parse::<u32>().ok()?, minute.parse::<u32>().ok()?),
        None => (clock.parse::<u32>().ok()?, 0),
    };
    let hour = match meridiem {
        None => hour,
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(false) => hour % 12,
        Some(true) => hour % 12 + 12,
    };
    NaiveTime::from_hms_opt(hour, minute, 0)
}

/// A time of day found in what a person typed, or why none was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypedTime {
    At(NaiveTime),
    /// A bare hour from 1 to 12 ("3"): morning or evening is the person's to say.
    WhichHalf(u32),
    Nothing,
}

/// Finds a time of day in what a person typed: the whole text as [`parse_wall_time`] reads
/// it, or else a time written unmistakably inside a sentence ("9pm after the kids are down",
/// "around 21:30 i guess"). A bare hour from 1 to 12 alone asks which half of the day; a bare
/// number inside a sentence is not taken for a time.
pub(crate) fn find_wall_time(text: &str) -> TypedTime {
    match (find_wall_time_as_typed(text), half_of_day(text)) {
        // "10ish at night", "like 7 in the morning": the half of the day was said in words.
        (TypedTime::WhichHalf(hour), Some(evening)) => on_the_half(hour, evening),
        (TypedTime::Nothing, Some(evening)) => {
            // A bare hour inside a sentence that says which half ("10 at night after she's
            // asleep"), when it is the sentence's only number.
            let mut hours = text
                .split(|c: char| !c.is_ascii_digit())
                .filter(|digits| !digits.is_empty());
            match (hours.next().map(str::parse::<u32>), hours.next()) {
                (Some(Ok(hour)), None) if (1..=12).contains(&hour) => on_the_half(hour, evening),
                _ => TypedTime::Nothing,
            }
        }
        (found, _) => found,
    }
}

/// The hour from 1 to 12 in the evening or the morning ("12 at night" is midnight).
fn on_the_half(hour: u32, evening: bool) -> TypedTime {
    let hour = match (hour, evening) {
        (12, true) => 0,
        (hour, true) => hour + 12,
        (hour, false) => hour % 12,
    };
    NaiveTime::from_hms_opt(hour, 0, 0).map_or(TypedTime::Nothing, TypedTime::At)
}

/// Whether `text` says the evening (`Some(true)`) or the morning (`Some(false)`) in words:
/// "at night", "in the evening", "after work", "in the morning".
fn half_of_day(text: &str) -> Option<bool> {
    const EVENING: &[&str] = &[
        "at night",
        "tonight",
        "evening",
        "pm",
        "after dinner",
        "after work",
        "before bed",
        "bedtime",
        "afternoon",
    ];
    const MORNING: &[&str] = &["morning", "before work", "breakfast"];
    let folded: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let folded = format!(
        " {} ",
        folded.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let says = |phrases: &[&str]| {
        phrases.iter().any(|phrase| {
            folded.contains(&format!(" {phrase} ")) || folded.contains(&format!(" {phrase}s "))
        })
    };
    match (says(EVENING), says(MORNING)) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// [`find_wall_time`] without reading the half of the day from words.
fn find_wall_time_as_typed(text: &str) -> TypedTime {
    let trimmed = text.trim();
    if let Ok(hour) = trimmed.parse::<u32>()
        && (1..=12).contains(&hour)
    {
        return TypedTime::WhichHalf(hour);
    }
    if let Some(time) = parse_wall_time(trimmed) {
        return TypedTime::At(time);
    }
    // "9ish", alone or in a sentence ("like 9ish"): an hour, its half of the day to ask.
    let approximate = trimmed
        .split_whitespace()
        .filter_map(|word| {
            word.trim_end_matches(['.', ',', '!', '?'])
                .strip_suffix("ish")
        })
        .find_map(|hour| hour.parse::<u32>().ok());
    match approximate {
        Some(hour) if (1..=12).contains(&hour) => return TypedTime::WhichHalf(hour),
        Some(hour) if hour < 24 => {
            return NaiveTime::from_hms_opt(hour, 0, 0).map_or(TypedTime::Nothing, TypedTime::At);
        }
        _ => {}
    }
    let words: Vec<&str> = trimmed
        .split_whitespace()
        .map(|word| word.trim_matches(|c: char| matches!(c, ',' | ';' | '!' | '?' | '(' | ')')))
        .map(|word| word.trim_end_matches('.'))
        .collect();
    let unmistakable = |word: &str| {
        let word = word.to_lowercase();
        word.ends_with("am") || word.ends_with("pm") || word.contains(':') || word.ends_with('h')
    };
    for (index, word) in words.iter().enumerate() {
        if !word.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        // "8 pm": the number and the half of the day as two words.
        if let Some(next) = words.get(index + 1)
            && matches!(next.to_lowercase().as_str(), "am" | "pm" | "a.m" | "p.m")
            && let Some(time) = parse_wall_time(&format!("{word}{}", next.replace('.', "")))
        {
            return TypedTime::At(time);
        }
        if unmistakable(word)
            && let Some(time) = parse_wall_time(word)
        {
            return TypedTime::At(time);
        }
    }
    TypedTime::Nothing
}

/// What to do with a reminder found due at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Catchup {
    /// Send it: it is due and still recent.
    Send,
    /// Too old to be worth sending after downtime: skip to the next occurrence.
    Skip,
}

/// A reminder that came due at `due` is sent at `now` only within `grace`; an older one is
/// skipped, so downtime never ends in a burst of old reminders.
pub(crate) fn catch_up(due: DateTime<Utc>, now: DateTime<Utc>, grace: Duration) -> Catchup {
    if now - due <= grace {
        Catchup::Send
    } else {
        Catchup::Skip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_found_in_a_sentence_and_a_bare_hour_asks_which_half() {
        let at = |text: &str| match find_wall_time(text) {
            TypedTime::At(time) => Some(time.format("%H:%M").to_string()),
            _ => None,
        };
        assert_eq!(at("9pm after the kids are down").as_deref(), Some("21:00"));
        assert_eq!(at("21ish").as_deref(), Some("21:00"));
        assert_eq!(
            find_wall_time("after the kids are in bed, like 9ish"),
            TypedTime::WhichHalf(9)
        );
        assert_eq!(at("around 21:30, i guess").as_deref(), Some("21:30"));
        assert_eq!(at("8 pm please").as_deref(), Some("20:00"));
        assert_eq!(at("18:30").as_deref(), Some("18:30"));
        assert_eq!(at("15").as_deref(), Some("15:00"));
        assert_eq!(find_wall_time("3"), TypedTime::WhichHalf(3));
        let at = |hour, minute| TypedTime::At(NaiveTime::from_hms_opt(hour, minute, 0).unwrap());
        assert_eq!(
            find_wall_time("like 10ish at night after she goes to bed"),
            at(22, 0)
        );
        assert_eq!(find_wall_time("7 in the morning"), at(7, 0));
        assert_eq!(
            find_wall_time("9 in the evening, or 10"),
            TypedTime::Nothing
        );
        assert_eq!(find_wall_time("12 at night"), at(0, 0));
        assert_eq!(find_wall_time("10pm at night"), at(22, 0));
        assert_eq!(find_wall_time(" 12 "), TypedTime::WhichHalf(12));
        assert_eq!(
            find_wall_time("after the 2 kids are asleep"),
            TypedTime::Nothing
        );
        assert_eq!(find_wall_time("whenever"), TypedTime::Nothing);
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("an RFC 3339 instant")
            .with_timezone(&Utc)
    }

    fn schedule(zone: Tz, time: &str, frequency: Frequency) -> Schedule {
        Schedule {
            frequency,
            time: NaiveTime::parse_from_str(time, "%H:%M").expect("a time"),
            zone,
            start: NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date"),
        }
    }

    /// The local wall times of the next `count` occurrences after `from`.
    fn walk(schedule: &Schedule, from: &str, count: usize) -> Vec<String> {
        let mut at = utc(from);
        (0..count)
            .map(|_| {
                at = schedule.next_due(at, None);
                at.with_timezone(&schedule.zone)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn nine_oclock_in_berlin_stays_nine_across_both_transitions() {
        let nine = schedule(chrono_tz::Europe::Berlin, "09:00", Frequency::Daily);
        // Spring forward: 29 March 2026.
        assert_eq!(
            walk(&nine, "2026-03-28T00:00:00Z", 2),
            ["2026-03-28 09:00 CET", "2026-03-29 09:00 CEST"]
        );
        assert_eq!(
            nine.next_due(utc("2026-03-28T10:00:00Z"), None),
            utc("2026-03-29T07:00:00Z")
        );
        // Fall back: 25 October 2026.
        assert_eq!(
            walk(&nine, "2026-10-24T00:00:00Z", 2),
            ["2026-10-24 09:00 CEST", "2026-10-25 09:00 CET"]
        );
        assert_eq!(
            nine.next_due(utc("2026-10-24T10:00:00Z"), None),
            utc("2026-10-25T08:00:00Z")
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_fires_when_the_gap_ends() {
        // Berlin skips 02:00 to 03:00 on 29 March 2026.
        let half_two = schedule(chrono_tz::Europe::Berlin, "02:30", Frequency::Daily);
        let due = half_two.next_due(utc("2026-03-28T12:00:00Z"), None);
        assert_eq!(
            due,
            utc("2026-03-29T01:00:00Z"),
            "03:00 CEST, the first valid instant"
        );
        // New York skips 02:00 to 03:00 on 8 March 2026.
        let new_york = schedule(chrono_tz::America::New_York, "02:15", Frequency::Daily);
        let due = new_york.next_due(utc("2026-03-07T12:00:00Z"), None);
        assert_eq!(due, utc("2026-03-08T07:00:00Z"), "03:00 EDT");
    }

    #[test]
    fn a_time_in_the_autumn_fold_fires_once_at_the_earlier() {
        // New York repeats 01:00 to 02:00 on 1 November 2026.
        let half_one = schedule(chrono_tz::America::New_York, "01:30", Frequency::Daily);
        let first = half_one.next_due(utc("2026-10-31T12:00:00Z"), None);
        assert_eq!(first, utc("2026-11-01T05:30:00Z"), "01:30 EDT, the earlier");
        let second = half_one.next_due(first, None);
        assert_eq!(
            second,
            utc("2026-11-02T06:30:00Z"),
            "the next day, not 01:30 EST"
        );
        // Berlin repeats 02:00 to 03:00 on 25 October 2026.
        let berlin = schedule(chrono_tz::Europe::Berlin, "02:30", Frequency::Daily);
        let first = berlin.next_due(utc("2026-10-24T12:00:00Z"), None);
        assert_eq!(first, utc("2026-10-25T00:30:00Z"), "02:30 CEST");
        assert_eq!(berlin.next_due(first, None), utc("2026-10-26T01:30:00Z"));
    }

    #[test]
    fn sydney_keeps_its_wall_time_through_its_own_southern_transitions() {
        let eight = schedule(chrono_tz::Australia::Sydney, "20:00", Frequency::Daily);
        // Daylight saving ends on 5 April 2026 (AEDT to AEST).
        assert_eq!(
            walk(&eight, "2026-04-04T00:00:00Z", 2),
            ["2026-04-04 20:00 AEDT", "2026-04-05 20:00 AEST"]
        );
        // It starts on 4 October 2026 (AEST to AEDT).
        assert_eq!(
            walk(&eight, "2026-10-03T00:00:00Z", 2),
            ["2026-10-03 20:00 AEST", "2026-10-04 20:00 AEDT"]
        );
        // Its gap: 02:00 to 03:00 on 4 October; its fold: 02:00 to 03:00 on 5 April.
        let half_two = schedule(chrono_tz::Australia::Sydney, "02:30", Frequency::Daily);
        assert_eq!(
            half_two.next_due(utc("2026-10-03T00:00:00Z"), None),
            utc("2026-10-03T16:00:00Z"),
            "03:00 AEDT on 4 October"
        );
        let fold = half_two.next_due(utc("2026-04-04T00:00:00Z"), None);
        assert_eq!(fold, utc("2026-04-04T15:30:00Z"), "02:30 AEDT, the earlier");
        assert_eq!(half_two.next_due(fold, None), utc("2026-04-05T16:30:00Z"));
    }

    #[test]
    fn weekly_falls_on_its_weekday_and_every_few_days_counts_from_the_start() {
        let weekly = schedule(
            chrono_tz::Europe::Berlin,
            "18:00",
            Frequency::Weekly { day: Weekday::Sun },
        );
        // 26 November 2026 is a Thursday.
        assert_eq!(
            walk(&weekly, "2026-11-26T12:00:00Z", 2),
            ["2026-11-29 18:00 CET", "2026-12-06 18:00 CET"]
        );
        let mut every_three = schedule(
            chrono_tz::Europe::Berlin,
            "08:00",
            Frequency::Days { days: 3 },
        );
        every_three.start = NaiveDate::from_ymd_opt(2026, 11, 26).expect("a date");
        assert_eq!(
            walk(&every_three, "2026-11-26T00:00:00Z", 3),
            [
                "2026-11-26 08:00 CET",
                "2026-11-29 08:00 CET",
                "2026-12-02 08:00 CET"
            ]
        );
    }

    #[test]
    fn a_new_zone_brings_no_second_reminder_the_same_day() {
        // Sent at 09:00 in London; the person then moves their zone to New York, where it is
        // still only 04:00 that same day.
        let london = schedule(chrono_tz::Europe::London, "09:00", Frequency::Daily);
        let sent = london.next_due(utc("2026-11-26T00:00:00Z"), None);
        assert_eq!(sent, utc("2026-11-26T09:00:00Z"));
        let new_york = Schedule {
            zone: chrono_tz::America::New_York,
            ..london.clone()
        };
        let sent_on = new_york.local_date(sent);
        let next = new_york.next_due(sent, Some(sent_on));
        assert_eq!(
            next,
            utc("2026-11-27T14:00:00Z"),
            "09:00 in New York, the next day"
        );
        // Without the guard it would have come again at 09:00 New York time that day.
        assert_eq!(new_york.next_due(sent, None), utc("2026-11-26T14:00:00Z"));
    }

    #[test]
    fn times_of_day_are_read_as_people_type_them() {
        let read = |text| parse_wall_time(text).map(|time| time.format("%H:%M").to_string());
        assert_eq!(read("9").as_deref(), Some("09:00"));
        assert_eq!(read(" 09:30 ").as_deref(), Some("09:30"));
        assert_eq!(read("9.30").as_deref(), Some("09:30"));
        assert_eq!(read("21h").as_deref(), Some("21:00"));
        assert_eq!(read("9am").as_deref(), Some("09:00"));
        assert_eq!(read("8:15 PM").as_deref(), Some("20:15"));
        assert_eq!(read("12am").as_deref(), Some("00:00"));
        assert_eq!(read("12pm").as_deref(), Some("12:00"));
        for nonsense in ["", "25:00", "13pm", "9:75", "soon", "-1"] {
            assert_eq!(read(nonsense), None, "{nonsense:?}");
        }
    }

    #[test]
    fn after_downtime_only_a_recent_reminder_is_sent() {
        let grace = Duration::hours(2);
        let due = utc("2026-11-26T09:00:00Z");
        assert_eq!(
            catch_up(due, utc("2026-11-26T10:30:00Z"), grace),
            Catchup::Send
        );
        assert_eq!(
            catch_up(due, utc("2026-11-26T11:30:00Z"), grace),
            Catchup::Skip
        );
    }
}
