//! The chart's axes and line: the rating lines and labels, the date labels (the finest step
//! whose labels do not collide), and the points joined in gold.

use ab_glyph::FontRef;
use chrono::{Datelike, Days, NaiveDate};
use chrono_tz::Tz;
use plotters::element::{Circle, PathElement, Polygon};
use plotters::style::{Color, ShapeStyle};

use super::text::{Words, text_width};
use super::{
    AXIS, Align, Area, BACKGROUND, ChartError, ChartPoint, Frame, GOLD, GOLD_DARK, GOLD_LIGHT,
    GRID, LABEL_GAP, LABEL_SIZE, MAX_LABELS, MUTED, PLOT_BOTTOM, PLOT_LEFT, PLOT_RIGHT, SLATE,
    WIDTH, X_PAD, draw_error, local, local_instant, y,
};

/// The ratings that get a label.
pub(super) const LABELLED: [u8; 4] = [1, 4, 7, 10];

pub(super) fn rating_labels() -> impl Iterator<Item = Words> {
    LABELLED.into_iter().map(|rating| Words {
        text: rating.to_string(),
        size: LABEL_SIZE,
        colour: MUTED,
        align: Align::Right,
        x: PLOT_LEFT - 10,
        // Digits stand about 0.73 of the size tall: this centres them on the line.
        baseline: y(rating) + (LABEL_SIZE * 0.36).round() as i32,
    })
}

/// A faint line for each rating from 1 to 10.
pub(super) fn draw_rating_lines(area: &Area) -> Result<(), ChartError> {
    for rating in 1..=10u8 {
        let line_y = y(rating);
        area.draw(&PathElement::new(
            vec![(PLOT_LEFT, line_y), (PLOT_RIGHT, line_y)],
            GRID.stroke_width(1),
        ))
        .map_err(draw_error)?;
    }
    Ok(())
}

/// How far apart the dates on the x axis are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    Days(u64),
    Months(i32),
    Years(i32),
}

/// Finest first; the first whose labels do not collide is used.
pub(super) const STEPS: [Step; 22] = [
    Step::Days(1),
    Step::Days(2),
    Step::Days(3),
    Step::Days(7),
    Step::Days(14),
    Step::Months(1),
    Step::Months(2),
    Step::Months(3),
    Step::Months(6),
    Step::Years(1),
    Step::Years(2),
    Step::Years(5),
    Step::Years(10),
    Step::Years(20),
    Step::Years(50),
    Step::Years(100),
    Step::Years(200),
    Step::Years(500),
    Step::Years(1000),
    Step::Years(2000),
    Step::Years(5000),
    Step::Years(10000),
];

impl Step {
    /// The labelled days from `first` to `last`, or `None` if more than `limit`.
    /// Day steps count back from `last`, so the latest day is always labelled.
    fn days(self, first: NaiveDate, last: NaiveDate, limit: usize) -> Option<Vec<NaiveDate>> {
        let mut days = Vec::new();
        match self {
            Step::Days(step) => {
                let mut day = last;
                while day >= first {
                    days.push(day);
                    if days.len() > limit {
                        return None;
                    }
                    match day.checked_sub_days(Days::new(step)) {
                        Some(earlier) => day = earlier,
                        None => break,
                    }
                }
                days.reverse();
            }
            Step::Months(step) => {
                let mut month = first.year() * 12 + first.month0() as i32;
                if first.day() != 1 {
                    month += 1;
                }
                month += (step - month.rem_euclid(step)) % step;
                while let Some(day) = NaiveDate::from_ymd_opt(
                    month.div_euclid(12),
                    month.rem_euclid(12) as u32 + 1,
                    1,
                ) {
                    if day > last {
                        break;
                    }
                    days.push(day);
                    if days.len() > limit {
                        return None;
                    }
                    month += step;
                }
            }
            Step::Years(step) => {
                let mut year = first.year();
                if first.ordinal() != 1 {
                    year += 1;
                }
                year += (step - year.rem_euclid(step)) % step;
                while let Some(day) = NaiveDate::from_ymd_opt(year, 1, 1) {
                    if day > last {
                        break;
                    }
                    days.push(day);
                    if days.len() > limit {
                        return None;
                    }
                    year += step;
                }
            }
        }
        Some(days)
    }

    fn label(self, day: NaiveDate) -> String {
        let format = match self {
            Step::Days(_) => "%-d %b",
            Step::Months(_) => "%b %Y",
            Step::Years(_) => "%Y",
        };
        day.format(format).to_string()
    }
}

/// A date label and where its tick goes.
pub(super) struct Tick {
    pub(super) words: Words,
    pub(super) width: i32,
}

/// The date labels: the finest step whose labels fit side by side, each at noon of its day.
pub(super) fn date_labels(font: &FontRef<'static>, frame: &Frame, zone: Tz) -> Vec<Tick> {
    for step in STEPS {
        let Some(days) = step.days(frame.first_day, frame.last_day, MAX_LABELS) else {
            continue;
        };
        let mut ticks: Vec<Tick> = Vec::with_capacity(days.len());
        for day in days {
            let Some(noon) = local_instant(zone, day, 12) else {
                continue;
            };
            let x = frame.x(noon);
            let text = step.label(day);
            let width = text_width(font, &text, LABEL_SIZE);
            // Labels that would run off the picture are left out.
            if x - width / 2 < 4 || x + width - width / 2 > WIDTH as i32 - 4 {
                continue;
            }
            let words = Words {
                text,
                size: LABEL_SIZE,
                colour: MUTED,
                align: Align::Centre,
                x,
                baseline: PLOT_BOTTOM + 24,
            };
            ticks.push(Tick { words, width });
        }
        let apart = ticks.windows(2).all(|pair| {
            let (left, right) = (&pair[0], &pair[1]);
            let left_end = left.words.x + left.width - left.width / 2;
            let right_start = right.words.x - right.width / 2;
            right_start - left_end >= LABEL_GAP
        });
        if apart && !ticks.is_empty() {
            return ticks;
        }
    }
    Vec::new()
}

/// The time axis with a tick over each date label.
pub(super) fn draw_date_axis(area: &Area, ticks: &[Tick]) -> Result<(), ChartError> {
    area.draw(&PathElement::new(
        vec![(PLOT_LEFT, PLOT_BOTTOM), (PLOT_RIGHT, PLOT_BOTTOM)],
        AXIS.stroke_width(1),
    ))
    .map_err(draw_error)?;
    for tick in ticks {
        let x = tick.words.x;
        area.draw(&PathElement::new(
            vec![(x, PLOT_BOTTOM), (x, PLOT_BOTTOM + 5)],
            AXIS.stroke_width(1),
        ))
        .map_err(draw_error)?;
    }
    Ok(())
}

/// The gold line, a soft wash under it, and a dot for each check-in.
pub(super) fn draw_points(
    area: &Area,
    frame: &Frame,
    points: &[ChartPoint],
) -> Result<(), ChartError> {
    let path = path_of(frame, points);
    if let (Some(&(first_x, _)), Some(&(last_x, _))) = (path.first(), path.last())
        && path.len() > 1
    {
        let mut wash = path.clone();
        wash.push((last_x, PLOT_BOTTOM - 1));
        wash.push((first_x, PLOT_BOTTOM - 1));
        area.draw(&Polygon::new(wash, GOLD.mix(0.12).filled()))
            .map_err(draw_error)?;
        area.draw(&PathElement::new(path.clone(), GOLD.stroke_width(3)))
            .map_err(draw_error)?;
    }
    let radius = match path.len() {
        0..=60 => 5,
        61..=200 => 4,
        _ => 3,
    };
    for &spot in &path {
        area.draw(&Circle::new(spot, radius, GOLD_LIGHT.filled()))
            .map_err(draw_error)?;
        area.draw(&Circle::new(
            spot,
            radius,
            ShapeStyle::from(&GOLD_DARK).stroke_width(1),
        ))
        .map_err(draw_error)?;
    }
    Ok(())
}

/// A linked partner's shared ratings: a thinner slate line with hollow dots, under the gold.
pub(super) fn draw_partner_points(
    area: &Area,
    frame: &Frame,
    points: &[ChartPoint],
) -> Result<(), ChartError> {
    let path = path_of(frame, points);
    if path.len() > 1 {
        area.draw(&PathElement::new(path.clone(), SLATE.stroke_width(2)))
            .map_err(draw_error)?;
    }
    for &spot in &path {
        area.draw(&Circle::new(spot, 4, BACKGROUND.filled()))
            .map_err(draw_error)?;
        area.draw(&Circle::new(
            spot,
            4,
            ShapeStyle::from(&SLATE).stroke_width(2),
        ))
        .map_err(draw_error)?;
    }
    Ok(())
}

/// The most pixels between two check-ins of one day.
const SAME_DAY_STEP: f64 = 18.0;

/// Where `points` (oldest first) fall on the chart, in order, a spot drawn once however many
/// land on it. Each check-in sits over its day's date label (noon in the person's zone), not
/// at its hour, so a dot is read against the date under it; several on one day stand side by
/// side around that spot, in the order they were made, within the day's own width.
pub(super) fn path_of(frame: &Frame, points: &[ChartPoint]) -> Vec<(i32, i32)> {
    let day_of = |point: &ChartPoint| local(point.at, frame.zone).ok().map(|at| at.date_naive());
    let mut path: Vec<(i32, i32)> = Vec::with_capacity(points.len());
    for same_day in points.chunk_by(|a, b| day_of(a) == day_of(b)) {
        let Some(first) = same_day.first() else {
            continue;
        };
        let centre = day_of(first)
            .and_then(|day| local_instant(frame.zone, day, 12))
            .map_or_else(|| frame.x(first.at), |noon| frame.x(noon));
        let count = same_day.len();
        let step = if count > 1 {
            (frame.day_width() * 0.6 / (count - 1) as f64).min(SAME_DAY_STEP)
        } else {
            0.0
        };
        for (index, point) in same_day.iter().enumerate() {
            let offset = (index as f64 - (count - 1) as f64 / 2.0) * step;
            let x = (f64::from(centre) + offset).round() as i32;
            let spot = (
                x.clamp(PLOT_LEFT + X_PAD, PLOT_RIGHT - X_PAD),
                y(point.rating),
            );
            if path.last() != Some(&spot) {
                path.push(spot);
            }
        }
    }
    path
}
