//! The crisis-language screen: every text a person sends is checked here before anything else.
//!
//! The patterns live in `dialogues/crisis-language.toml`, a file a coach can read and edit (its
//! top comment explains the format). [`PatternScreen::parse`] compiles it once, with precise errors;
//! [`PatternScreen::check`] then normalises a text (see [`normalise`]), removes the `ignore`
//! phrases and reports the most serious concern found, if any. Pure: no I/O, never panics.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::Range;

use std::sync::{Arc, OnceLock};

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::pool::Pool;
use regex_automata::{Input, MatchKind, PatternSet};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// What a message may be about, in priority order: self-harm first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConcernKind {
    SelfHarm,
    Violence,
    Abuse,
}

impl ConcernKind {
    /// Every kind, most serious first.
    pub const ALL: [ConcernKind; 3] = [
        ConcernKind::SelfHarm,
        ConcernKind::Violence,
        ConcernKind::Abuse,
    ];

    /// The kind's name, as written in the pattern file.
    pub fn as_str(self) -> &'static str {
        match self {
            ConcernKind::SelfHarm => "self-harm",
            ConcernKind::Violence => "violence",
            ConcernKind::Abuse => "abuse",
        }
    }
}

/// How sure a match is: `Clear` means the safety message at once, `Unsure` a gentle question first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Certainty {
    Clear,
    Unsure,
}

impl Certainty {
    /// Both, the surer first.
    pub const ALL: [Certainty; 2] = [Certainty::Clear, Certainty::Unsure];

    /// The list's name, as written in the pattern file.
    pub fn as_str(self) -> &'static str {
        match self {
            Certainty::Clear => "clear",
            Certainty::Unsure => "unsure",
        }
    }
}

/// One concern found in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concern {
    pub kind: ConcernKind,
    pub certainty: Certainty,
}

impl Concern {
    /// Lower is more serious: clear before unsure, then self-harm, violence, abuse.
    fn rank(self) -> (u8, ConcernKind) {
        let certainty = match self.certainty {
            Certainty::Clear => 0,
            Certainty::Unsure => 1,
        };
        (certainty, self.kind)
    }
}

/// One problem in the pattern file: where (a byte range of the source), what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ScreenError {
    pub span: Range<usize>,
    pub message: String,
    pub help: Option<String>,
}

impl ScreenError {
    fn new(span: Range<usize>, message: impl Into<String>, help: impl Into<String>) -> Self {
        ScreenError {
            span,
            message: message.into(),
            help: Some(help.into()),
        }
    }
}

/// The compiled patterns. Build once with [`PatternScreen::parse`], then [`check`](Self::check)
/// every message.
#[derive(Clone)]
pub struct PatternScreen {
    /// Every ignore phrase in one alternation; `None` when the file has none.
    ignore: Option<Regex>,
    /// Every clear and unsure pattern of every kind, scanned in one pass.
    patterns: Arc<KindPatterns>,
    /// The concern of each pattern in `patterns`, by index.
    concerns: Vec<Concern>,
}

impl std::fmt::Debug for PatternScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PatternScreen({} patterns)", self.concerns.len())
    }
}

type CachePool = Pool<Cache, Box<dyn Fn() -> Cache + Send + Sync>>;

/// The kinds' patterns as forward lazy DFAs, which report every pattern that matches. Only
/// "which patterns match" is ever asked, so nothing else is built: no reverse automaton, no
/// prefilter. The patterns are split in halves compiled side by side, which keeps loading the
/// folder fast (compiling them is most of its time) and memory small.
struct KindPatterns {
    parts: Vec<Part>,
    /// The patterns, for the fallback.
    sources: Vec<String>,
    /// A full regex set, built only if a lazy DFA ever gives up on a text (they are configured
    /// not to, so this is a belt and braces: a concern must never be missed for an error).
    fallback: OnceLock<Option<RegexSet>>,
}

/// Some of the patterns, from `first` on, as one lazy DFA.
struct Part {
    first: usize,
    dfa: Arc<DFA>,
    /// A scratch cache per thread that searches at once.
    caches: CachePool,
}

/// How many DFAs the patterns are split into, each compiled on its own thread.
const PARTS: usize = 2;

impl KindPatterns {
    fn build(patterns: &[String]) -> Result<KindPatterns, String> {
        let size = patterns.len().div_ceil(PARTS).max(1);
        let parts = std::thread::scope(|scope| {
            let compiling: Vec<_> = patterns
                .chunks(size)
                .enumerate()
                .map(|(index, chunk)| (index * size, scope.spawn(|| build_dfa(chunk))))
                .collect();
            compiling
                .into_iter()
                .map(|(first, handle)| {
                    let dfa = handle
                        .join()
                        .map_err(|_| "compiling failed unexpectedly".to_owned())??;
                    let dfa = Arc::new(dfa);
                    let for_caches = Arc::clone(&dfa);
                    let caches: CachePool = Pool::new(Box::new(move || for_caches.create_cache()));
                    Ok(Part { first, dfa, caches })
                })
                .collect::<Result<Vec<_>, String>>()
        })?;
        Ok(KindPatterns {
            parts,
            sources: patterns.to_vec(),
            fallback: OnceLock::new(),
        })
    }

    /// The indices of every pattern that matches `text`.
    fn matching(&self, text: &str) -> Vec<usize> {
        let mut matching = Vec::new();
        for part in &self.parts {
            let mut found = PatternSet::new(part.dfa.pattern_len());
            let searched = {
                let mut cache = part.caches.get();
                part.dfa
                    .try_which_overlapping_matches(&mut cache, &Input::new(text), &mut found)
            };
            if searched.is_err() {
                return self
                    .fallback
                    .get_or_init(|| build_set(&self.sources).ok())
                    .as_ref()
                    .map(|set| set.matches(text).into_iter().collect())
                    .unwrap_or_default();
            }
            matching.extend(found.iter().map(|pattern| part.first + pattern.as_usize()));
        }
        matching
    }
}

fn build_dfa(patterns: &[String]) -> Result<DFA, String> {
    DFA::builder()
        .configure(
            DFA::config()
                .match_kind(MatchKind::All)
                .cache_capacity(CACHE_CAPACITY),
        )
        .thompson(
            thompson::Config::new()
                .which_captures(thompson::WhichCaptures::None)
                .nfa_size_limit(Some(SIZE_LIMIT)),
        )
        .build_many(patterns)
        .map_err(|error| error.to_string())
}

/// The table of phrases removed before matching, and its one list.
const IGNORE_TABLE: &str = "ignore";
const IGNORE_LIST: &str = "phrases";
/// Patterns are compiled with room to spare: the default limits suit one-off regexes, not a set
/// of a few hundred.
const SIZE_LIMIT: usize = 64 * 1024 * 1024;
/// The most memory one lazy DFA cache may take; it grows to this only with use.
const CACHE_CAPACITY: usize = 4 * 1024 * 1024;
/// A pattern that matches any of these would flag (or hide) nearly every message.
const BLAND_TEXTS: [&str; 5] = ["", "a", "ok", "ok thanks", "1"];

type PatternList = Spanned<Vec<Spanned<String>>>;
type TableSource = BTreeMap<Spanned<String>, PatternList>;
type FileSource = BTreeMap<Spanned<String>, Spanned<TableSource>>;

impl PatternScreen {
    /// Parses the TOML source of `dialogues/crisis-language.toml`. On failure, every problem is
    /// reported at once, in file order, each with the byte span of the pattern or name at fault
    /// and why (the regex error, an unknown kind or list, an empty pattern, ...).
    pub fn parse(source: &str) -> Result<PatternScreen, Vec<ScreenError>> {
        let file: FileSource = toml::from_str(source).map_err(|error| {
            vec![ScreenError::new(
                error.span().unwrap_or(0..0),
                error.message().trim().to_owned(),
                "the comment at the top of dialogues/crisis-language.toml shows the format",
            )]
        })?;

        let mut problems = Vec::new();
        let mut seen: BTreeMap<&str, Range<usize>> = BTreeMap::new();
        // Every pattern that passed the cheap checks; `None` marks an ignore phrase.
        let mut patterns: Vec<(Option<Concern>, &Spanned<String>)> = Vec::new();
        let mut kinds_seen = Vec::new();

        // In file order, so "written twice" points at the later line.
        let mut tables: Vec<_> = file.iter().collect();
        tables.sort_by_key(|(name, _)| name.span().start);
        for (table_name, table) in tables {
            let name = table_name.get_ref().as_str();
            let mut lists: Vec<_> = table.get_ref().iter().collect();
            lists.sort_by_key(|(name, _)| name.span().start);
            let kind = ConcernKind::ALL.into_iter().find(|k| k.as_str() == name);
            if kind.is_none() && name != IGNORE_TABLE {
                problems.push(unknown_kind(table_name));
                continue;
            }
            let mut clear_count = 0;
            for (list_name, list) in lists {
                let concern = match kind {
                    None if list_name.get_ref() == IGNORE_LIST => None,
                    None => {
                        problems.push(unknown_list(list_name, IGNORE_TABLE, &[IGNORE_LIST]));
                        continue;
                    }
                    Some(kind) => {
                        let Some(certainty) = Certainty::ALL
                            .into_iter()
                            .find(|c| c.as_str() == list_name.get_ref())
                        else {
                            problems.push(unknown_list(list_name, name, &["clear", "unsure"]));
                            continue;
                        };
                        if certainty == Certainty::Clear {
                            clear_count += list.get_ref().len();
                        }
                        Some(Concern { kind, certainty })
                    }
                };
                for pattern in list.get_ref() {
                    if let Some(problem) = check_text(source, pattern, &mut seen) {
                        problems.push(problem);
                    } else {
                        patterns.push((concern, pattern));
                    }
                }
            }
            if let Some(kind) = kind {
                kinds_seen.push(kind);
                if clear_count == 0 {
                    problems.push(ScreenError::new(
                        table_name.span(),
                        format!("[{name}] has no clear patterns"),
                        "add `clear = [...]` with at least one pattern: without one, this kind \
                         never gets the safety message at once",
                    ));
                }
            }
        }
        for kind in ConcernKind::ALL {
            if !kinds_seen.contains(&kind) {
                problems.push(ScreenError::new(
                    0..0,
                    format!("the file has no [{}] table", kind.as_str()),
                    format!(
                        "add [{}] with `clear = [...]` and `unsure = [...]`: without it, \
                         nothing is screened for this kind",
                        kind.as_str()
                    ),
                ));
            }
        }

        let (ignore, kinds): (Vec<_>, Vec<_>) =
            patterns.iter().partition(|(concern, _)| concern.is_none());
        let rewritten = |list: &[&(Option<Concern>, &Spanned<String>)]| -> Vec<String> {
            list.iter()
                .map(|(_, pattern)| ascii_words(pattern.get_ref()))
                .collect()
        };
        let (ignore_patterns, kind_patterns) = (rewritten(&ignore), rewritten(&kinds));
        let compiled = if problems.is_empty() {
            // One compilation for all: fast. Only when it fails are patterns compiled one by
            // one, to say which is at fault. The ignore phrases compile beside the kinds.
            std::thread::scope(|scope| {
                let ignore = scope.spawn(|| build_alternation(&ignore_patterns).ok());
                let kinds = KindPatterns::build(&kind_patterns).ok();
                ignore.join().ok().flatten().zip(kinds)
            })
        } else {
            None
        };
        let Some((ignore_regex, kind_set)) = compiled else {
            for (_, pattern) in &patterns {
                problems.extend(check_regex(pattern));
            }
            if problems.is_empty() {
                problems.push(ScreenError::new(
                    0..source.len(),
                    "the patterns together are too big to compile",
                    "split long alternatives, shorten `{n,m}` repeats, or remove unused patterns",
                ));
            }
            problems.sort_by_key(|problem| (problem.span.start, problem.span.end));
            return Err(problems);
        };
        // A pattern that matches a bland text would flag (or hide) nearly every message.
        let mut reported = vec![false; kinds.len()];
        for bland in BLAND_TEXTS {
            for index in kind_set.matching(bland) {
                if !std::mem::replace(&mut reported[index], true) {
                    problems.push(matches_anything(kinds[index].1.span(), bland));
                }
            }
        }
        if let Some(alternation) = &ignore_regex
            && BLAND_TEXTS.iter().any(|bland| alternation.is_match(bland))
        {
            // Rare: only now is each phrase compiled alone, to say which one it is.
            for (_, pattern) in &ignore {
                problems.extend(check_regex(pattern));
            }
        }
        if !problems.is_empty() {
            problems.sort_by_key(|problem| (problem.span.start, problem.span.end));
            return Err(problems);
        }
        Ok(PatternScreen {
            ignore: ignore_regex,
            patterns: Arc::new(kind_set),
            concerns: kinds.iter().filter_map(|(concern, _)| *concern).collect(),
        })
    }

    /// The most serious concern in the text, if any (clear beats unsure; when several kinds
    /// are clear, self-harm > violence > abuse).
    pub fn check(&self, text: &str) -> Option<Concern> {
        self.check_screened(&self.screened(text))
    }

    /// [`PatternScreen::check`] of a text already [`screened`](Self::screened).
    pub fn check_screened(&self, screened: &str) -> Option<Concern> {
        self.patterns
            .matching(screened)
            .into_iter()
            .map(|index| self.concerns[index])
            .min_by_key(|concern| concern.rank())
    }

    /// The text as the patterns see it: normalised, with the ignore phrases taken out.
    pub fn screened(&self, text: &str) -> String {
        let text = normalise(text);
        match &self.ignore {
            Some(ignore) if ignore.is_match(&text) => normalise(&ignore.replace_all(&text, " ")),
            _ => text,
        }
    }
}

/// The text as patterns see it: lowercase; apostrophes (straight or curly), zero-width and
/// direction marks and combining accents removed, so "don’t" reads "dont"; three or more of the
/// same letter in a row cut to one ("diiie" reads "die"); every other run of characters that are
/// not letters or digits (spaces, punctuation, emoji, control characters) made one space; no
/// space at either end.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    // The last letter written and how many times in a row it was seen.
    let mut run: Option<(char, usize)> = None;
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_removed(c) {
            continue;
        }
        if !c.is_alphanumeric() {
            space = !out.is_empty();
            run = None;
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        match run {
            Some((last, count)) if last == c && c.is_alphabetic() => {
                run = Some((c, count + 1));
                if count + 1 == 3 {
                    // "iii": drop the two already written, keep one.
                    out.pop();
                } else if count + 1 > 3 {
                    continue;
                } else {
                    out.push(c);
                }
            }
            _ => {
                run = Some((c, 1));
                out.push(c);
            }
        }
    }
    out
}

/// Characters that vanish without leaving a space: apostrophes, invisible formatting and
/// combining accents.
fn is_removed(c: char) -> bool {
    matches!(
        c,
        '\'' | '`' | '\u{b4}' | '\u{2018}' | '\u{2019}' | '\u{201b}' | '\u{2032}' | '\u{2bc}'
            | '\u{ff07}'
            | '\u{ad}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
            | '\u{300}'..='\u{36f}'
            | '\u{fe00}'..='\u{fe0f}'
    )
}

/// Compiles a pattern as written in the file.
fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    build(&ascii_words(pattern))
}

/// Compiles a pattern already rewritten by [`ascii_words`].
fn build(pattern: &str) -> Result<Regex, regex::Error> {
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
fn ascii_words(pattern: &str) -> String {
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
fn check_text<'a>(
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
            let line = line_of(source, first.get().start);
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
fn has_capital_letter(pattern: &str) -> bool {
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
fn check_regex(pattern: &Spanned<String>) -> Option<ScreenError> {
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

fn matches_anything(span: Range<usize>, bland: &str) -> ScreenError {
    ScreenError::new(
        span,
        format!("this pattern matches almost any message (it matches {bland:?})"),
        "make sure it needs at least one word: `?`, `*` and `{0,n}` can match nothing",
    )
}

/// The ignore phrases as one alternation (`None` when there are none).
fn build_alternation(patterns: &[String]) -> Result<Option<Regex>, regex::Error> {
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

fn build_set(patterns: &[String]) -> Result<RegexSet, regex::Error> {
    RegexSetBuilder::new(patterns)
        .case_insensitive(false)
        .size_limit(SIZE_LIMIT)
        .build()
}

fn unknown_kind(name: &Spanned<String>) -> ScreenError {
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

fn unknown_list(name: &Spanned<String>, table: &str, allowed: &[&str]) -> ScreenError {
    let mut help = did_you_mean(name.get_ref(), allowed);
    help.push_str(&format!("[{table}] holds only: {}", allowed.join(", ")));
    ScreenError::new(
        name.span(),
        format!("unknown list \"{}\" in [{table}]", name.get_ref()),
        help,
    )
}

fn did_you_mean(name: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= 3)
        .min()
        .map(|(_, candidate)| format!("did you mean \"{candidate}\"? "))
        .unwrap_or_default()
}

fn too_big(span: Range<usize>, what: &str, error: &regex::Error) -> ScreenError {
    ScreenError::new(
        span,
        format!("this {what} cannot be compiled: {error}"),
        "split long alternatives into several patterns, or shorten `{n,m}` repeats",
    )
}

fn line_of(source: &str, offset: usize) -> usize {
    source
        .get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use proptest::prelude::*;

    use super::*;

    /// The shipped pattern file.
    const SHIPPED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dialogues/crisis-language.toml"
    ));

    static SCREEN: LazyLock<PatternScreen> =
        LazyLock::new(|| match PatternScreen::parse(SHIPPED) {
            Ok(screen) => screen,
            Err(problems) => panic!("dialogues/crisis-language.toml has problems: {problems:#?}"),
        });

    /// A small valid file; `extra` is appended to the [abuse] table.
    fn small(extra: &str) -> String {
        format!(
            "[ignore]\nphrases = ['this is killing me', 'dying to']\n\n\
             [self-harm]\nclear = ['want to die', 'kms']\nunsure = ['no point anymore']\n\n\
             [violence]\nclear = ['hit me']\nunsure = ['(has|got) a knife']\n\n\
             [abuse]\nclear = ['afraid of him']\nunsure = ['checks my phone']\n{extra}"
        )
    }

    #[test]
    fn a_capital_letter_is_reported_since_it_could_never_match() {
        assert!(has_capital_letter("Kill"));
        assert!(!has_capital_letter(r"\bkill\W\p{Greek}\pL"));
        let found = PatternScreen::parse(&small("")).expect("the small file is valid");
        assert!(
            found.check("I am AFRAID of him").is_some(),
            "messages are lowercased"
        );
        let bad = small("").replace("'hit me'", "'Hit me'");
        let problems = errors(&bad);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("capital letter"));
        assert_eq!(&bad[problems[0].span.clone()], "'Hit me'");
    }

    fn errors(source: &str) -> Vec<ScreenError> {
        match PatternScreen::parse(source) {
            Ok(_) => panic!("expected problems in:\n{source}"),
            Err(problems) => problems,
        }
    }

    /// The byte range of the first occurrence of `needle` in `source`.
    fn span_of(source: &str, needle: &str) -> Range<usize> {
        let start = source.find(needle).expect("needle in source");
        start..start + needle.len()
    }

    fn concern(kind: ConcernKind, certainty: Certainty) -> Option<Concern> {
        Some(Concern { kind, certainty })
    }

    #[test]
    fn a_bad_regex_is_reported_at_its_pattern_with_the_reason() {
        let source = small("").replace("'kms'", "'kill (myself'");
        let problems = errors(&source);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].span, span_of(&source, "'kill (myself'"));
        assert_eq!(
            problems[0].message,
            "this pattern is not a valid regular expression: unclosed group"
        );
        let help = problems[0].help.as_deref().unwrap_or_default();
        assert!(
            help.contains("kill (myself"),
            "the help shows the pattern as written: {help}"
        );
    }

    #[test]
    fn an_unknown_kind_is_reported_at_its_name_with_a_suggestion() {
        let source = small("").replace("[self-harm]", "[self-ham]");
        let problems = errors(&source);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        // Sorted by position: the missing table (start of file) first, then the unknown one.
        assert_eq!(problems[0].span, 0..0);
        assert_eq!(problems[0].message, "the file has no [self-harm] table");
        assert_eq!(problems[1].span, span_of(&source, "self-ham"));
        assert_eq!(problems[1].message, "unknown kind \"self-ham\"");
        let help = problems[1].help.as_deref().unwrap_or_default();
        assert!(help.starts_with("did you mean \"self-harm\"?"), "{help}");
    }

    #[test]
    fn an_unknown_list_is_reported_at_its_name() {
        let source = small("sure = ['scared of her']\n");
        let problems = errors(&source);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        let start = span_of(&source, "\nsure").start + 1;
        assert_eq!(problems[0].span, start..start + "sure".len());
        assert_eq!(problems[0].message, "unknown list \"sure\" in [abuse]");
        let help = problems[0].help.as_deref().unwrap_or_default();
        assert!(help.contains("did you mean \"unsure\"?"), "{help}");

        let source = small("").replace("phrases =", "phrase =");
        let problems = errors(&source);
        assert_eq!(problems[0].message, "unknown list \"phrase\" in [ignore]");
        assert_eq!(problems[0].span, span_of(&source, "phrase"));
    }

    #[test]
    fn patterns_that_could_never_match_or_would_match_everything_are_refused() {
        let cases = [
            ("'  '", "this pattern is empty"),
            (
                "'(kill)?'",
                "this pattern matches almost any message (it matches \"\")",
            ),
            (
                "'\\b(ok)?\\b'",
                "this pattern matches almost any message (it matches \"a\")",
            ),
        ];
        for (pattern, expected) in cases {
            let source = small("").replace("'kms'", pattern);
            let problems = errors(&source);
            assert_eq!(problems.len(), 1, "{pattern}: {problems:#?}");
            assert_eq!(problems[0].span, span_of(&source, pattern), "{pattern}");
            assert!(
                problems[0].message.starts_with(expected),
                "{pattern}: {problems:#?}"
            );
        }
        // Apostrophes are removed from messages, so a pattern with one never matches.
        let source = small("").replace("'kms'", "\"don’t want to live\"");
        let problems = errors(&source);
        assert_eq!(problems[0].span, span_of(&source, "\"don’t want to live\""));
        assert!(problems[0].message.contains("apostrophe"), "{problems:#?}");
    }

    #[test]
    fn a_pattern_written_twice_points_at_the_first() {
        let source = small("").replace("'checks my phone'", "'want to die'");
        let problems = errors(&source);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        let second = source.rfind("'want to die'").unwrap_or_default();
        assert_eq!(problems[0].span, second..second + "'want to die'".len());
        assert_eq!(problems[0].message, "this pattern is written twice");
        assert_eq!(
            problems[0].help.as_deref(),
            Some("the first is on line 5; delete one")
        );
    }

    #[test]
    fn a_kind_without_clear_patterns_and_a_toml_slip_are_reported() {
        let source = small("").replace("clear = ['afraid of him']", "clear = []");
        let problems = errors(&source);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].message, "[abuse] has no clear patterns");
        assert_eq!(problems[0].span, span_of(&source, "abuse"));

        let source = small("").replace("'hit me']", "'hit me'");
        let problems = errors(&source);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].span.start > source.find("[violence]").unwrap_or(0));
        assert!(!problems[0].message.is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once_in_file_order() {
        let source = small("")
            .replace("'kms'", "'kms('")
            .replace("'hit me'", "''")
            .replace("'(has|got) a knife'", "'(knife)?'")
            .replace("[abuse]", "[abuze]");
        let problems = errors(&source);
        let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "the file has no [abuse] table",
                "this pattern is not a valid regular expression: unclosed group",
                "this pattern is empty, and an empty pattern would match every message",
                "this pattern matches almost any message (it matches \"\")",
                "unknown kind \"abuze\"",
            ]
        );
    }

    #[test]
    fn normalising_folds_case_apostrophes_punctuation_and_invisible_characters() {
        assert_eq!(
            normalise("I DON’T want…  to   DIE!!!"),
            "i dont want to die"
        );
        assert_eq!(normalise("don't == don‘t == don`t"), "dont dont dont");
        assert_eq!(normalise("  self-harm,\tagain\n\n"), "self harm again");
        assert_eq!(normalise("k\u{200b}ill my\u{ad}self"), "kill myself");
        assert_eq!(normalise("\u{202e}kms\u{202c} 😭😭 fr"), "kms fr");
        assert_eq!(normalise("i wanna diiiieeee"), "i wanna die");
        assert_eq!(
            normalise("killll myself, 1000 times"),
            "kil myself 1000 times"
        );
        assert_eq!(normalise("cafe\u{301} ÉTÉ"), "cafe été");
        assert_eq!(normalise("bell\u{7}\u{0}\u{1b}[0m"), "bell 0m");
        assert_eq!(normalise("أريد أن أموت"), "أريد أن أموت");
        assert_eq!(normalise(""), "");
        assert_eq!(normalise("?!…"), "");
    }

    #[test]
    fn ignore_phrases_are_cut_out_before_matching() {
        let screen = PatternScreen::parse(&small("")).unwrap_or_else(|p| panic!("{p:#?}"));
        assert_eq!(screen.check("this is killing me"), None);
        assert_eq!(screen.check("I'm dying to know"), None);
        assert_eq!(
            screen.check("this is killing me, i want to die"),
            concern(ConcernKind::SelfHarm, Certainty::Clear)
        );
        assert_eq!(
            screen.screened("This is KILLING me... i want to die"),
            "i want to die"
        );
    }

    #[test]
    fn clear_beats_unsure_then_self_harm_violence_abuse() {
        let screen = PatternScreen::parse(&small("")).unwrap_or_else(|p| panic!("{p:#?}"));
        use Certainty::*;
        use ConcernKind::*;
        assert_eq!(screen.check("he checks my phone"), concern(Abuse, Unsure));
        assert_eq!(
            screen.check("he checks my phone, he has a knife"),
            concern(Violence, Unsure)
        );
        assert_eq!(
            screen.check("no point anymore, he has a knife"),
            concern(SelfHarm, Unsure)
        );
        assert_eq!(
            screen.check("no point anymore. im afraid of him"),
            concern(Abuse, Clear)
        );
        assert_eq!(
            screen.check("im afraid of him, he hit me"),
            concern(Violence, Clear)
        );
        assert_eq!(
            screen.check("he hit me and i want to die"),
            concern(SelfHarm, Clear)
        );
        assert_eq!(screen.check("we had a lovely walk"), None);
        assert_eq!(screen.check("KMS"), concern(SelfHarm, Clear));
    }

    #[test]
    fn kinds_and_certainties_have_their_file_names() {
        let names: Vec<_> = ConcernKind::ALL.iter().map(|kind| kind.as_str()).collect();
        assert_eq!(names, ["self-harm", "violence", "abuse"]);
        for kind in ConcernKind::ALL {
            assert_eq!(
                toml::Value::try_from(kind).ok(),
                Some(toml::Value::from(kind.as_str()))
            );
        }
        for certainty in Certainty::ALL {
            let value = toml::Value::try_from(certainty).ok();
            assert_eq!(value, Some(toml::Value::from(certainty.as_str())));
        }
    }

    #[test]
    fn word_classes_are_rewritten_to_ascii_outside_and_inside_brackets() {
        assert_eq!(ascii_words(r"\bkms\b"), r"(?-u:\b)kms(?-u:\b)");
        assert_eq!(ascii_words(r"(\w+ ){0,3}"), "([0-9A-Za-z_]+ ){0,3}");
        assert_eq!(ascii_words(r"[\w ]\W"), "[0-9A-Za-z_ ][^0-9A-Za-z_]");
        assert_eq!(
            ascii_words(r"[]\w][^]\b]\\b\d"),
            r"[]0-9A-Za-z_][^]\b]\\b\d"
        );
        assert_eq!(ascii_words(r"[[a]\w]\w"), r"[[a]0-9A-Za-z_][0-9A-Za-z_]");
        assert_eq!(ascii_words("end\\"), "end\\");
    }

    #[test]
    fn odd_texts_never_panic() {
        let long = "i am fine, honestly. ".repeat(5_000);
        let texts = [
            "",
            "\u{0}\u{1}\u{7f}",
            "\u{202e}\u{2066}\u{200f}",
            "\u{301}\u{301}",
            "😭😭😭🙏🏽👨‍👩‍👧",
            "ﷺ ﷻ 𝕜𝕞𝕤",
            "\u{feff}\u{fffd}\u{10ffff}",
            &long,
        ];
        for text in texts {
            let _ = SCREEN.check(text);
        }
        assert_eq!(
            SCREEN.check(&format!("{long} i want to die")),
            concern(ConcernKind::SelfHarm, Certainty::Clear)
        );
    }

    proptest! {
        #[test]
        fn any_text_is_screened_without_panicking(text in any::<String>()) {
            let _ = SCREEN.check(&text);
            let normal = normalise(&text);
            prop_assert_eq!(normal.trim(), normal.as_str());
            prop_assert!(!normal.contains("  "));
        }

        #[test]
        fn any_source_is_parsed_without_panicking(source in "[\\[\\]a-z=' \\n(\\\\]{0,80}") {
            let _ = PatternScreen::parse(&source);
        }
    }
}
