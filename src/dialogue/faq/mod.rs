//! Matching what someone typed against the questions people often ask (`dialogues/faq.toml`;
//! the types are in `model`): weighing terms and ranking the questions here, normalising words
//! into terms in `terms.rs`. No I/O.
//!
//! A text becomes a list of *terms*: lowercase words without apostrophes ("won't" → "wont"),
//! filler words dropped ("not *even* trying"), domain synonyms folded into one term ("cheated",
//! "affair", "unfaithful" → `cheat`; "counsellor", "therapist" → `therapy`), irregular verbs
//! brought to their base ("told" → "tell") and the rest roughly stemmed ("rebuilding" and
//! "rebuild" meet). Common words stay in the list, so that keywords of several words ("how long",
//! "over and over") can match in order, but only *content* terms count on their own.

use std::collections::BTreeMap;

mod ranker;
mod terms;

pub(crate) use self::ranker::Ranker;
use self::terms::{Terms, is_content};
use super::model::{ExampleCounts, Faq, Question, QuestionTerms};
use super::review::Words;

/// How many questions a typed message is offered when the matcher orders them, or when the
/// learned order is sure of its first.
pub(crate) const MAX_SUGGESTIONS: usize = 3;
/// How many the learned order offers when it is less sure of its first (see
/// [`Tuning::offers_when_unsure`]): the most a message is ever offered.
pub(crate) const OFFERS_WHEN_UNSURE: usize = 5;

/// What a term found only in a question's answer counts, against 1 in its question line or
/// keywords: answers are long and general, but their words still point the right way.
const ANSWER_WEIGHT: f64 = 0.25;
/// The least a keyword of several words adds when the text holds it (see [`Entry::score`]).
const PHRASE_WEIGHT: f64 = 2.0;
/// The least score a text that reads like a question needs to be offered a question.
const QUESTION_THRESHOLD: f64 = 1.0;
/// Behind a question's best match (which needs [`QUESTION_THRESHOLD`]), the least score of
/// the others offered beside it.
const QUESTION_FILL: f64 = 0.3;
/// What the closest example (a whole message people sent asking a question) adds to that
/// question's score, times its closeness (0 to 1).
pub(crate) const EXAMPLE_WEIGHT: f64 = 12.0;
/// The fewest content terms a text must share with an example for it to count.
const MIN_SHARED_WITH_EXAMPLE: usize = 2;
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
    /// most [`OFFERS_WHEN_UNSURE`]; empty when none scores enough. A text that reads like a
    /// question needs [`QUESTION_THRESHOLD`], a plain statement [`STATEMENT_THRESHOLD`]; see
    /// [`Entry::score`] for the score.
    pub fn suggest(&self, text: &str) -> Vec<&Question> {
        self.suggest_with(text, Tuning::SHIPPED)
    }

    /// What [`Faq::suggest`] offers, only when the learned order is sure of its first (as
    /// sure as it must be to offer three rather than five): for a question met in passing,
    /// inside an answer to something else, where a doubtful offer would only be noise.
    pub fn suggest_when_sure(&self, text: &str) -> Vec<&Question> {
        let sure = self.ranker().is_some_and(|ranker| {
            ranker
                .order(text)
                .first()
                .is_some_and(|(_, likely)| f64::from(*likely) >= Tuning::SHIPPED.sure_of_first)
        });
        if sure { self.suggest(text) } else { Vec::new() }
    }

    /// The questions to offer someone who asked the FAQ in so many words (`/faq some words`):
    /// what [`Faq::suggest`] finds, or, when it finds nothing, the closest questions in the
    /// learned order all the same ([`Tuning::ASKED`] only lifts the gate that keeps questions
    /// from passing remarks, which never applies once the matcher has found something).
    /// Someone who sent `/faq` is asking. Empty only when the text holds no word to go by (or
    /// no learned order can be fitted).
    pub fn closest(&self, text: &str) -> Vec<&Question> {
        self.suggest_with(text, Tuning::ASKED)
    }

    /// `suggest`, tuned as `tuning` says (for measuring the matcher with other settings; the
    /// bot uses [`Tuning::SHIPPED`]).
    #[doc(hidden)]
    pub fn suggest_with(&self, text: &str, tuning: Tuning) -> Vec<&Question> {
        let asked = Terms::of(text);
        if asked.is_empty() {
            return Vec::new();
        }
        let entries: Vec<Entry<'_>> = self.questions.iter().map(Entry::of).collect();
        let rarities: BTreeMap<&str, f64> = asked
            .content()
            .map(|term| (term, rarity(term, &entries)))
            .collect();
        let is_question = looks_like_question(text);
        let threshold = if is_question {
            QUESTION_THRESHOLD
        } else {
            STATEMENT_THRESHOLD
        };
        let counts = self.counts();
        let nearest = Closeness::of(&asked, counts).nearest(counts, entries.len());
        // (score to rank by, score to clear the bar with, index, question). A plain statement
        // clears its bar mostly on the question's own words: an example close to "I had a long
        // day" is little sign of a question asked.
        let mut scored: Vec<(f64, f64, usize, &Question)> = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let own = entry.score(&asked, &rarities);
                let near = tuning.example_weight * nearest.get(index).copied().unwrap_or(0.0);
                let score = own + near;
                let bar = if is_question {
                    score
                } else {
                    own + tuning.statement_closeness * near
                };
                (score, bar, index, entry.question)
            })
            .filter(|(score, ..)| *score > 0.0)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
        // The best must clear the threshold; behind it, a question also offers the next best
        // that share a meaningful word, so a close second is a tap away.
        let floor = if is_question {
            QUESTION_FILL
        } else {
            threshold
        };
        let cleared = |bar: f64, needed: f64| bar >= needed;
        let matched = scored.iter().any(|(_, bar, ..)| cleared(*bar, threshold));
        // Something is to be offered: in the learned order, when there is one.
        if tuning.learned_order
            && let Some(ranker) = self.ranker()
        {
            // What the matcher leaves out is offered anyway when the learned order is sure;
            // a message too short for that is not run through it at all.
            let may_gate = text.split_whitespace().count() >= tuning.gate_words;
            if !matched && !may_gate {
                return Vec::new();
            }
            let learned = ranker.order(text);
            let likeliest = learned
                .first()
                .map_or(0.0, |(_, likely)| f64::from(*likely));
            let sure = likeliest >= tuning.learned_gate;
            if !matched && !sure {
                return Vec::new();
            }
            // Each question's probability, plus a share of the matcher's score for it (scaled
            // to the best score), so the keywords still have their say in the order.
            let best = scored.first().map_or(0.0, |(score, ..)| *score);
            let mut own = vec![0.0; self.questions.len()];
            if best > 0.0 {
                for (score, _, index, _) in &scored {
                    own[*index] = score / best;
                }
            }
            let mut order: Vec<(f64, usize)> = learned
                .into_iter()
                .map(|(index, likely)| {
                    let own = own.get(index).copied().unwrap_or_default();
                    (f64::from(likely) + tuning.blend * own, index)
                })
                .collect();
            order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let offers = if likeliest >= tuning.sure_of_first {
                MAX_SUGGESTIONS
            } else {
                tuning.offers_when_unsure
            };
            return order
                .into_iter()
                .filter_map(|(_, index)| self.questions.get(index))
                .take(offers)
                .collect();
        }
        if !matched {
            return Vec::new();
        }
        scored
            .into_iter()
            .filter(|(_, bar, ..)| cleared(*bar, floor))
            .take(MAX_SUGGESTIONS)
            .map(|(.., question)| question)
            .collect()
    }
}

/// The fewest examples every question needs before the order is learned from them; with
/// fewer (a question just added, say) the matcher's own order is kept.
const LEARNED_ORDER_EXAMPLES: usize = 8;

impl Faq {
    /// Fits the learned order and counts the examples now rather than at the first typed
    /// question (the bot does it at start, before it takes updates).
    pub fn prepare(&self) {
        let _ = self.ranker();
        let _ = self.counts();
    }

    /// What the examples hold, counted the first time it is needed.
    fn counts(&self) -> &ExampleCounts {
        self.example_counts.get_or_init(|| {
            let entries: Vec<Entry<'_>> = self.questions.iter().map(Entry::of).collect();
            count_examples(&entries)
        })
    }

    /// The learned order, fitted the first time it is needed.
    fn ranker(&self) -> Option<&Ranker> {
        self.ranker
            .get_or_init(|| {
                let enough = self
                    .questions
                    .iter()
                    .all(|question| question.examples.len() >= LEARNED_ORDER_EXAMPLES);
                enough.then(|| Ranker::train(&self.questions)).flatten()
            })
            .as_ref()
    }
}

/// How the matcher weighs what it finds; [`Tuning::SHIPPED`] is the bot's.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// What the closest example adds, times its closeness (0 to 1).
    pub example_weight: f64,
    /// The share of the example's part that counts toward a plain statement's bar. Shipped at
    /// 0: counting half of it offered 8 more of 987 tuning messages their question (leaving
    /// each writer out) but 443 more of 5,972 ordinary statements a question they never asked.
    pub statement_closeness: f64,
    /// Whether what is offered comes in the learned order (`ranker.rs`) rather than the
    /// matcher's.
    pub learned_order: bool,
    /// How likely the learned order's first question must be for a message the matcher
    /// offers nothing for to be offered questions anyway (above 1: never). Shipped at 0.8,
    /// for messages of at least 6 words (`gate_words`; shorter ones such as "I had a long
    /// day" are too few words to be sure of): leaving each of ten tuning writers out, 7 more
    /// of 1,491 messages were offered their question, and 64 more of 5,972 ordinary
    /// statements a question (3,760 in all). With no fewest words, 17 more and 128 more, and
    /// "I had a long day" was offered how long healing takes.
    pub learned_gate: f64,
    /// The fewest words a message needs for the learned order alone to offer it anything.
    pub gate_words: usize,
    /// How much the matcher's own score for a question, scaled to its best, adds to the
    /// learned order's probability of it. Shipped at 0.25: 16 more of 1,491 first.
    pub blend: f64,
    /// How many questions the learned order offers when it is less than `sure_of_first`
    /// sure of its first ([`MAX_SUGGESTIONS`] otherwise). Shipped at 5 below 0.9, chosen by
    /// leaving each of the thirteen tuning writers out (1,995 messages): the right question
    /// offered to 1,929 typed in passing and 1,986 sent with `/faq`, against 1,918 and 1,972
    /// with three; five always offered the same, five below 0.7 one fewer.
    pub offers_when_unsure: usize,
    /// How likely the learned order's first question must be for it to offer only
    /// [`MAX_SUGGESTIONS`].
    pub sure_of_first: f64,
}

impl Tuning {
    pub const SHIPPED: Tuning = Tuning {
        example_weight: EXAMPLE_WEIGHT,
        statement_closeness: 0.0,
        learned_order: true,
        learned_gate: 0.8,
        gate_words: 6,
        blend: 0.25,
        offers_when_unsure: OFFERS_WHEN_UNSURE,
        sure_of_first: 0.9,
    };

    /// For someone who asked the FAQ explicitly ([`Faq::closest`]): the learned order offers
    /// its closest questions whatever its certainty and however short the message.
    pub const ASKED: Tuning = Tuning {
        learned_gate: 0.0,
        gate_words: 0,
        ..Tuning::SHIPPED
    };
}

/// Whether `text` reads like a question: a question mark anywhere, a question word opening a
/// sentence ("I found his phone. Is this normal"), or a "how", "what", "why"... word opening a
/// later part of one ("ok we survived, now what, how do we protect this").
pub fn looks_like_question(text: &str) -> bool {
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
        examples: question
            .examples
            .iter()
            .map(|example| Terms::of(example).into_content())
            .collect(),
    }
}

/// How many of the FAQ's examples hold each term.
fn count_examples(entries: &[Entry<'_>]) -> ExampleCounts {
    let mut counts = ExampleCounts::default();
    for example in entries.iter().flat_map(|entry| &entry.terms.examples) {
        counts.total += 1;
        for term in example {
            *counts.holding.entry(term.clone()).or_default() += 1;
        }
    }
    for (owner, entry) in entries.iter().enumerate() {
        for example in &entry.terms.examples {
            let number = counts.norms.len();
            let length = example
                .iter()
                .map(|term| example_rarity(term, &counts).powi(2))
                .sum::<f64>()
                .sqrt();
            counts.norms.push(length);
            counts.owners.push(owner);
            for term in example {
                counts
                    .postings
                    .entry(term.clone())
                    .or_default()
                    .push(number);
            }
        }
    }
    counts
}

/// A text's content terms weighed by how rare each is among the examples, to find how close
/// the text is to an example: the cosine of the two sets, each term counting its rarity.
struct Closeness {
    weights: BTreeMap<String, f64>,
    norm: f64,
}

impl Closeness {
    fn of(asked: &Terms, counts: &ExampleCounts) -> Closeness {
        let weights: BTreeMap<String, f64> = asked
            .content()
            .map(|term| (term.to_owned(), example_rarity(term, counts)))
            .collect();
        let norm = weights
            .values()
            .map(|weight| weight * weight)
            .sum::<f64>()
            .sqrt();
        Closeness { weights, norm }
    }

    /// For each of `questions` questions, how close the text is to the closest of its
    /// examples: 0 (nothing shared) to 1 (the same content terms). Only the examples that
    /// share a term are visited, through the postings; each example's shared weights are
    /// summed in term order, as the cosine over its own sorted terms would be.
    fn nearest(&self, counts: &ExampleCounts, questions: usize) -> Vec<f64> {
        let mut best = vec![0.0; questions];
        if self.norm == 0.0 {
            return best;
        }
        let mut shared: BTreeMap<usize, (usize, f64)> = BTreeMap::new();
        for (term, weight) in &self.weights {
            for &number in counts.postings.get(term).into_iter().flatten() {
                let (terms, sum) = shared.entry(number).or_insert((0, 0.0));
                *terms += 1;
                *sum += weight * weight;
            }
        }
        for (number, (terms, sum)) in shared {
            // One word in common ("hello", "today") says nothing of what is asked.
            if terms < MIN_SHARED_WITH_EXAMPLE {
                continue;
            }
            let (Some(&owner), Some(&norm)) = (counts.owners.get(number), counts.norms.get(number))
            else {
                continue;
            };
            if let Some(best) = best.get_mut(owner) {
                *best = f64::max(*best, sum / (self.norm * norm));
            }
        }
        best
    }
}

/// How rare `term` is among the examples (inverse document frequency, as [`rarity`]).
fn example_rarity(term: &str, counts: &ExampleCounts) -> f64 {
    let total = as_float(counts.total);
    let holding = as_float(counts.holding.get(term).copied().unwrap_or(0));
    ((total - holding + 0.5) / (holding + 0.5)).ln_1p()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn faq() -> Faq {
        let question = |id: &str, text: &str, keywords: &[&str], answer: &str| Question {
            examples: Vec::new(),
            id: id.to_owned(),
            button: id.to_owned(),
            question: text.to_owned(),
            answer: answer.to_owned(),
            keywords: keywords.iter().map(|word| (*word).to_owned()).collect(),
            flows: Vec::new(),
            wordings: Vec::new(),
            terms: Default::default(),
        };
        Faq {
            example_counts: Default::default(),
            ranker: Default::default(),
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
            takeaways_broke_trust: None,
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
        assert!(ids("how long will rebuilding take?").len() <= OFFERS_WHEN_UNSURE);
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
    fn keyword_phrases_find_their_question() {
        // A statement, so it needs more than one word in common: the phrase gives it.
        assert_eq!(ids("he's not even trying"), ["unwilling"]);
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
    fn a_message_close_to_an_example_finds_its_question_and_a_statement_needs_more() {
        let mut faq = faq();
        let example = "my wife seems to be going through the motions and wont meet me halfway";
        faq.questions[3].examples = vec![example.to_owned()];
        // No keyword of "unwilling" is in it, but most of the example's words are.
        let asked = "why does she just go through the motions, never meeting me halfway?";
        assert_eq!(
            faq.suggest_with(
                asked,
                Tuning {
                    example_weight: 0.0,
                    ..Tuning::SHIPPED
                }
            )
            .first()
            .map(|q| q.id.as_str()),
            None
        );
        assert_eq!(
            faq.suggest(asked).first().map(|q| q.id.as_str()),
            Some("unwilling")
        );
        // The same words as a plain statement must clear the bar on the question's own words.
        let said = "she goes through the motions and wont meet me halfway";
        assert!(faq.suggest(said).is_empty(), "{:?}", faq.suggest(said));
        // One word in common with an example counts for nothing.
        faq.questions[0].examples = vec!["hello, how long will this hurt".to_owned()];
        assert!(faq.suggest("hello?").is_empty());
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
}
