//! The crisis-language screen: every text a person sends is checked here before anything else.
//!
//! The patterns live in `dialogues/crisis-language.toml`, a file a coach can read and edit (its
//! top comment explains the format). [`PatternScreen::parse`] compiles it once, with precise errors;
//! [`PatternScreen::check`] then normalises a text (see [`normalise`]), removes the `ignore`
//! phrases and reports the most serious concern found, if any. Pure: no I/O, never panics.

mod file;
mod literals;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ops::Range;

use std::sync::{Arc, OnceLock};

use aho_corasick::AhoCorasick;
use regex::{Regex, RegexSet};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::pool::Pool;
use regex_automata::{Input, MatchError, MatchKind, PatternSet};
use toml::Spanned;

use self::file::{
    ascii_words, build_alternation, build_set, check_regex, check_text, matches_anything,
    unknown_kind, unknown_list,
};
use super::concern::{Certainty, Concern, ConcernKind};
use super::normalise::normalise;

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
/// "which patterns match" is ever asked, so nothing else is built: no reverse automaton. A
/// pattern with telling literals (see [`literals`]) has a small DFA of its own, read only when
/// one of its literals is in the text, which one scan for all the literals finds; the rest are
/// read for every text, in small groups (see [`PLAIN_PART`]).
struct KindPatterns {
    /// Groups of the patterns read for every text.
    always: Vec<Part>,
    /// One part for each pattern read only when one of its literals is in the text.
    telling: Vec<Part>,
    /// Every telling literal in one automaton (`None` when no pattern has any).
    literals: Option<AhoCorasick>,
    /// For each literal of `literals`, by its id, the parts of `telling` it calls for.
    callers: Vec<Vec<usize>>,
    /// The patterns, for the fallback.
    sources: Vec<String>,
    /// A full regex set, built only if a lazy DFA ever gives up on a text (they are configured
    /// not to, so this is a belt and braces: a concern must never be missed for an error).
    fallback: OnceLock<Option<RegexSet>>,
}

/// Some of the patterns (`indices`, into the kind's list) as one lazy DFA.
struct Part {
    indices: Vec<usize>,
    dfa: Arc<DFA>,
    /// A scratch cache per thread that searches at once.
    caches: CachePool,
}

impl Part {
    fn new(indices: Vec<usize>, dfa: DFA) -> Part {
        let dfa = Arc::new(dfa);
        let for_caches = Arc::clone(&dfa);
        let caches: CachePool = Pool::new(Box::new(move || for_caches.create_cache()));
        Part {
            indices,
            dfa,
            caches,
        }
    }

    /// Adds the index of every pattern of this part that matches `text` to `matching`.
    fn read(&self, text: &str, matching: &mut Vec<usize>) -> Result<(), MatchError> {
        let mut found = PatternSet::new(self.dfa.pattern_len());
        {
            let mut cache = self.caches.get();
            self.dfa
                .try_which_overlapping_matches(&mut cache, &Input::new(text), &mut found)?;
        }
        matching.extend(
            found
                .iter()
                .filter_map(|pattern| self.indices.get(pattern.as_usize()).copied()),
        );
        Ok(())
    }
}

impl KindPatterns {
    fn build(patterns: &[String]) -> Result<KindPatterns, String> {
        let plan = partition(patterns);
        let jobs: Vec<Vec<&str>> = plan
            .always
            .iter()
            .map(Vec::as_slice)
            .chain(
                plan.telling
                    .iter()
                    .map(|(index, _)| std::slice::from_ref(index)),
            )
            .map(|indices| indices.iter().map(|&i| patterns[i].as_str()).collect())
            .collect();
        let mut dfas = compile_all(&jobs)?.into_iter();
        let always = plan
            .always
            .into_iter()
            .zip(dfas.by_ref())
            .map(|(indices, dfa)| Part::new(indices, dfa))
            .collect();
        // Each literal once, with every part it calls for.
        let mut calls: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
        let mut telling = Vec::new();
        for ((index, set), dfa) in plan.telling.into_iter().zip(dfas) {
            let part = telling.len();
            telling.push(Part::new(vec![index], dfa));
            for literal in set {
                calls.entry(literal).or_default().push(part);
            }
        }
        let literals = if calls.is_empty() {
            None
        } else {
            Some(AhoCorasick::new(calls.keys()).map_err(|error| error.to_string())?)
        };
        let callers = calls.into_values().collect();
        Ok(KindPatterns {
            always,
            telling,
            literals,
            callers,
            sources: patterns.to_vec(),
            fallback: OnceLock::new(),
        })
    }

    /// The indices of every pattern that matches `text`.
    fn matching(&self, text: &str) -> Vec<usize> {
        let mut matching = Vec::new();
        let mut wanted = vec![false; self.telling.len()];
        if let Some(literals) = &self.literals {
            for found in literals.find_overlapping_iter(text) {
                for &part in &self.callers[found.pattern().as_usize()] {
                    wanted[part] = true;
                }
            }
        }
        let called = self
            .telling
            .iter()
            .zip(&wanted)
            .filter_map(|(part, &wanted)| wanted.then_some(part));
        for part in self.always.iter().chain(called) {
            if part.read(text, &mut matching).is_err() {
                return self
                    .fallback
                    .get_or_init(|| build_set(&self.sources).ok())
                    .as_ref()
                    .map(|set| set.matches(text).into_iter().collect())
                    .unwrap_or_default();
            }
        }
        matching
    }
}

/// Whether `pattern` has a counted repetition (`{0,8}`): a gap of some words, which a lazy DFA
/// sharing it with many other patterns has to track at every position at once.
fn gappy(pattern: &str) -> bool {
    pattern
        .as_bytes()
        .windows(2)
        .any(|pair| pair[0] == b'{' && pair[1].is_ascii_digit())
}

/// Which patterns are read how.
struct Plan {
    /// Groups of the patterns without telling literals, each to be one lazy DFA: the plain
    /// ones [`PLAIN_PART`] at a time, the gappy ones [`GAPPY_PART`] at a time.
    always: Vec<Vec<usize>>,
    /// Each pattern with telling literals, and its literals.
    telling: Vec<(usize, Vec<Vec<u8>>)>,
}

fn partition(patterns: &[String]) -> Plan {
    let mut telling = Vec::new();
    let (mut gaps, mut plain) = (Vec::new(), Vec::new());
    for (index, pattern) in patterns.iter().enumerate() {
        match literals::required_literals(pattern) {
            Some(set) => telling.push((index, set)),
            None if gappy(pattern) => gaps.push(index),
            None => plain.push(index),
        }
    }
    let always = plain
        .chunks(PLAIN_PART)
        .chain(gaps.chunks(GAPPY_PART))
        .map(<[usize]>::to_vec)
        .collect();
    Plan { always, telling }
}

/// Compiles each job's patterns into one lazy DFA, the jobs shared out over a few threads.
fn compile_all(jobs: &[Vec<&str>]) -> Result<Vec<DFA>, String> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 4);
    let mut compiled: Vec<Option<Result<DFA, String>>> = Vec::new();
    compiled.resize_with(jobs.len(), || None);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    jobs.iter()
                        .enumerate()
                        .skip(thread)
                        .step_by(threads)
                        .map(|(at, job)| (at, build_dfa(job)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            let done = handle
                .join()
                .map_err(|_| "compiling failed unexpectedly".to_owned())?;
            for (at, dfa) in done {
                compiled[at] = Some(dfa);
            }
        }
        Ok::<(), String>(())
    })?;
    compiled
        .into_iter()
        .map(|dfa| dfa.unwrap_or_else(|| Err("a pattern group was not compiled".to_owned())))
        .collect()
}

fn build_dfa(patterns: &[&str]) -> Result<DFA, String> {
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
/// How many plain patterns, and how many gappy ones, of those read for every text share one lazy
/// DFA. A lazy DFA builds its states as text meets them, and one state is a set of positions in
/// every pattern at once: with a few hundred patterns in two DFAs, everyday text of every kind
/// kept meeting new states, the caches kept filling and clearing, and the screen took about 290
/// µs a message. Few patterns are read for every text now (most are called by their literals),
/// but the groups keep any DFA small.
const PLAIN_PART: usize = 50;
const GAPPY_PART: usize = 2;
/// The most memory one lazy DFA cache may take; it grows to this only with use.
const CACHE_CAPACITY: usize = 512 * 1024;
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
    pub(crate) fn check_screened(&self, screened: &str) -> Option<Concern> {
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
