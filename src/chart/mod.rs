//! The `/progress` chart: a person's check-in trust ratings (1 to 10) over time, drawn as a PNG.
//! Pure: no I/O and no clock; dates are shown in the person's zone. Shapes are drawn with
//! plotters, words with ab_glyph from the embedded DejaVu Sans (licence in `FONT-LICENSE.txt`
//! beside this file), so no system font is ever looked up.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use plotters::backend::BitMapBackend;
use plotters::coord::Shift;
use plotters::drawing::{DrawingArea, IntoDrawingArea};
use plotters::element::{Circle, PathElement, Polygon, Rectangle};
use plotters::style::{Color, RGBColor, ShapeStyle};

/// The chart's size in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 450;

/// One check-in on the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartPoint {
    /// When, in seconds since the Unix epoch.
    pub at: i64,
    /// The trust rating, 1 to 10; anything outside is drawn at the nearer end.
    pub rating: u8,
}

/// The words on the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartText {
    /// Above the chart (cut short with "…" if too long for one line).
    pub title: String,
    /// In place of the line when there are no check-ins (wrapped over a few lines).
    pub empty: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
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

static FONT: &[u8] = include_bytes!("DejaVuSans.ttf");

const BACKGROUND: RGBColor = RGBColor(251, 248, 241);
const INK: RGBColor = RGBColor(62, 53, 48);
const MUTED: RGBColor = RGBColor(110, 98, 88);
const GRID: RGBColor = RGBColor(236, 229, 216);
const AXIS: RGBColor = RGBColor(203, 191, 174);
const GOLD: RGBColor = RGBColor(197, 152, 40);
const GOLD_LIGHT: RGBColor = RGBColor(232, 195, 92);
const GOLD_DARK: RGBColor = RGBColor(140, 104, 22);

/// The plotting area: the line and dots stay inside it, labels go around it.
const PLOT_LEFT: i32 = 58;
const PLOT_RIGHT: i32 = WIDTH as i32 - 34;
const PLOT_TOP: i32 = 70;
const PLOT_BOTTOM: i32 = HEIGHT as i32 - 56;
/// Room kept inside the plotting area so dots at its edges are drawn whole.
const X_PAD: i32 = 14;
const Y_PAD: i32 = 12;

/// Font sizes in pixels (ab_glyph's scale: ascent to descent).
const TITLE_SIZE: f32 = 24.0;
const LABEL_SIZE: f32 = 16.0;
const EMPTY_SIZE: f32 = 19.0;
/// The least space between two date labels.
const LABEL_GAP: i32 = 16;
/// More date labels than this are never tried.
const MAX_LABELS: usize = 40;

const DAY: i64 = 24 * 60 * 60;

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// The `/progress` chart of `points` (oldest first; several a day and repeated times are fine)
/// as a PNG of [`WIDTH`] x [`HEIGHT`], dates in `zone`. No points: the chart shows `text.empty`.
pub fn progress_chart(
    points: &[ChartPoint],
    zone: Tz,
    text: &ChartText,
) -> Result<Vec<u8>, ChartError> {
    let font = font()?;
    let mut points = points.to_vec();
    // Oldest first is promised, but a line drawn out of order would zigzag: sort to be sure.
    points.sort_by_key(|point| point.at);
    let frame = match (points.first(), points.last()) {
        (Some(first), Some(last)) => Some(Frame::new(first.at, last.at, zone)?),
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
    encode(&pixels)
}

fn font() -> Result<&'static FontRef<'static>, ChartError> {
    static PARSED: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    PARSED
        .get_or_init(|| FontRef::try_from_slice(FONT).ok())
        .as_ref()
        .ok_or(ChartError::Font)
}

fn draw_error(error: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(error.to_string())
}

fn encode(pixels: &[u8]) -> Result<Vec<u8>, ChartError> {
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
struct Frame {
    start: i64,
    end: i64,
    first_day: NaiveDate,
    last_day: NaiveDate,
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
            start,
            end,
            first_day,
            last_day,
        })
    }

    fn x(&self, at: i64) -> i32 {
        let share = (at - self.start) as f64 / (self.end - self.start) as f64;
        let share = share.clamp(0.0, 1.0);
        let left = f64::from(PLOT_LEFT + X_PAD);
        let width = f64::from(PLOT_RIGHT - PLOT_LEFT - 2 * X_PAD);
        (left + share * width).round() as i32
    }
}

fn y(rating: u8) -> i32 {
    let rating = rating.clamp(1, 10);
    let share = f64::from(10 - rating) / 9.0;
    let top = f64::from(PLOT_TOP + Y_PAD);
    let height = f64::from(PLOT_BOTTOM - PLOT_TOP - 2 * Y_PAD);
    (top + share * height).round() as i32
}

/// `at` in `zone`, if its year is one the chart can show.
fn local(at: i64, zone: Tz) -> Result<DateTime<Tz>, ChartError> {
    DateTime::from_timestamp(at, 0)
        .map(|time| time.with_timezone(&zone))
        .filter(|time| (1..=9999).contains(&time.year()))
        .ok_or(ChartError::TimeOutOfRange { at })
}

/// The first moment of `day` at `hour` o'clock in `zone`, or a little later if a clock change
/// skips that hour.
fn local_instant(zone: Tz, day: NaiveDate, hour: u32) -> Option<i64> {
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

/// One line of words to paint once the shapes are drawn.
#[derive(Debug, Clone)]
struct Words {
    text: String,
    size: f32,
    colour: RGBColor,
    align: Align,
    x: i32,
    baseline: i32,
}

/// The glyphs of `text` with where each starts along the line, and the line's width.
fn layout(font: &FontRef<'static>, text: &str, size: f32) -> (Vec<(GlyphId, f32)>, f32) {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut glyphs = Vec::with_capacity(text.len());
    let mut caret = 0.0;
    let mut previous: Option<GlyphId> = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(previous) = previous {
            caret += scaled.kern(previous, id);
        }
        glyphs.push((id, caret));
        caret += scaled.h_advance(id);
        previous = Some(id);
    }
    (glyphs, caret)
}

fn text_width(font: &FontRef<'static>, text: &str, size: f32) -> i32 {
    layout(font, text, size).1.ceil() as i32
}

/// Blends `words` onto the RGB `pixels`; whatever falls outside the picture is dropped.
fn paint(pixels: &mut [u8], font: &FontRef<'static>, words: &Words) {
    let (glyphs, width) = layout(font, &words.text, words.size);
    let x = words.x as f32;
    let left = match words.align {
        Align::Left => x,
        Align::Centre => x - width / 2.0,
        Align::Right => x - width,
    }
    .round();
    let colour = [words.colour.0, words.colour.1, words.colour.2];
    for (id, caret) in glyphs {
        let glyph = id.with_scale_and_position(
            PxScale::from(words.size),
            point(left + caret, words.baseline as f32),
        );
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i64 + i64::from(gx);
            let py = bounds.min.y as i64 + i64::from(gy);
            if !(0..i64::from(WIDTH)).contains(&px) || !(0..i64::from(HEIGHT)).contains(&py) {
                return;
            }
            let at = ((py * i64::from(WIDTH) + px) * 3) as usize;
            let coverage = coverage.clamp(0.0, 1.0);
            for (channel, &ink) in pixels[at..at + 3].iter_mut().zip(&colour) {
                let mixed = f32::from(*channel) + (f32::from(ink) - f32::from(*channel)) * coverage;
                *channel = mixed.round().clamp(0.0, 255.0) as u8;
            }
        });
    }
}

/// Words to print: control characters become spaces, and only the first stretch is kept (no
/// line on the chart holds more).
fn printable(text: &str) -> String {
    text.chars()
        .take(2000)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` cut short with "…" so that it fits in `max_width`; `force` adds the "…" even when
/// the whole text fits.
fn shorten(font: &FontRef<'static>, text: &str, size: f32, max_width: i32, force: bool) -> String {
    let text = text.trim();
    if !force && text_width(font, text, size) <= max_width {
        return text.to_owned();
    }
    // Few glyphs are narrower than a fifth of the size: that many characters are plenty to
    // start from, and a very long text costs no more than a short one.
    let most = (max_width.max(0) as f32 / (size / 5.0)).ceil() as usize;
    let mut kept: Vec<char> = text.chars().take(most).collect();
    loop {
        let candidate = format!("{}…", kept.iter().collect::<String>().trim_end());
        if kept.is_empty() || text_width(font, &candidate, size) <= max_width {
            return candidate;
        }
        kept.pop();
    }
}

/// `text` broken into at most `max_lines` lines of at most `max_width`.
fn wrap(
    font: &FontRef<'static>,
    text: &str,
    size: f32,
    max_width: i32,
    max_lines: usize,
) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        if let Some(line) = lines.last_mut() {
            let joined = format!("{line} {word}");
            if text_width(font, &joined, size) <= max_width {
                *line = joined;
                continue;
            }
        }
        if lines.len() == max_lines {
            if let Some(line) = lines.last_mut() {
                *line = shorten(font, line, size, max_width, true);
            }
            break;
        }
        lines.push(shorten(font, word, size, max_width, false));
    }
    lines
}

fn title(font: &FontRef<'static>, title: &str) -> Words {
    let max_width = WIDTH as i32 - 2 * 24;
    Words {
        text: shorten(font, &printable(title), TITLE_SIZE, max_width, false),
        size: TITLE_SIZE,
        colour: INK,
        align: Align::Left,
        x: 24,
        baseline: 40,
    }
}

/// The ratings that get a label.
const LABELLED: [u8; 4] = [1, 4, 7, 10];

fn rating_labels() -> impl Iterator<Item = Words> {
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
fn draw_rating_lines(area: &Area) -> Result<(), ChartError> {
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
enum Step {
    Days(u64),
    Months(i32),
    Years(i32),
}

/// Finest first; the first whose labels do not collide is used.
const STEPS: [Step; 22] = [
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
struct Tick {
    words: Words,
    width: i32,
}

/// The date labels: the finest step whose labels fit side by side, each at noon of its day.
fn date_labels(font: &FontRef<'static>, frame: &Frame, zone: Tz) -> Vec<Tick> {
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
fn draw_date_axis(area: &Area, ticks: &[Tick]) -> Result<(), ChartError> {
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
fn draw_points(area: &Area, frame: &Frame, points: &[ChartPoint]) -> Result<(), ChartError> {
    let mut path: Vec<(i32, i32)> = Vec::with_capacity(points.len());
    for point in points {
        let spot = (frame.x(point.at), y(point.rating));
        if path.last() != Some(&spot) {
            path.push(spot);
        }
    }
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

/// A line of the words shown when there are no check-ins, and its width.
struct Line {
    words: Words,
    width: i32,
}

/// No check-ins yet: `empty`, wrapped and centred in the plotting area.
fn empty_words(font: &FontRef<'static>, empty: &str) -> Vec<Line> {
    let max_width = 540;
    let lines = wrap(font, &printable(empty), EMPTY_SIZE, max_width, 4);
    let line_height = (EMPTY_SIZE * 1.5).round() as i32;
    let count = i32::try_from(lines.len()).unwrap_or(4);
    let top = (PLOT_TOP + PLOT_BOTTOM) / 2 - count * line_height / 2;
    let mut row_top = top;
    lines
        .into_iter()
        .map(|text| {
            let width = text_width(font, &text, EMPTY_SIZE);
            let baseline = row_top + (EMPTY_SIZE * 1.05).round() as i32;
            row_top += line_height;
            Line {
                words: Words {
                    text,
                    size: EMPTY_SIZE,
                    colour: MUTED,
                    align: Align::Centre,
                    x: (PLOT_LEFT + PLOT_RIGHT) / 2,
                    baseline,
                },
                width,
            }
        })
        .collect()
}

/// Clears the rating lines from behind the `empty` words, with a margin.
fn clear_behind(area: &Area, empty: &[Line]) -> Result<(), ChartError> {
    let (Some(first), Some(last)) = (empty.first(), empty.last()) else {
        return Ok(());
    };
    let widest = empty.iter().map(|line| line.width).max().unwrap_or(0);
    let centre = (PLOT_LEFT + PLOT_RIGHT) / 2;
    let top = first.words.baseline - (EMPTY_SIZE * 1.05).round() as i32 - 12;
    let bottom = last.words.baseline + 14;
    area.draw(&Rectangle::new(
        [
            (centre - widest / 2 - 20, top),
            (centre + widest / 2 + 20, bottom),
        ],
        BACKGROUND.filled(),
    ))
    .map_err(draw_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> ChartText {
        ChartText {
            title: "Your trust ratings".to_owned(),
            empty: "No check-ins yet. Send /checkin to make your first one.".to_owned(),
        }
    }

    /// Width, height and RGB pixels of a PNG.
    fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().expect("a PNG header");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a buffer size")];
        let info = reader.next_frame(&mut pixels).expect("a PNG frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        pixels.truncate(info.buffer_size());
        (info.width, info.height, pixels)
    }

    fn pixel(pixels: &[u8], x: u32, y: u32) -> [u8; 3] {
        let at = ((y * WIDTH + x) * 3) as usize;
        [pixels[at], pixels[at + 1], pixels[at + 2]]
    }

    /// Pixels in the rectangle that are not the background.
    fn inked(pixels: &[u8], (x0, y0): (u32, u32), (x1, y1): (u32, u32)) -> usize {
        let background = [BACKGROUND.0, BACKGROUND.1, BACKGROUND.2];
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| pixel(pixels, x, y) != background)
            .count()
    }

    fn month(zone: Tz) -> Vec<ChartPoint> {
        let start = zone
            .with_ymd_and_hms(2025, 10, 28, 20, 30, 0)
            .unwrap()
            .timestamp();
        let ratings = [
            3, 3, 4, 2, 4, 5, 5, 4, 6, 5, 5, 6, 7, 6, 5, 6, 7, 7, 6, 8, 7, 7, 8, 6, 7, 8, 8, 9, 8,
            9,
        ];
        ratings
            .iter()
            .enumerate()
            .map(|(day, &rating)| ChartPoint {
                at: start + day as i64 * DAY + (day as i64 % 5) * 1800,
                rating,
            })
            .collect()
    }

    fn assert_png(bytes: &[u8]) -> Vec<u8> {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let (width, height, pixels) = decode(bytes);
        assert_eq!((width, height), (WIDTH, HEIGHT));
        pixels
    }

    #[test]
    fn a_month_of_check_ins_is_a_png_of_the_right_size() {
        let zone = chrono_tz::Europe::London;
        let bytes = progress_chart(&month(zone), zone, &text()).unwrap();
        let pixels = assert_png(&bytes);
        // The gold line and dots are there.
        let gold = (0..HEIGHT)
            .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
            .filter(|&(x, y)| pixel(&pixels, x, y) == [GOLD.0, GOLD.1, GOLD.2])
            .count();
        assert!(gold > 500, "only {gold} gold pixels");
        // Date labels under the axis and rating labels left of it.
        let below = (PLOT_BOTTOM + 8) as u32;
        assert!(inked(&pixels, (0, below), (WIDTH, HEIGHT)) > 200);
        assert!(inked(&pixels, (0, PLOT_TOP as u32), (PLOT_LEFT as u32 - 4, below)) > 50);
    }

    #[test]
    fn no_points_still_draws_a_png_with_the_empty_words() {
        let bytes = progress_chart(&[], chrono_tz::UTC, &text()).unwrap();
        let pixels = assert_png(&bytes);
        let middle = ((PLOT_TOP + PLOT_BOTTOM) / 2) as u32;
        let words = inked(
            &pixels,
            (PLOT_LEFT as u32 + 40, middle - 20),
            (PLOT_RIGHT as u32 - 40, middle + 20),
        );
        assert!(words > 300, "only {words} inked pixels where the words go");
    }

    #[test]
    fn one_point_is_drawn_as_a_dot() {
        let point = ChartPoint {
            at: 1_764_180_000,
            rating: 7,
        };
        let bytes = progress_chart(&[point], chrono_tz::Asia::Tokyo, &text()).unwrap();
        let pixels = assert_png(&bytes);
        let frame = Frame::new(point.at, point.at, chrono_tz::Asia::Tokyo).unwrap();
        let centre = pixel(&pixels, frame.x(point.at) as u32, y(7) as u32);
        assert_eq!(centre, [GOLD_LIGHT.0, GOLD_LIGHT.1, GOLD_LIGHT.2]);
    }

    #[test]
    fn the_title_is_drawn_from_the_embedded_font() {
        let bytes = progress_chart(&[], chrono_tz::UTC, &text()).unwrap();
        let pixels = assert_png(&bytes);
        let title = inked(&pixels, (20, 10), (400, 50));
        assert!(title > 300, "only {title} inked pixels in the title area");
        let untitled = ChartText {
            title: String::new(),
            ..text()
        };
        let pixels = assert_png(&progress_chart(&[], chrono_tz::UTC, &untitled).unwrap());
        assert_eq!(inked(&pixels, (20, 10), (400, 50)), 0);
    }

    #[test]
    fn date_labels_are_days_in_the_persons_zone_and_never_collide() {
        // 23:30 UTC on 25 November is already 26 November in Tokyo.
        let at = chrono::Utc
            .with_ymd_and_hms(2025, 11, 25, 23, 30, 0)
            .unwrap()
            .timestamp();
        let labels = |zone: Tz, points: &[ChartPoint]| {
            let frame = Frame::new(points[0].at, points[points.len() - 1].at, zone).unwrap();
            date_labels(font().unwrap(), &frame, zone)
                .into_iter()
                .map(|tick| tick.words.text)
                .collect::<Vec<_>>()
        };
        let one = [ChartPoint { at, rating: 5 }];
        assert_eq!(labels(chrono_tz::Asia::Tokyo, &one), ["26 Nov"]);
        assert_eq!(labels(chrono_tz::UTC, &one), ["25 Nov"]);

        let zone = chrono_tz::Europe::London;
        let days = labels(zone, &month(zone));
        assert!(days.len() >= 5 && days.len() <= 16, "{days:?}");
        assert_eq!(days.last().map(String::as_str), Some("26 Nov"));

        let decades = [
            ChartPoint { at: 0, rating: 1 },
            ChartPoint {
                at: 50 * 365 * DAY,
                rating: 10,
            },
        ];
        let decades = labels(chrono_tz::UTC, &decades);
        assert!(decades.iter().all(|label| label.len() == 4), "{decades:?}");
    }

    #[test]
    fn odd_inputs_never_panic() {
        let zones = [
            chrono_tz::UTC,
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::America::Santiago,
            chrono_tz::Asia::Kathmandu,
        ];
        let far = chrono::Utc
            .with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
            .unwrap()
            .timestamp();
        let early = chrono::Utc
            .with_ymd_and_hms(1, 1, 2, 0, 0, 0)
            .unwrap()
            .timestamp();
        let times = [
            i64::MIN,
            i64::MIN + 1,
            early,
            -1,
            0,
            1,
            1_764_115_200,
            1_764_115_200 + 1,
            1_764_115_200 + DAY * 400,
            far,
            i64::MAX,
        ];
        let texts = [
            text(),
            ChartText {
                title: "🌱 ".repeat(300) + "\n\t\u{0}",
                empty: String::new(),
            },
            ChartText {
                title: String::new(),
                empty: "x".repeat(5000),
            },
            ChartText {
                title: "Доверие".to_owned(),
                empty: "word ".repeat(400),
            },
        ];
        // A small generator, so the same odd inputs come up every run.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..60 {
            let count = (next() % 12) as usize;
            let mut points: Vec<ChartPoint> = (0..count)
                .map(|_| ChartPoint {
                    at: times[(next() % times.len() as u64) as usize]
                        .wrapping_add((next() % 3) as i64 * DAY),
                    rating: next() as u8,
                })
                .collect();
            if round % 3 == 0 {
                points.sort_by_key(|point| point.at);
            }
            let zone = zones[round % zones.len()];
            let text = &texts[round % texts.len()];
            match progress_chart(&points, zone, text) {
                Ok(bytes) => {
                    assert_png(&bytes);
                }
                Err(ChartError::TimeOutOfRange { at }) => {
                    assert!(points.iter().any(|point| point.at == at));
                }
                Err(other) => panic!("{other}"),
            }
        }
        // Many points at the same moment, and ratings far outside 1..=10.
        let same: Vec<ChartPoint> = (0..=255u8)
            .map(|rating| ChartPoint {
                at: 1_764_115_200,
                rating,
            })
            .collect();
        assert_png(&progress_chart(&same, chrono_tz::UTC, &text()).unwrap());
        // The widest span the chart shows.
        let span = [
            ChartPoint {
                at: early,
                rating: 0,
            },
            ChartPoint {
                at: far,
                rating: 200,
            },
        ];
        assert_png(&progress_chart(&span, chrono_tz::UTC, &text()).unwrap());
    }

    #[test]
    fn times_the_chart_cannot_show_are_a_precise_error() {
        let point = ChartPoint {
            at: i64::MAX,
            rating: 5,
        };
        let error = progress_chart(&[point], chrono_tz::UTC, &text()).unwrap_err();
        assert!(matches!(error, ChartError::TimeOutOfRange { at: i64::MAX }));
        assert!(error.to_string().contains("years 1 to 9999"));
    }
}
