//! The `/progress` chart: a person's check-in trust ratings (1 to 10) over time, drawn as a PNG.
//! Pure: no I/O and no clock; dates are shown in the person's zone. Shapes are drawn with
//! plotters, words with ab_glyph from the embedded DejaVu Sans (licence in `FONT-LICENSE.txt`
//! beside this file), so no system font is ever looked up.

use std::sync::OnceLock;

use ab_glyph::FontRef;
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use plotters::backend::BitMapBackend;
use plotters::coord::Shift;
use plotters::drawing::{DrawingArea, IntoDrawingArea};
use plotters::style::RGBColor;

/// The chart's size in pixels.
pub(crate) const WIDTH: u32 = 800;
pub(crate) const HEIGHT: u32 = 450;

/// One check-in on the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChartPoint {
    /// When, in seconds since the Unix epoch.
    pub at: i64,
    /// The trust rating, 1 to 10; anything outside is drawn at the nearer end.
    pub rating: u8,
}

/// The words on the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChartText {
    /// Above the chart (cut short with "…" if too long for one line).
    pub title: String,
    /// In place of the line when there are no check-ins (wrapped over a few lines).
    pub empty: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ChartError {
    #[error("the chart's embedded font (DejaVu Sans) could not be read")]
    Font,
    #[error(
        "check-in time {at} (seconds since the Unix epoch) is outside the years 1 to 9999 the chart can show"
    )]
    TimeOutOfRange { at: i64 },
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    #[error("encoding the chart as PNG failed: {0}")]
    Encode(#[from] png::EncodingError),
}

pub(crate) static FONT: &[u8] = include_bytes!("DejaVuSans.ttf");

pub(super) const BACKGROUND: RGBColor = RGBColor(251, 248, 241);
pub(super) const INK: RGBColor = RGBColor(62, 53, 48);
pub(super) const MUTED: RGBColor = RGBColor(110, 98, 88);
pub(super) const GRID: RGBColor = RGBColor(236, 229, 216);
pub(super) const AXIS: RGBColor = RGBColor(203, 191, 174);
pub(super) const GOLD: RGBColor = RGBColor(197, 152, 40);
pub(super) const GOLD_LIGHT: RGBColor = RGBColor(232, 195, 92);
pub(super) const GOLD_DARK: RGBColor = RGBColor(140, 104, 22);
/// A linked partner's line: a quiet slate beside the gold.
pub(super) const SLATE: RGBColor = RGBColor(92, 116, 140);

/// The plotting area: the line and dots stay inside it, labels go around it.
pub(super) const PLOT_LEFT: i32 = 58;
pub(super) const PLOT_RIGHT: i32 = WIDTH as i32 - 34;
pub(super) const PLOT_TOP: i32 = 70;
pub(super) const PLOT_BOTTOM: i32 = HEIGHT as i32 - 56;
/// Room kept inside the plotting area so dots at its edges are drawn whole.
pub(super) const X_PAD: i32 = 14;
pub(super) const Y_PAD: i32 = 12;

/// Font sizes in pixels (ab_glyph's scale: ascent to descent).
pub(super) const TITLE_SIZE: f32 = 24.0;
pub(super) const LABEL_SIZE: f32 = 16.0;
pub(super) const EMPTY_SIZE: f32 = 19.0;
/// The least space between two date labels.
pub(super) const LABEL_GAP: i32 = 16;
/// More date labels than this are never tried.
pub(super) const MAX_LABELS: usize = 40;

pub(super) const DAY: i64 = 24 * 60 * 60;

mod axes;
#[cfg(test)]
mod tests;
mod text;

use self::axes::{
    date_labels, draw_date_axis, draw_partner_points, draw_points, draw_rating_lines, rating_labels,
};
use self::text::{clear_behind, empty_words, paint, title};

pub(super) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// The `/progress` chart of `points` (oldest first; several a day and repeated times are fine)
/// as a PNG of [`WIDTH`] x [`HEIGHT`], dates in `zone`. No points: the chart shows `text.empty`.
#[cfg(test)]
pub(crate) fn progress_chart(
    points: &[ChartPoint],
    zone: Tz,
    text: &ChartText,
) -> Result<Vec<u8>, ChartError> {
    encode(&progress_chart_pixels(points, &[], zone, text)?)
}

/// The chart with a linked partner's shared ratings (`partner`) as a second, slate line.
pub(crate) fn progress_chart_beside(
    points: &[ChartPoint],
    partner: &[ChartPoint],
    zone: Tz,
    text: &ChartText,
) -> Result<Vec<u8>, ChartError> {
    encode(&progress_chart_pixels(points, partner, zone, text)?)
}

/// The chart as `progress_chart_beside` draws it, as [`WIDTH`] x [`HEIGHT`] RGB pixels, row
/// by row.
pub(crate) fn progress_chart_pixels(
    points: &[ChartPoint],
    partner: &[ChartPoint],
    zone: Tz,
    text: &ChartText,
) -> Result<Vec<u8>, ChartError> {
    let font = font()?;
    let mut points = points.to_vec();
    // Oldest first is promised, but a line drawn out of order would zigzag: sort to be sure.
    points.sort_by_key(|point| point.at);
    let mut partner = partner.to_vec();
    partner.sort_by_key(|point| point.at);
    let times = || points.iter().chain(&partner).map(|point| point.at);
    let frame = match (times().min(), times().max()) {
        (Some(first), Some(last)) => Some(Frame::new(first, last, zone)?),
        _ => None,
    };

    let ticks = frame.map_or_else(Vec::new, |frame| date_labels(font, &frame, zone));
    let empty = match frame {
        Some(_) => Vec::new(),
        None => empty_words(font, &text.empty),
    };

    let mut pixels = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        area.fill(&BACKGROUND).map_err(draw_error)?;
        draw_rating_lines(&area)?;
        match frame {
            Some(frame) => {
                draw_date_axis(&area, &ticks)?;
                draw_partner_points(&area, &frame, &partner)?;
                draw_points(&area, &frame, &points)?;
            }
            None => clear_behind(&area, &empty)?,
        }
        area.present().map_err(draw_error)?;
    }
    let words = std::iter::once(title(font, &text.title))
        .chain(rating_labels())
        .chain(ticks.into_iter().map(|tick| tick.words))
        .chain(empty.into_iter().map(|line| line.words));
    for words in words {
        paint(&mut pixels, font, &words);
    }
    Ok(pixels)
}

pub(super) fn font() -> Result<&'static FontRef<'static>, ChartError> {
    static PARSED: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    PARSED
        .get_or_init(|| FontRef::try_from_slice(FONT).ok())
        .as_ref()
        .ok_or(ChartError::Font)
}

pub(super) fn draw_error(error: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(error.to_string())
}

pub(super) fn encode(pixels: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(out)
}

/// The time span on the x axis: whole days in the person's zone, from the first check-in's day
/// to the last one's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    pub(super) zone: Tz,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) first_day: NaiveDate,
    pub(super) last_day: NaiveDate,
}

impl Frame {
    fn new(first: i64, last: i64, zone: Tz) -> Result<Self, ChartError> {
        let first_day = local(first, zone)?.date_naive();
        let last_day = local(last, zone)?.date_naive();
        let start = local_instant(zone, first_day, 0).map_or(first - DAY / 2, |t| t.min(first));
        let end = last_day
            .checked_add_days(Days::new(1))
            .and_then(|day| local_instant(zone, day, 0))
            .map_or(last + DAY / 2, |t| t.max(last));
        let end = if end > start { end } else { start + DAY };
        Ok(Self {
            zone,
            start,
            end,
            first_day,
            last_day,
        })
    }

    /// Pixels a day takes on the x axis.
    pub(super) fn day_width(&self) -> f64 {
        let width = f64::from(PLOT_RIGHT - PLOT_LEFT - 2 * X_PAD);
        width * DAY as f64 / (self.end - self.start) as f64
    }

    pub(super) fn x(&self, at: i64) -> i32 {
        let share = (at - self.start) as f64 / (self.end - self.start) as f64;
        let share = share.clamp(0.0, 1.0);
        let left = f64::from(PLOT_LEFT + X_PAD);
        let width = f64::from(PLOT_RIGHT - PLOT_LEFT - 2 * X_PAD);
        (left + share * width).round() as i32
    }
}

pub(super) fn y(rating: u8) -> i32 {
    let rating = rating.clamp(1, 10);
    let share = f64::from(10 - rating) / 9.0;
    let top = f64::from(PLOT_TOP + Y_PAD);
    let height = f64::from(PLOT_BOTTOM - PLOT_TOP - 2 * Y_PAD);
    (top + share * height).round() as i32
}

/// `at` in `zone`, if its year is one the chart can show.
pub(super) fn local(at: i64, zone: Tz) -> Result<DateTime<Tz>, ChartError> {
    DateTime::from_timestamp(at, 0)
        .map(|time| time.with_timezone(&zone))
        .filter(|time| (1..=9999).contains(&time.year()))
        .ok_or(ChartError::TimeOutOfRange { at })
}

/// The first moment of `day` at `hour` o'clock in `zone`, or a little later if a clock change
/// skips that hour.
pub(super) fn local_instant(zone: Tz, day: NaiveDate, hour: u32) -> Option<i64> {
    (hour..hour + 4).find_map(|hour| {
        let naive = day.and_hms_opt(hour, 0, 0)?;
        zone.from_local_datetime(&naive)
            .earliest()
            .map(|time| time.timestamp())
    })
}

/// Which end of the words `x` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Centre,
    Right,
}
