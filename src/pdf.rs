//! Lays out a short document (a title, sections of paragraphs, a picture) on A4 pages and
//! writes it as a PDF, in the embedded DejaVu Sans (the chart's font), so it reads the same on
//! any device and its text can be searched and copied. Pure: bytes in, bytes out.

use std::collections::BTreeMap;

use ab_glyph::{Font, FontRef};
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use crate::chart::FONT;

/// A document to lay out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub title: String,
    /// A line under the title (a date, a purpose).
    pub subtitle: String,
    pub sections: Vec<Section>,
    /// A line at the foot of the last page.
    pub footer: String,
}

/// A heading and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    /// Paragraphs, each wrapped to the page's width.
    pub paragraphs: Vec<String>,
    pub picture: Option<Picture>,
}

/// RGB pixels, row by row.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Picture({}x{})", self.width, self.height)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded font (DejaVu Sans) could not be read")]
    Font,
    #[error("a picture of {width}x{height} does not hold {len} bytes of RGB")]
    Picture { width: u32, height: u32, len: usize },
}

/// A4 in points, and the margins.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const TITLE_SIZE: f32 = 20.0;
const HEADING_SIZE: f32 = 13.0;
const BODY_SIZE: f32 = 11.0;
const SMALL_SIZE: f32 = 9.0;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.45;
/// The ink, a warm dark brown, and the gold of the headings (as in the chart).
const INK: [f32; 3] = [62.0 / 255.0, 53.0 / 255.0, 48.0 / 255.0];
const GOLD: [f32; 3] = [140.0 / 255.0, 104.0 / 255.0, 22.0 / 255.0];

const FONT_NAME: Name<'static> = Name(b"F1");

/// One piece of text placed on a page.
struct Placed {
    x: f32,
    y: f32,
    size: f32,
    color: [f32; 3],
    glyphs: Vec<u16>,
}

/// One page's text and pictures.
#[derive(Default)]
struct Page {
    texts: Vec<Placed>,
    /// (index into the pictures, x, y, width, height) in points.
    pictures: Vec<(usize, f32, f32, f32, f32)>,
}

/// Lays out `document` and writes it as PDF bytes.
pub fn render(document: &Document) -> Result<Vec<u8>, PdfError> {
    let font = FontRef::try_from_slice(FONT).map_err(|_| PdfError::Font)?;
    let mut layout = Layout::new(&font);
    layout.line(&document.title, TITLE_SIZE, GOLD);
    layout.line(&document.subtitle, SMALL_SIZE, INK);
    layout.gap(BODY_SIZE);
    let mut pictures = Vec::new();
    for section in &document.sections {
        layout.keep_room(HEADING_SIZE * LEADING * 3.0);
        layout.line(&section.heading, HEADING_SIZE, GOLD);
        for paragraph in &section.paragraphs {
            layout.paragraph(paragraph, BODY_SIZE);
        }
        if let Some(picture) = &section.picture {
            let expected = picture.width as usize * picture.height as usize * 3;
            if picture.rgb.len() != expected || picture.width == 0 {
                return Err(PdfError::Picture {
                    width: picture.width,
                    height: picture.height,
                    len: picture.rgb.len(),
                });
            }
            layout.picture(pictures.len(), picture);
            pictures.push(picture);
        }
        layout.gap(BODY_SIZE * 0.6);
    }
    layout.gap(BODY_SIZE);
    layout.paragraph(&document.footer, SMALL_SIZE);
    let (pages, used) = layout.finish();
    Ok(write(&font, &pages, &used, &pictures))
}

/// Places text line by line, top to bottom, page after page.
struct Layout<'f> {
    font: &'f FontRef<'f>,
    pages: Vec<Page>,
    /// Every glyph placed, with a character it stands for: the widths and the Unicode map.
    used: BTreeMap<u16, char>,
    /// The baseline of the next line, from the page's bottom.
    y: f32,
}

impl<'f> Layout<'f> {
    fn new(font: &'f FontRef<'f>) -> Layout<'f> {
        Layout {
            font,
            pages: vec![Page::default()],
            used: BTreeMap::new(),
            y: PAGE_HEIGHT - MARGIN,
        }
    }

    fn finish(self) -> (Vec<Page>, BTreeMap<u16, char>) {
        (self.pages, self.used)
    }

    fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.y = PAGE_HEIGHT - MARGIN;
    }

    /// Starts a new page unless `height` fits below.
    fn keep_room(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.new_page();
        }
    }

    fn gap(&mut self, height: f32) {
        self.y -= height;
    }

    /// One line, not wrapped.
    fn line(&mut self, text: &str, size: f32, color: [f32; 3]) {
        self.keep_room(size * LEADING);
        self.y -= size * LEADING;
        let glyphs = text.chars().map(|c| self.place(c)).collect();
        if let Some(page) = self.pages.last_mut() {
            page.texts.push(Placed {
                x: MARGIN,
                y: self.y,
                size,
                color,
                glyphs,
            });
        }
    }

    /// Text wrapped at word boundaries to the page's width; line breaks in it are kept.
    fn paragraph(&mut self, text: &str, size: f32) {
        let width = PAGE_WIDTH - 2.0 * MARGIN;
        for written_line in text.lines() {
            let mut line = String::new();
            for word in written_line.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width_of(&candidate, size) > width && !line.is_empty() {
                    self.line(&line, size, INK);
                    line = word.to_owned();
                } else {
                    line = candidate;
                }
                // A single word wider than the page is cut where it must be.
                while self.width_of(&line, size) > width && line.chars().count() > 1 {
                    let fits = (1..line.chars().count())
                        .rev()
                        .find(|&n| {
                            self.width_of(&line.chars().take(n).collect::<String>(), size) <= width
                        })
                        .unwrap_or(1);
                    let head: String = line.chars().take(fits).collect();
                    self.line(&head, size, INK);
                    line = line.chars().skip(fits).collect();
                }
            }
            self.line(&line, size, INK);
        }
        self.gap(size * 0.4);
    }

    /// A picture as wide as the text, keeping its proportions.
    fn picture(&mut self, index: usize, picture: &Picture) {
        let width = PAGE_WIDTH - 2.0 * MARGIN;
        let height = width * picture.height as f32 / picture.width as f32;
        self.keep_room(height + BODY_SIZE);
        self.y -= height + BODY_SIZE * 0.5;
        if let Some(page) = self.pages.last_mut() {
            page.pictures.push((index, MARGIN, self.y, width, height));
        }
    }

    /// The glyph showing `c`, noted as used.
    fn place(&mut self, c: char) -> u16 {
        let glyph = self.font.glyph_id(c).0;
        self.used.entry(glyph).or_insert(c);
        glyph
    }

    fn width_of(&self, text: &str, size: f32) -> f32 {
        let units = self.font.units_per_em().unwrap_or(1000.0);
        text.chars()
            .map(|c| self.font.h_advance_unscaled(self.font.glyph_id(c)))
            .sum::<f32>()
            * size
            / units
    }
}

/// Writes the pages, the font (whole, compressed, with each glyph's width and the way back
/// to Unicode) and the pictures.
fn write(
    font: &FontRef<'_>,
    pages: &[Page],
    used: &BTreeMap<u16, char>,
    pictures: &[&Picture],
) -> Vec<u8> {
    let mut next = 1;
    let mut id = || {
        let made = Ref::new(next);
        next += 1;
        made
    };
    let (catalog, tree, type0, cid, descriptor, file, cmap) =
        (id(), id(), id(), id(), id(), id(), id());
    let picture_ids: Vec<Ref> = pictures.iter().map(|_| id()).collect();
    let page_ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (id(), id())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().map(|(page, _)| *page))
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));

    let units = font.units_per_em().unwrap_or(1000.0);
    let scale = 1000.0 / units;
    pdf.type0_font(type0)
        .base_font(Name(b"DejaVuSans"))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    let system = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    {
        let mut cid_font = pdf.cid_font(cid);
        cid_font
            .subtype(CidFontType::Type2)
            .base_font(Name(b"DejaVuSans"))
            .system_info(system)
            .font_descriptor(descriptor)
            .default_width(500.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        let mut widths = cid_font.widths();
        for &glyph in used.keys() {
            let advance = font.h_advance_unscaled(ab_glyph::GlyphId(glyph)) * scale;
            widths.consecutive(glyph, [advance]);
        }
    }
    pdf.font_descriptor(descriptor)
        .name(Name(b"DejaVuSans"))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(-1021.0, -463.0, 1793.0, 1232.0))
        .italic_angle(0.0)
        .ascent(font.ascent_unscaled() * scale)
        .descent(font.descent_unscaled() * scale)
        .cap_height(729.0)
        .stem_v(80.0)
        .font_file2(file);
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(FONT, 6);
    pdf.stream(file, &compressed)
        .filter(Filter::FlateDecode)
        .pair(
            Name(b"Length1"),
            i32::try_from(FONT.len()).unwrap_or(i32::MAX),
        );
    let mut unicode = UnicodeCmap::new(Name(b"Kintsugi-UTF16"), system);
    for (&glyph, &c) in used {
        unicode.pair(glyph, c);
    }
    pdf.cmap(cmap, &unicode.finish());

    for (picture, &picture_id) in pictures.iter().zip(&picture_ids) {
        let samples = miniz_oxide::deflate::compress_to_vec_zlib(&picture.rgb, 6);
        let mut image = pdf.image_xobject(picture_id, &samples);
        image.filter(Filter::FlateDecode);
        image
            .width(i32::try_from(picture.width).unwrap_or(i32::MAX))
            .height(i32::try_from(picture.height).unwrap_or(i32::MAX))
            .bits_per_component(8);
        image.color_space().device_rgb();
    }

    for (page, &(page_id, content_id)) in pages.iter().zip(&page_ids) {
        let mut content = Content::new();
        for &(index, x, y, width, height) in &page.pictures {
            content
                .save_state()
                .transform([width, 0.0, 0.0, height, x, y])
                .x_object(Name(format!("Im{index}").as_bytes()))
                .restore_state();
        }
        for text in &page.texts {
            let bytes: Vec<u8> = text.glyphs.iter().flat_map(|g| g.to_be_bytes()).collect();
            let [r, g, b] = text.color;
            content
                .set_fill_rgb(r, g, b)
                .begin_text()
                .set_font(FONT_NAME, text.size)
                .set_text_matrix([1.0, 0.0, 0.0, 1.0, text.x, text.y])
                .show(Str(&bytes))
                .end_text();
        }
        let stream = content.finish();
        pdf.stream(content_id, stream.as_slice());
        let mut page_writer = pdf.page(page_id);
        page_writer
            .parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(content_id);
        let mut resources = page_writer.resources();
        resources.fonts().pair(FONT_NAME, type0);
        let mut objects = resources.x_objects();
        for &(index, ..) in &page.pictures {
            objects.pair(Name(format!("Im{index}").as_bytes()), picture_ids[index]);
        }
        objects.finish();
        resources.finish();
        page_writer.finish();
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(paragraphs: usize) -> Document {
        Document {
            title: "Kintsugi: my summary".to_owned(),
            subtitle: "30 November 2026".to_owned(),
            sections: vec![Section {
                heading: "Ground rules".to_owned(),
                paragraphs: (0..paragraphs)
                    .map(|n| format!("Rule {n}: we talk on Sundays, for half an hour, é ü ñ."))
                    .collect(),
                picture: Some(Picture {
                    width: 2,
                    height: 1,
                    rgb: vec![200, 150, 40, 10, 20, 30],
                }),
            }],
            footer: "Made by Kintsugi.".to_owned(),
        }
    }

    #[test]
    fn a_document_becomes_a_pdf_with_its_font_and_picture() {
        let bytes = render(&document(3)).expect("a PDF");
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/FontFile2") && text.contains("/ToUnicode"));
        assert!(text.contains("/Subtype /Image"));
        assert_eq!(
            text.matches("/Type /Page\n").count() + text.matches("/Type /Page ").count(),
            1
        );
    }

    #[test]
    fn a_long_document_flows_onto_more_pages() {
        let bytes = render(&document(120)).expect("a PDF");
        let text = String::from_utf8_lossy(&bytes);
        let count: usize = text
            .split("/Count ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
            .expect("a page count");
        assert!(count >= 3, "{count} pages");
    }

    #[test]
    fn a_picture_without_its_pixels_is_an_error() {
        let mut broken = document(1);
        if let Some(picture) = broken.sections[0].picture.as_mut() {
            picture.rgb.pop();
        }
        assert!(matches!(render(&broken), Err(PdfError::Picture { .. })));
    }
}
