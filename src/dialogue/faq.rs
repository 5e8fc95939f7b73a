//! Matching what someone typed against the questions people often ask (`dialogues/faq.toml`;
//! the types are in `model`): normalising words, weighing them and ranking the questions. No I/O.
//!
//! A text becomes a list of *terms*: lowercase words without apostrophes ("won't" → "wont"),
//! filler words dropped ("not *even* trying"), domain synonyms folded into one term ("cheated",
//! "affair", "unfaithful" → `cheat`; "counsellor", "therapist" → `therapy`), irregular verbs
//! brought to their base ("told" → "tell") and the rest roughly stemmed ("rebuilding" and
//! "rebuild" meet). Common words stay in the list, so that keywords of several words ("how long",
//! "over and over") can match in order, but only *content* terms count on their own.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use super::model::{Faq, Question, QuestionTerms};
use super::review::Words;

/// How many questions a typed message is offered at most.
pub(crate) const MAX_SUGGESTIONS: usize = 3;

/// What a term found only in a question's answer counts, against 1 in its question line or
/// keywords: answers are long and general, but their words still point the right way.
const ANSWER_WEIGHT: f64 = 0.25;
/// The least a keyword of several words adds when the text holds it (see [`Entry::score`]).
const PHRASE_WEIGHT: f64 = 2.0;
/// How many other terms may stand inside a keyword phrase that has a content term in it
/// ("doesn't want counselling" matches "doesn't want to do counselling").
const PHRASE_GAP: usize = 2;
/// The least score a text that reads like a question needs to be offered a question.
const QUESTION_THRESHOLD: f64 = 1.0;
/// Behind a question's best match (which needs [`QUESTION_THRESHOLD`]), the least score of
/// the others offered beside it.
const QUESTION_FILL: f64 = 0.3;
/// The least score a plain statement needs: one everyday word in common is not enough, so
/// "I had a long day" finds nothing while "he's not even trying" still finds its answer.
const STATEMENT_THRESHOLD: f64 = 3.0;

impl Faq {
    /// The question numbered `number` (from 1) as `/faq N` names it.
    pub(crate) fn numbered(&self, number: usize) -> Option<&Question> {
        number
            .checked_sub(1)
            .and_then(|index| self.questions.get(index))
    }

    pub fn by_id(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|question| question.id == id)
    }

    /// The questions that best match `text`, best first (ties to the earlier question), at
    /// most [`MAX_SUGGESTIONS`]; empty when none scores enough. A text that reads like a
    /// question needs [`QUESTION_THRESHOLD`], a plain statement [`STATEMENT_THRESHOLD`]; see
    /// [`Entry::score`] for the score.
    pub fn suggest(&self, text: &str) -> Vec<&Question> {
        let asked = Terms::of(text);
        if asked.is_empty() {
            return Vec::new();
        }
        let entries: Vec<Entry<'_>> = self.questions.iter().map(Entry::of).collect();
        let rarities: BTreeMap<&str, f64> = asked
            .content()
            .map(|term| (term, rarity(term, &entries)))
            .collect();
        let threshold = if looks_like_question(text) {
            QUESTION_THRESHOLD
        } else {
            STATEMENT_THRESHOLD
        };
        let mut scored: Vec<(f64, usize, &Question)> = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| (entry.score(&asked, &rarities), index, entry.question))
            .filter(|(score, _, _)| *score > 0.0)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        // The best must clear the threshold; behind it, a question also offers the next best
        // that share a meaningful word, so a close second is a tap away.
        match scored.first() {
            Some((best, ..)) if *best >= threshold => {}
            _ => return Vec::new(),
        }
        let floor = if threshold == QUESTION_THRESHOLD {
            QUESTION_FILL
        } else {
            threshold
        };
        scored
            .into_iter()
            .filter(|(score, _, _)| *score >= floor)
            .take(MAX_SUGGESTIONS)
            .map(|(_, _, question)| question)
            .collect()
    }
}

/// Whether `text` reads like a question: a question mark anywhere, a question word opening a
/// sentence ("I found his phone. Is this normal"), or a "how", "what", "why"... word opening a
/// later part of one ("ok we survived, now what, how do we protect this").
pub(crate) fn looks_like_question(text: &str) -> bool {
    const OPENERS: &[&str] = &[
        "how", "what", "why", "when", "where", "who", "which", "can", "could", "should", "is",
        "are", "do", "does", "will", "would", "am", "was", "did", "shall", "whats", "hows", "whys",
        "wheres", "whos",
    ];
    const LATER_OPENERS: &[&str] = &[
        "how", "what", "why", "when", "where", "who", "which", "should", "whats", "hows", "whys",
        "wheres", "whos",
    ];
    text.contains('?')
        || text.split(['.', '!', '\n']).any(|sentence| {
            sentence
                .split([',', ';', ':'])
                .enumerate()
                .any(|(index, part)| {
                    let openers = if index == 0 { OPENERS } else { LATER_OPENERS };
                    Words::of(part)
                        .first()
                        .is_some_and(|word| openers.contains(&word.replace('\'', "").as_str()))
                })
        })
}

/// One FAQ question with its words read into terms for matching (read once per question and
/// kept beside it, not on every typed message).
struct Entry<'q> {
    question: &'q Question,
    terms: &'q QuestionTerms,
}

impl<'q> Entry<'q> {
    fn of(question: &'q Question) -> Entry<'q> {
        Entry {
            question,
            terms: question.terms.get_or_init(|| terms_of(question)),
        }
    }

    /// Whether the question's line, keywords or answer hold `term`.
    fn holds(&self, term: &str) -> bool {
        self.terms.core.contains(term) || self.terms.answer.contains(term)
    }

    /// How well the text (`asked`) matches this question:
    ///
    /// - each content term of the text adds its rarity (see [`rarity`]) when the question line
    ///   or a keyword holds it, and [`ANSWER_WEIGHT`] of it when only the answer does;
    /// - each keyword phrase found in the text adds [`PHRASE_WEIGHT`] times half the rarity of
    ///   its content terms, and at least [`PHRASE_WEIGHT`]: a phrase is strong evidence;
    /// - the sum grows by the share of the question line's content terms the text holds (up
    ///   to double when it holds them all), so a text that echoes the question itself wins
    ///   over one that only shares a keyword or two.
    ///
    /// `rarities` holds the rarity of each content term of the text.
    fn score(&self, asked: &Terms, rarities: &BTreeMap<&str, f64>) -> f64 {
        let rarity_of = |term: &str| rarities.get(term).copied().unwrap_or(0.0);
        let words: f64 = rarities
            .iter()
            .map(|(&term, &rare)| {
                if self.terms.core.contains(term) {
                    rare
                } else if self.terms.answer.contains(term) {
                    ANSWER_WEIGHT * rare
                } else {
                    0.0
                }
            })
            .sum();
        let phrases: f64 = self
            .terms
            .phrases
            .iter()
            .filter(|phrase| asked.mention(phrase))
            .map(|phrase| {
                let rare: f64 = phrase
                    .iter()
                    .filter(|term| is_content(term))
                    .map(|term| rarity_of(term.as_str()))
                    .sum();
                PHRASE_WEIGHT * (rare / 2.0).max(1.0)
            })
            .sum();
        let echoed = rarities
            .keys()
            .filter(|term| self.terms.line.contains(**term))
            .count();
        let coverage = if self.terms.line.is_empty() {
            0.0
        } else {
            as_float(echoed) / as_float(self.terms.line.len())
        };
        (words + phrases) * (1.0 + coverage)
    }
}

/// A question's line, keywords and answer read into terms; keyword phrases of several terms
/// are matched as a whole (see [`Terms::is_phrase`]).
fn terms_of(question: &Question) -> QuestionTerms {
    let line = Terms::of(&question.question).into_content();
    let mut core = line.clone();
    let mut phrases: Vec<Vec<String>> = Vec::new();
    for keyword in &question.keywords {
        let terms = Terms::of(keyword);
        core.extend(terms.content().map(str::to_owned));
        if terms.is_phrase() && !phrases.contains(&terms.0) {
            phrases.push(terms.0);
        }
    }
    QuestionTerms {
        line,
        core,
        answer: Terms::of(&question.answer).into_content(),
        phrases,
    }
}

/// How rare `term` is across the questions (inverse document frequency, as in BM25): about 2.7
/// when one question of 21 holds it, well under 1 when most do, so "std" outweighs "trust".
fn rarity(term: &str, entries: &[Entry<'_>]) -> f64 {
    let total = as_float(entries.len());
    let holding = as_float(entries.iter().filter(|entry| entry.holds(term)).count());
    ((total - holding + 0.5) / (holding + 0.5)).ln_1p()
}

/// A count as a float, for ratios (counts here are tiny, so nothing is lost).
fn as_float(count: usize) -> f64 {
    u32::try_from(count).map_or(f64::MAX, f64::from)
}

/// A text as normalised terms, in order, common words included (see the module docs).
#[derive(Debug, PartialEq, Eq)]
struct Terms(Vec<String>);

impl Terms {
    fn of(text: &str) -> Terms {
        let words: Vec<String> = Words::of(text)
            .iter()
            .map(|word| word.replace('\'', ""))
            .filter(|word| {
                !word.is_empty() && !FILLERS.split_whitespace().any(|filler| filler == word)
            })
            .collect();
        let mut terms = Vec::with_capacity(words.len());
        let mut rest = words.as_slice();
        while let Some((word, after)) = rest.split_first() {
            if let Some(term) = after.first().and_then(|next| joined(word, next)) {
                terms.push(term.to_owned());
                rest = &after[1..];
            } else {
                terms.push(normal(word));
                rest = after;
            }
        }
        Terms(terms)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The terms that carry meaning on their own.
    fn content(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .map(String::as_str)
            .filter(|term| is_content(term))
    }

    fn into_content(self) -> BTreeSet<String> {
        self.0.into_iter().filter(|term| is_content(term)).collect()
    }

    /// Whether these terms, as a keyword, are matched as a phrase: two terms of which one
    /// carries meaning ("not trying"), or three or more ("how we were"). Two common words
    /// ("on me") would match too much.
    fn is_phrase(&self) -> bool {
        match self.0.len() {
            0 | 1 => false,
            2 => self.content().next().is_some(),
            _ => true,
        }
    }

    /// Whether `phrase` appears here in order, its terms in a row, or with up to
    /// [`PHRASE_GAP`] other terms among them when it has a content term.
    fn mention(&self, phrase: &[String]) -> bool {
        let Some((first, rest)) = phrase.split_first() else {
            return false;
        };
        let gap = if phrase.iter().any(|term| is_content(term)) {
            PHRASE_GAP
        } else {
            0
        };
        self.0
            .iter()
            .enumerate()
            .filter(|(_, term)| *term == first)
            .any(|(start, _)| {
                let end = (start + phrase.len() + gap).min(self.0.len());
                let mut wanted = rest.iter();
                let mut next = wanted.next();
                for term in &self.0[start + 1..end] {
                    match next {
                        None => break,
                        Some(want) if want == term => next = wanted.next(),
                        Some(_) => {}
                    }
                }
                next.is_none()
            })
    }
}

/// Whether a term carries meaning on its own: not a common word, longer than two letters, and
/// not a bare number.
fn is_content(term: &str) -> bool {
    !STOP.contains(term) && term.chars().count() > 2 && !term.chars().all(|c| c.is_ascii_digit())
}

/// One word (lowercase, no apostrophes) as a term: its synonym group's name, its verb's base
/// form, itself when it is a common word, or else its stem.
fn normal(word: &str) -> String {
    if let Some(name) = SYNONYMS.get(word) {
        return (*name).to_owned();
    }
    let word = IRREGULARS.get(word).copied().unwrap_or(word);
    if STOP.contains(word) {
        word.to_owned()
    } else {
        stem(word)
    }
}

/// The term that two words in a row stand for together, if any ("slept with" → `cheat`).
fn joined(first: &str, second: &str) -> Option<&'static str> {
    PAIRS
        .iter()
        .find(|(one, two, _)| *one == first && *two == second)
        .map(|(_, _, term)| *term)
}

/// A rough stem, so that "rebuilding", "rebuilds" and "rebuild" meet: a common ending goes
/// ("-ing", "-ed", "-es", "-s", "-ly", "-ness"; "-ies"/"-ied" become "-y"), a doubled last
/// consonant is undone ("stopped" → "stop"), and a final "e" goes ("hope", "hoping" → "hop").
/// Short words stay as they are.
fn stem(word: &str) -> String {
    /// An ending, what replaces it, and the fewest letters that must stay before it.
    const ENDINGS: &[(&str, &str, usize)] = &[
        ("iness", "y", 3),
        ("ness", "", 4),
        ("ies", "y", 2),
        ("ied", "y", 2),
        ("ing", "", 3),
        ("ed", "", 3),
        ("es", "", 3),
        ("ly", "", 3),
    ];
    if word.chars().count() <= 3 {
        return word.to_owned();
    }
    for &(ending, replacement, shortest) in ENDINGS {
        let Some(root) = word.strip_suffix(ending) else {
            continue;
        };
        if root.chars().count() < shortest {
            continue;
        }
        let mut root = format!("{root}{replacement}");
        if matches!(ending, "ing" | "ed") {
            // "string", "shred": no vowel would be left, so this is no ending.
            if !root.chars().any(|c| "aeiouy".contains(c)) {
                return word.to_owned();
            }
            undouble(&mut root);
        }
        return without_final_e(root);
    }
    if let Some(root) = word.strip_suffix('s')
        && !root.ends_with(['s', 'u', 'i'])
        && root.chars().count() >= 3
    {
        return without_final_e(root.to_owned());
    }
    without_final_e(word.to_owned())
}

/// Drops a doubled last consonant ("stopp" → "stop"), but not "ll", "ss" or "zz" ("call").
fn undouble(root: &mut String) {
    let mut last = root.chars().rev();
    if let (Some(one), Some(two)) = (last.next(), last.next())
        && one == two
        && !"aeiouylsz".contains(one)
        && root.chars().count() >= 3
    {
        root.pop();
    }
}

fn without_final_e(mut root: String) -> String {
    if root.chars().count() > 3 && root.ends_with('e') {
        root.pop();
    }
    root
}

/// Words too common to count on their own; they still count inside keyword phrases. Negations
/// ("dont", "isnt"...) are folded into `not` and "wont" into `refuse` before this is checked.
const STOP_WORDS: &str = "\
    a about after again all also am an and any anyone anything are as at be been being but by can \
    cant could couldnt did do does doing each ever everyone feel feeling feels for from get gets \
    go going gonna got gotta had hadnt has have having he her here heres hers hes him his how i id \
    idk if ill im in into is it its itself ive kind lets like lot make makes maybe me mine more \
    most much my need needs never no not now of oh ok okay on one or other our ours partner people \
    person say says she shes should shouldnt so some someone something sort still stuff than that \
    thats the their theirs them themselves then there theres these they theyre thing things this \
    tho those though thru to too u ur us very wanna want wanted wants was way we well were weve \
    what whats when where which who whom will with would wouldnt ya yall yeah you your youre yours";

static STOP: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| STOP_WORDS.split_whitespace().collect());

/// Words dropped before matching: they only add emphasis ("he's not *even* trying").
const FILLERS: &str =
    "actually basically even honestly just literally really seriously totally truly";

/// Words that mean the same here, under one name (a term, not stemmed further): the name,
/// then the words. The names `partner` and `not` are common words, so "husband", "she" or
/// "doesn't" never count on their own.
const SYNONYM_GROUPS: &[(&str, &str)] = &[
    (
        "cheat",
        "cheat cheats cheated cheating cheater cheaters affair affairs unfaithful infidelity \
         adultery stray strays strayed straying fling flings",
    ),
    (
        "therapy",
        "therapy therapies therapist therapists counselling counseling counsellor counselor \
         counsellors counselors counsel shrink shrinks psychologist mc ic",
    ),
    (
        "partner",
        "partner partners husband husbands wife wives spouse spouses boyfriend bf girlfriend gf \
         hubby fiance fiancee",
    ),
    (
        "child",
        "kid kids child children son sons daughter daughters",
    ),
    (
        "sti",
        "std stds sti stis hiv herpes chlamydia gonorrhea syphilis",
    ),
    (
        "test",
        "test tests tested testing checkup panel screening screened",
    ),
    (
        "message",
        "text texts texted texting message messages messaged messaging dm dms",
    ),
    ("lie", "lie lies lied lying liar liars"),
    (
        "sorry",
        "sorry apology apologies apologise apologised apologize apologized apologising apologizing \
         apologetic",
    ),
    (
        "forgive",
        "forgive forgives forgiving forgiven forgiveness forgave",
    ),
    (
        "marriage",
        "marriage marriages married relationship relationships",
    ),
    (
        "believe",
        "believe believes believed believing belief faith",
    ),
    (
        "judge",
        "judgement judgment judgements judgments instinct instincts gut intuition",
    ),
    (
        "fight",
        "fight fights fighting fought argue argues argued arguing argument arguments yell yelling \
         screaming scream shouting shout",
    ),
    ("sleep", "sleep sleeping slept insomnia asleep awake"),
    (
        "picture",
        "picture pictures picturing imagine imagining imagined image images visualize visualise",
    ),
    ("obsess", "obsess obsessed obsessing obsessive obsession"),
    (
        "divorce",
        "divorce divorced divorcing separate separated separation",
    ),
    ("leave", "leave leaving left"),
    ("stay", "stay stays stayed staying"),
    ("friend", "friend friends bestie"),
    ("parent", "parent parents mum mom mother dad father"),
    ("other_woman", "ow"),
    ("other_man", "om"),
    ("affair_partner", "ap"),
    ("contact", "nc"),
    ("colleague", "colleague colleagues coworker coworkers"),
    ("neighbour", "neighbour neighbours neighbor neighbors"),
    (
        "remorse",
        "remorse remorseful regret regrets regretted regretting",
    ),
    ("detail", "detail details specifics specific"),
    ("cause", "cause causes caused causing"),
    ("fault", "fault faults blame blames blamed blaming"),
    ("conversation", "conversation conversations convo convos"),
    ("refuse", "refuse refuses refused refusing wont"),
    (
        "trust",
        "trust trusts trusted trusting rely relies relied relying depend depends",
    ),
    (
        "not",
        "not isnt arent doesnt dont didnt wasnt werent hasnt havent",
    ),
    ("willing", "willing unwilling"),
    ("gaslight", "gaslight gaslit gaslighting gaslighted"),
    (
        "reconcile",
        "reconcile reconciled reconciling reconciliation",
    ),
];

static SYNONYMS: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| groups(SYNONYM_GROUPS));

/// Irregular verb forms, under their base form (which is then stemmed like any word).
const IRREGULAR_FORMS: &[(&str, &str)] = &[
    ("tell", "told"),
    ("say", "said"),
    ("think", "thought"),
    ("make", "made"),
    ("go", "went"),
    ("know", "knew known"),
    ("see", "saw seen"),
    ("keep", "kept"),
    ("catch", "caught"),
    ("meet", "met"),
    ("break", "broke broken"),
    ("begin", "began begun"),
    ("lose", "lost"),
    ("take", "took taken"),
    ("give", "gave given"),
    ("hide", "hid hidden"),
    ("feel", "felt"),
    ("end", "ended"),
    ("drive", "drove driven"),
    ("understand", "understood"),
    ("choose", "chose chosen"),
    ("find", "found"),
];

static IRREGULARS: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| groups(IRREGULAR_FORMS));

/// Each word of each group, mapped to the group's name.
fn groups(table: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
    table
        .iter()
        .flat_map(|&(name, words)| words.split_whitespace().map(move |word| (word, name)))
        .collect()
}

/// Two words in a row that stand for one term ("slept with" is about cheating, "slept" alone
/// about sleep; "what made him" asks why).
const PAIRS: &[(&str, &str, &str)] = &[
    ("slept", "with", "cheat"),
    ("sleeping", "with", "cheat"),
    ("sleep", "with", "cheat"),
    ("sleeps", "with", "cheat"),
    ("hooked", "up", "cheat"),
    ("other", "woman", "other_woman"),
    ("other", "women", "other_woman"),
    ("other", "man", "other_man"),
    ("other", "men", "other_man"),
    ("affair", "partner", "affair_partner"),
    ("lie", "awake", "sleep"),
    ("lying", "awake", "sleep"),
    ("lay", "awake", "sleep"),
    ("what", "makes", "why"),
    ("what", "made", "why"),
    ("what", "led", "why"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn faq() -> Faq {
        let question = |id: &str, text: &str, keywords: &[&str], answer: &str| Question {
            id: id.to_owned(),
            button: id.to_owned(),
            question: text.to_owned(),
            answer: answer.to_owned(),
            keywords: keywords.iter().map(|word| (*word).to_owned()).collect(),
            flows: Vec::new(),
            terms: Default::default(),
        };
        Faq {
            questions: vec![
                question(
                    "how-long",
                    "How long does healing after a betrayal usually take?",
                    &["how long", "months", "years", "stop hurting"],
                    "There's no set timetable. For many couples it's months, and sometimes longer.",
                ),
                question(
                    "infidelity",
                    "Can trust grow back after someone cheated?",
                    &["survive", "recover", "trust again"],
                    "Yes, trust can grow back after an affair, though it asks a lot of you both.",
                ),
                question(
                    "therapy",
                    "What can a couples therapist do for us?",
                    &["professional", "session"],
                    "A couples therapist gives you both a steady, neutral place to talk.",
                ),
                question(
                    "unwilling",
                    "What can I do if my partner won't put in the effort?",
                    &["not trying", "no effort", "doesn't care"],
                    "You can't rebuild trust on your own: it needs the one who broke it.",
                ),
                question(
                    "tell-others",
                    "Who should I tell about the affair?",
                    &["friends", "family", "kids", "secret"],
                    "Choose one or two people who are kind and can keep a confidence.",
                ),
                question(
                    "health-test",
                    "Should we get tested for sexually transmitted infections?",
                    &["std", "clinic", "protection"],
                    "If there was any sexual contact, it's wise for both of you to get tested.",
                ),
            ],
            takeaways: String::new(),
        }
    }

    fn ids(text: &str) -> Vec<String> {
        faq()
            .suggest(text)
            .into_iter()
            .map(|question| question.id.clone())
            .collect()
    }

    fn first(text: &str) -> Option<String> {
        ids(text).into_iter().next()
    }

    fn terms(text: &str) -> Vec<String> {
        Terms::of(text).0
    }

    #[test]
    fn a_question_finds_the_faq_entries_that_share_its_words() {
        assert_eq!(
            first("how long will rebuilding take?").as_deref(),
            Some("how-long")
        );
        assert_eq!(
            first("can trust grow back after cheating").as_deref(),
            Some("infidelity")
        );
        assert_eq!(
            first("who do I tell about it?").as_deref(),
            Some("tell-others")
        );
        assert!(ids("how long will rebuilding take?").len() <= MAX_SUGGESTIONS);
    }

    #[test]
    fn domain_words_meet_their_synonyms() {
        assert_eq!(terms("cheated"), terms("affair"));
        assert_eq!(terms("unfaithful"), terms("cheating"));
        assert_eq!(terms("he slept with her"), terms("he cheated her"));
        assert_eq!(terms("counsellor"), terms("therapist"));
        assert_eq!(terms("marriage counseling"), terms("marriage therapy"));
        assert_eq!(terms("the kids"), terms("the children"));
        assert_eq!(terms("STD"), terms("sti"));
        assert_eq!(terms("texts"), terms("messages"));
        assert_eq!(terms("forgiveness"), terms("forgive"));
        assert_eq!(terms("my husband"), terms("my wife"));
        assert_eq!(terms("won't"), terms("refuses"));
        assert_eq!(terms("doesn't"), terms("not"));
        assert_eq!(terms("she told me"), terms("she tell me"));
    }

    #[test]
    fn synonyms_find_the_question_in_other_words() {
        assert_eq!(
            first("will we survive my husband being unfaithful?").as_deref(),
            Some("infidelity")
        );
        assert_eq!(
            first("Would counseling help us?").as_deref(),
            Some("therapy")
        );
        assert_eq!(
            first("should we tell the children?").as_deref(),
            Some("tell-others")
        );
        assert_eq!(
            first("do I need an STI check").as_deref(),
            Some("health-test")
        );
    }

    #[test]
    fn endings_are_stemmed_alike() {
        for (one, other) in [
            ("rebuilding", "rebuild"),
            ("stopped", "stop"),
            ("hoping", "hope"),
            ("worries", "worry"),
            ("calls", "call"),
            ("honestly", "honest"),
        ] {
            assert_eq!(stem(one), stem(other), "{one} and {other}");
        }
        assert_eq!(stem("string"), "string");
        assert_eq!(stem("see"), "see");
    }

    #[test]
    fn keyword_phrases_match_in_order_across_fillers_and_a_short_gap() {
        // A statement, so it needs more than one word in common: the phrase gives it.
        assert_eq!(ids("he's not even trying"), ["unwilling"]);
        assert!(Terms::of("she doesn't really care").mention(&terms("doesn't care")));
        assert!(Terms::of("not much into trying").mention(&terms("not trying")));
        assert!(!Terms::of("not putting any effort into trying").mention(&terms("not trying")));
        assert!(!Terms::of("trying, not").mention(&terms("not trying")));
        // Phrases of common words only must be in a row.
        assert!(!Terms::of("how it all was").mention(&terms("how it was")));
    }

    #[test]
    fn small_talk_and_plain_statements_find_nothing() {
        for text in [
            "hello",
            "",
            "  ",
            "I had a long day",
            "thanks!",
            "thank you so much",
            "ok",
            "we had dinner together tonight",
            "I'm at work right now",
        ] {
            assert!(ids(text).is_empty(), "{text:?} found {:?}", ids(text));
        }
    }

    #[test]
    fn venting_usually_finds_nothing() {
        for text in [
            "I feel so angry today",
            "I'm so tired of everything",
            "I hate this",
        ] {
            assert!(ids(text).is_empty(), "{text:?} found {:?}", ids(text));
        }
    }

    #[test]
    fn questions_are_numbered_from_one() {
        let faq = faq();
        assert_eq!(faq.numbered(1).map(|q| q.id.as_str()), Some("how-long"));
        assert!(faq.numbered(0).is_none());
        assert!(faq.numbered(7).is_none());
    }

    #[test]
    fn question_words_and_marks_make_a_question() {
        assert!(looks_like_question("how do we start"));
        assert!(looks_like_question("we start where?"));
        assert!(looks_like_question("I found his phone. Is this normal"));
        assert!(looks_like_question(
            "ok we survived, now what, how do we protect this"
        ));
        assert!(looks_like_question("What's next"));
        assert!(!looks_like_question("we start tomorrow"));
        assert!(!looks_like_question("I had a long day, was rough"));
    }

    #[test]
    fn no_word_is_in_two_groups() {
        let mut seen = HashSet::new();
        for (_, words) in SYNONYM_GROUPS.iter().chain(IRREGULAR_FORMS) {
            for word in words.split_whitespace() {
                assert!(seen.insert(word), "{word} is in two groups");
            }
        }
    }
}
