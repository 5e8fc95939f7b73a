//! Terms: what a text becomes for FAQ matching (see the parent module's docs): lowercase
//! words without apostrophes, filler words dropped, domain synonyms folded into one term,
//! irregular verbs brought to their base and the rest roughly stemmed. No I/O.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use crate::dialogue::review::Words;

/// How many other terms may stand inside a keyword phrase that has a content term in it
/// ("doesn't want counselling" matches "doesn't want to do counselling").
const PHRASE_GAP: usize = 2;

/// A text as normalised terms, in order, common words included (see the module docs).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Terms(pub(super) Vec<String>);

impl Terms {
    pub(super) fn of(text: &str) -> Terms {
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

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The terms that carry meaning on their own.
    pub(super) fn content(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .map(String::as_str)
            .filter(|term| is_content(term))
    }

    pub(super) fn into_content(self) -> BTreeSet<String> {
        self.0.into_iter().filter(|term| is_content(term)).collect()
    }

    /// Whether these terms, as a keyword, are matched as a phrase: two terms of which one
    /// carries meaning ("not trying"), or three or more ("how we were"). Two common words
    /// ("on me") would match too much.
    pub(super) fn is_phrase(&self) -> bool {
        match self.0.len() {
            0 | 1 => false,
            2 => self.content().next().is_some(),
            _ => true,
        }
    }

    /// Whether `phrase` appears here in order, its terms in a row, or with up to
    /// [`PHRASE_GAP`] other terms among them when it has a content term.
    pub(super) fn mention(&self, phrase: &[String]) -> bool {
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
pub(super) fn is_content(term: &str) -> bool {
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
pub(super) fn stem(word: &str) -> String {
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

    fn terms(text: &str) -> Vec<String> {
        Terms::of(text).0
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
    fn phrases_match_in_order_across_fillers_and_a_short_gap() {
        assert!(Terms::of("she doesn't really care").mention(&terms("doesn't care")));
        assert!(Terms::of("not much into trying").mention(&terms("not trying")));
        assert!(!Terms::of("not putting any effort into trying").mention(&terms("not trying")));
        assert!(!Terms::of("trying, not").mention(&terms("not trying")));
        // Phrases of common words only must be in a row.
        assert!(!Terms::of("how it all was").mention(&terms("how it was")));
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
