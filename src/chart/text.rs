//! The words on the chart: laid out with ab_glyph from the embedded font, shortened or
//! wrapped to fit, and painted onto the pixels.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use plotters::element::Rectangle;
use plotters::style::{Color, RGBColor};

use super::{
    Align, Area, BACKGROUND, ChartError, EMPTY_SIZE, HEIGHT, INK, MUTED, PLOT_BOTTOM, PLOT_LEFT,
    PLOT_RIGHT, PLOT_TOP, TITLE_SIZE, WIDTH, draw_error,
};

/// One line of words to paint once the shapes are drawn.
#[derive(Debug, Clone)]
pub(super) struct Words {
    pub(super) text: String,
    pub(super) size: f32,
    pub(super) colour: RGBColor,
    pub(super) align: Align,
    pub(super) x: i32,
    pub(super) baseline: i32,
}

/// The glyphs of `text` with where each starts along the line, and the line's width.
pub(super) fn layout(font: &FontRef<'static>, text: &str, size: f32) -> (Vec<(GlyphId, f32)>, f32) {
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

pub(super) fn text_width(font: &FontRef<'static>, text: &str, size: f32) -> i32 {
    layout(font, text, size).1.ceil() as i32
}

/// Blends `words` onto the RGB `pixels`; whatever falls outside the picture is dropped.
pub(super) fn paint(pixels: &mut [u8], font: &FontRef<'static>, words: &Words) {
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
pub(super) fn printable(text: &str) -> String {
    text.chars()
        .take(2000)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` cut short with "…" so that it fits in `max_width`; `force` adds the "…" even when
/// the whole text fits.
pub(super) fn shorten(
    font: &FontRef<'static>,
    text: &str,
    size: f32,
    max_width: i32,
    force: bool,
) -> String {
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
pub(super) fn wrap(
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

pub(super) fn title(font: &FontRef<'static>, title: &str) -> Words {
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

/// A line of the words shown when there are no check-ins, and its width.
pub(super) struct Line {
    pub(super) words: Words,
    pub(super) width: i32,
}

/// No check-ins yet: `empty`, wrapped and centred in the plotting area.
pub(super) fn empty_words(font: &FontRef<'static>, empty: &str) -> Vec<Line> {
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
pub(super) fn clear_behind(area: &Area, empty: &[Line]) -> Result<(), ChartError> {
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
