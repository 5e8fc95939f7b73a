use super::axes::path_of;
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
        3, 3, 4, 2, 4, 5, 5, 4, 6, 5, 5, 6, 7, 6, 5, 6, 7, 7, 6, 8, 7, 7, 8, 6, 7, 8, 8, 9, 8, 9,
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
    let (x, _) = path_of(&frame, &[point])[0];
    let centre = pixel(&pixels, x as u32, y(7) as u32);
    assert_eq!(centre, [GOLD_LIGHT.0, GOLD_LIGHT.1, GOLD_LIGHT.2]);
}

#[test]
fn a_check_in_sits_over_its_days_label_and_several_in_a_day_side_by_side_in_order() {
    let zone = chrono_tz::America::Toronto;
    // Local times: 1 Dec at 07:10, 2 Dec at 21:40, then 4 Dec at 08:00, 13:00 and 23:30.
    let at = |day: u32, hour: u32, minute: u32| {
        zone.with_ymd_and_hms(2026, 12, day, hour, minute, 0)
            .unwrap()
            .timestamp()
    };
    let points: Vec<ChartPoint> = [
        (at(1, 7, 10), 3),
        (at(2, 21, 40), 5),
        (at(4, 8, 0), 4),
        (at(4, 13, 0), 6),
        (at(4, 23, 30), 7),
    ]
    .into_iter()
    .map(|(at, rating)| ChartPoint { at, rating })
    .collect();
    let frame = Frame::new(points[0].at, points[4].at, zone).unwrap();
    let path = path_of(&frame, &points);
    let labels: Vec<(String, i32)> = date_labels(font().unwrap(), &frame, zone)
        .into_iter()
        .map(|tick| (tick.words.text, tick.words.x))
        .collect();
    let label_x = |text: &str| {
        labels
            .iter()
            .find(|(label, _)| label == text)
            .unwrap_or_else(|| panic!("no label {text} in {labels:?}"))
            .1
    };
    // One a day: right over the date, whatever the hour.
    assert_eq!(path[0].0, label_x("1 Dec"));
    assert_eq!(path[1].0, label_x("2 Dec"));
    // Three on the 4th: in the order made, around the date, within the day.
    let day = frame.day_width();
    let (a, b, c) = (path[2].0, path[3].0, path[4].0);
    assert!(a < b && b < c, "{path:?}");
    assert!((b - label_x("4 Dec")).abs() <= 1, "{path:?} {labels:?}");
    assert!(f64::from(c - a) < day, "{path:?}, a day is {day} px");
    // The dots are where the picture draws them.
    let pixels = assert_png(&progress_chart(&points, zone, &text()).unwrap());
    for &(x, y) in &path {
        assert_eq!(
            pixel(&pixels, x as u32, y as u32),
            [GOLD_LIGHT.0, GOLD_LIGHT.1, GOLD_LIGHT.2]
        );
    }
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

#[test]
fn a_partners_shared_ratings_are_a_second_slate_line_beside_the_gold() {
    let zone = chrono_tz::Europe::London;
    let mine = month(zone);
    let partner: Vec<ChartPoint> = mine
        .iter()
        .map(|point| ChartPoint {
            at: point.at + 3600,
            rating: 10 - point.rating.min(9),
        })
        .collect();
    let slate = |pixels: &[u8]| {
        (0..HEIGHT)
            .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
            .filter(|&(x, y)| pixel(pixels, x, y) == [SLATE.0, SLATE.1, SLATE.2])
            .count()
    };
    let alone = assert_png(&progress_chart(&mine, zone, &text()).unwrap());
    assert_eq!(slate(&alone), 0);
    let beside = assert_png(&progress_chart_beside(&mine, &partner, zone, &text()).unwrap());
    assert!(slate(&beside) > 300, "only {} slate pixels", slate(&beside));
}
