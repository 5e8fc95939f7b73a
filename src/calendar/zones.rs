//! Finding a person's time zone from what they type: an IANA name in any case
//! (`europe/berlin`), or a city (`New York`, `sao paulo`), matched forgivingly. Telegram does
//! not tell bots a person's zone, so this is how they pick one. Pure.

use chrono_tz::{TZ_VARIANTS, Tz};

/// The zones that best match `typed`, best first (at most `limit`); empty when none is close.
pub(crate) fn find_zones(typed: &str, limit: usize) -> Vec<Tz> {
    let wanted = normalize(typed);
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(u8, f64, Tz)> = TZ_VARIANTS
        .iter()
        .filter(|zone| is_place(zone.name()))
        .filter_map(|&zone| {
            let full = normalize(zone.name());
            let city = normalize(zone.name().rsplit('/').next().unwrap_or_default());
            let rank = if full == wanted {
                0
            } else if city == wanted {
                1
            } else if city.starts_with(&wanted) && wanted.len() >= 4 {
                2
            } else {
                let score = strsim::jaro_winkler(&wanted, &city);
                return (score >= 0.9).then_some((3, score, zone));
            };
            Some((rank, 1.0, zone))
        })
        .collect();
    scored.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.total_cmp(&a.1))
            .then(a.2.name().cmp(b.2.name()))
    });
    scored.dedup_by(|a, b| a.2 == b.2);
    scored
        .into_iter()
        .take(limit)
        .map(|(_, _, zone)| zone)
        .collect()
}

/// Whether `value` is an IANA zone name such as `Europe/Berlin` (a button's value naming a
/// zone brings the local time there, as a typed zone does).
pub(crate) fn is_zone_name(value: &str) -> bool {
    value.contains('/') && value.parse::<Tz>().is_ok()
}

/// The zone `typed` names exactly, by its whole name or its city ("toronto", "New York",
/// "europe/lisbon"); `None` for anything less sure, so a word typed at buttons ("no") is
/// never read as a place.
pub(crate) fn zone_named(typed: &str) -> Option<Tz> {
    let wanted = normalize(typed);
    if wanted.is_empty() {
        return None;
    }
    TZ_VARIANTS
        .iter()
        .filter(|zone| is_place(zone.name()))
        .find(|zone| {
            normalize(zone.name()) == wanted
                || normalize(zone.name().rsplit('/').next().unwrap_or_default()) == wanted
        })
        .copied()
}

/// Zones people live in: `Region/City`, not legacy aliases such as `US/Eastern` or `EST5EDT`.
fn is_place(name: &str) -> bool {
    const REGIONS: &[&str] = &[
        "Africa/",
        "America/",
        "Antarctica/",
        "Asia/",
        "Atlantic/",
        "Australia/",
        "Europe/",
        "Indian/",
        "Pacific/",
    ];
    REGIONS.iter().any(|region| name.starts_with(region)) || name == "UTC"
}

/// Lowercase letters and digits only, accents folded for the common cases (`São` = `sao`).
fn normalize(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            other => other,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(typed: &str) -> Vec<&'static str> {
        find_zones(typed, 3)
            .into_iter()
            .map(|zone| zone.name())
            .collect()
    }

    #[test]
    fn an_iana_name_in_any_case_is_found() {
        assert_eq!(names("europe/berlin")[0], "Europe/Berlin");
        assert_eq!(names("America/New_York")[0], "America/New_York");
    }

    #[test]
    fn a_city_is_found_with_spaces_accents_or_a_typo() {
        assert_eq!(names("New York")[0], "America/New_York");
        assert_eq!(names("são paulo")[0], "America/Sao_Paulo");
        assert_eq!(names("  sydney ")[0], "Australia/Sydney");
        assert_eq!(names("Berln")[0], "Europe/Berlin");
    }

    #[test]
    fn nonsense_finds_nothing_and_legacy_aliases_are_not_offered() {
        assert!(names("my kitchen").is_empty());
        assert!(names("").is_empty());
        assert!(!names("eastern").contains(&"US/Eastern"));
    }
}
