//! Checking the pattern file as a coach wrote it: each pattern compiled alone with a precise
//! error, words rewritten to ASCII classes, patterns that could never match or would match
//! everything refused, unknown names answered with the closest known one.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::Range;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use toml::Spanned;

use super::{BLAND_TEXTS, IGNORE_TABLE, SIZE_LIMIT, ScreenError};
use crate::safety::concern::ConcernKind;
use crate::safety::normalise::is_removed;

/// Compiles a pattern as written in the file.
pub(super) fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    build(&ascii_words(pattern))
}

/// Compiles a pattern already rewritten by [`ascii_words`].
pub(super) fn build(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(false)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
}

/// The pattern with `\w`, `\W` and `\b` limited to ASCII letters, digits and `_`.
///
/// Unicode word classes make the regex engine give up its fast automaton: a set of a few hundred
/// patterns then takes about 0.3 ms for a short message and 50 ms for 4,000 characters of
/// Cyrillic, against about a microsecond and 0.1 ms with ASCII classes. The patterns are English
/// and the text is normalised, so nothing is lost. Other escapes, and `\W` inside `[...]`, are
/// left as written.
pub(super) fn ascii_words(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    // How deep inside `[...]` we are, and whether a `]` here would be literal (right after
    // `[` or `[^`).
    let mut depth = 0usize;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_start = class_start;
        class_start = false;
        match c {
            '\\' => match chars.next() {
                Some('w') if depth > 0 => out.push_str("0-9A-Za-z_"),
                Some('w') => out.push_str("[0-9A-Za-z_]"),
                Some('W') if depth == 0 => out.push_str("[^0-9A-Za-z_]"),
                Some('b') if depth == 0 => out.push_str("(?-u:\\b)"),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' => {
                depth += 1;
                class_start = true;
                out.push(c);
            }
            '^' if at_start => {
                class_start = true;
                out.push(c);
            }
            ']' if depth > 0 && !at_start => {
                depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The checks that need no compiling: not empty, no apostrophe, not written twice.
pub(super) fn check_text<'a>(
    source: &str,
    pattern: &'a Spanned<String>,
    seen: &mut BTreeMap<&'a str, Range<usize>>,
) -> Option<ScreenError> {
    let span = pattern.span();
    let text = pattern.get_ref();
    if text.trim().is_empty() {
        return Some(ScreenError::new(
            span,
            "this pattern is empty, and an empty pattern would match every message",
            "write the words to look for, or delete the line",
        ));
    }
    if text.chars().any(is_removed) {
        return Some(ScreenError::new(
            span,
            "this pattern has an apostrophe, an accent or an invisible character, which \
             messages lose before matching, so it can never match",
            "leave apostrophes out: write `dont` for don't, `im` for I'm",
        ));
    }
    if has_capital_letter(text) {
        return Some(ScreenError::new(
            span,
            "this pattern has a capital letter, but messages are lowercased before matching, so \
             it can never match there",
            "write the pattern in lowercase",
        ));
    }
    match seen.entry(text) {
        Entry::Occupied(first) => {
            let (line, _) = crate::diagnostics::line_and_column(source, first.get().start);
            Some(ScreenError::new(
                span,
                "this pattern is written twice",
                format!("the first is on line {line}; delete one"),
            ))
        }
        Entry::Vacant(slot) => {
            slot.insert(span);
            None
        }
    }
}

/// Whether a pattern has a capital letter outside an escape (`\W`, `\p{Greek}` are fine).
/// Matching is case-sensitive against the lowercased text: case-insensitive matching would
/// make the compiled set much larger for nothing.
pub(super) fn has_capital_letter(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some('p' | 'P') = chars.next() {
                    // `\pL` or `\p{Name}`: the name may have capitals.
                    if chars.clone().next() == Some('{') {
                        for inner in chars.by_ref() {
                            if inner == '}' {
                                break;
                            }
                        }
                    } else {
                        chars.next();
                    }
                }
            }
            c if c.is_uppercase() => return true,
            _ => {}
        }
    }
    false
}

/// Compiles one pattern on its own, to say precisely what is wrong with it, if anything.
pub(super) fn check_regex(pattern: &Spanned<String>) -> Option<ScreenError> {
    let (span, text) = (pattern.span(), pattern.get_ref());
    match compile(text) {
        Ok(regex) => BLAND_TEXTS
            .iter()
            .find(|bland| regex.is_match(bland))
            .map(|bland| matches_anything(span, bland)),
        Err(regex::Error::Syntax(_)) => {
            // Reported on the pattern as written, not as rewritten for speed.
            let detail = match RegexBuilder::new(text).build() {
                Err(regex::Error::Syntax(detail)) => detail,
                _ => compile(text)
                    .err()
                    .map(|error| error.to_string())
                    .unwrap_or_default(),
            };
            let reason = detail
                .lines()
                .rev()
                .find_map(|line| line.trim().strip_prefix("error: "))
                .unwrap_or("it does not parse")
                .to_owned();
            Some(ScreenError {
                span,
                message: format!("this pattern is not a valid regular expression: {reason}"),
                help: Some(detail),
            })
        }
        Err(error) => Some(too_big(span, "pattern", &error)),
    }
}

pub(super) fn matches_anything(span: Range<usize>, bland: &str) -> ScreenError {
    ScreenError::new(
        span,
        format!("this pattern matches almost any message (it matches {bland:?})"),
        "make sure it needs at least one word: `?`, `*` and `{0,n}` can match nothing",
    )
}

/// The ignore phrases as one alternation (`None` when there are none).
pub(super) fn build_alternation(patterns: &[String]) -> Result<Option<Regex>, regex::Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let alternation = patterns
        .iter()
        .map(|pattern| format!("(?:{pattern})"))
        .collect::<Vec<_>>()
        .join("|");
    build(&alternation).map(Some)
}

pub(super) fn build_set(patterns: &[String]) -> Result<RegexSet, regex::Error> {
    RegexSetBuilder::new(patterns)
        .case_insensitive(false)
        .size_limit(SIZE_LIMIT)
        .build()
}

pub(super) fn unknown_kind(name: &Spanned<String>) -> ScreenError {
    let names = [
        ConcernKind::SelfHarm.as_str(),
        ConcernKind::Violence.as_str(),
        ConcernKind::Abuse.as_str(),
        IGNORE_TABLE,
    ];
    let mut help = did_you_mean(name.get_ref(), &names);
    help.push_str(
        "the kinds are self-harm, violence and abuse; [ignore] holds the phrases to remove",
    );
    ScreenError::new(
        name.span(),
        format!("unknown kind \"{}\"", name.get_ref()),
        help,
    )
}

pub(super) fn unknown_list(name: &Spanned<String>, table: &str, allowed: &[&str]) -> ScreenError {
    let mut help = did_you_mean(name.get_ref(), allowed);
    help.push_str(&format!("[{table}] holds only: {}", allowed.join(", ")));
    ScreenError::new(
        name.span(),
        format!("unknown list \"{}\" in [{table}]", name.get_ref()),
        help,
    )
}

/// "did you mean "X"? " for the known name closest to `name`, or nothing.
fn did_you_mean(name: &str, known: &[&str]) -> String {
    crate::diagnostics::did_you_mean(name, known.iter().copied())
        .map(|close| format!("did you mean \"{close}\"? "))
        .unwrap_or_default()
}

pub(super) fn too_big(span: Range<usize>, what: &str, error: &regex::Error) -> ScreenError {
    ScreenError::new(
        span,
        format!("this {what} cannot be compiled: {error}"),
        "split long alternatives into several patterns, or shorten `{n,m}` repeats",
    )
}
