//! The words a pattern cannot match without: for each crisis pattern, a few literal strings
//! one of which every match contains ("kill", "murder" or "strangle" for
//! `\b(kill|murder|strangle) (him|her)\b`). One scan for all of them tells which patterns could
//! match a text at all, so only those patterns' automata read it. Pure and conservative: a
//! pattern whose literals cannot be worked out, or are too short to be telling, is simply
//! always read.

use regex_syntax::hir::{Hir, HirKind};

/// Literals shorter than this occur in nearly every text ("i", "me", "an"): a pattern whose
/// best set has one is read for every text instead.
const SHORTEST_TELLING: usize = 3;

/// The literals one of which every match of `pattern` contains, when there is such a set of
/// telling ones; `None` when the pattern is to be read for every text.
pub(super) fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::parse(pattern).ok()?;
    required(&hir).filter(|set| telling(set) >= SHORTEST_TELLING)
}

/// A set of literals every match of `hir` contains one of, or `None` when there is none.
fn required(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(literal) => Some(vec![literal.0.to_vec()]),
        HirKind::Capture(capture) => required(&capture.sub),
        HirKind::Repetition(repetition) if repetition.min >= 1 => required(&repetition.sub),
        // Every part of a sequence is in every match: the most telling part will do.
        HirKind::Concat(parts) => parts
            .iter()
            .filter_map(required)
            .max_by_key(|set| (telling(set), std::cmp::Reverse(set.len()))),
        // A match is one of the alternatives: it contains a literal of that one's set.
        HirKind::Alternation(alternatives) => {
            let mut all = Vec::new();
            for alternative in alternatives {
                all.extend(required(alternative)?);
            }
            all.sort();
            all.dedup();
            Some(all)
        }
        _ => None,
    }
}

/// How telling a set is: the length of its shortest literal.
fn telling(set: &[Vec<u8>]) -> usize {
    set.iter().map(Vec::len).min().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(pattern: &str) -> Option<Vec<String>> {
        required_literals(pattern).map(|set| {
            set.into_iter()
                .map(|literal| String::from_utf8(literal).unwrap())
                .collect()
        })
    }

    #[test]
    fn the_most_telling_part_of_a_sequence_is_chosen() {
        assert_eq!(
            words(r"\b(kill|murder|strangle) (him|her|them|you) (\w+ ){0,8}(lol|jk)\b"),
            Some(vec![
                "kill".to_owned(),
                "murder".to_owned(),
                "strangle".to_owned()
            ])
        );
        assert_eq!(
            words(r"\bdark place\b"),
            Some(vec!["dark place".to_owned()])
        );
    }

    #[test]
    fn patterns_without_telling_literals_are_read_for_every_text() {
        assert_eq!(words(r"\b(i|me)\b"), None);
        assert_eq!(words(r"(\w+ ){0,3}"), None);
        assert_eq!(words(r"\b(die|x)\b"), None, "one alternative too short");
        assert_eq!(words(r"[a-z]+"), None);
        assert_eq!(words(r"(unclosed"), None);
    }

    #[test]
    fn every_alternative_gives_a_literal() {
        let set = words(r"\b(used to be|was once) (scared|afraid)\b").unwrap();
        for text in ["used to be scared", "was once afraid"] {
            assert!(
                set.iter().any(|literal| text.contains(literal.as_str())),
                "{text}"
            );
        }
    }
}
