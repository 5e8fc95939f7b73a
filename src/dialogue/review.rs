//! Gentle feedback on something a person wrote: a `review` step reads one saved answer and
//! shows the notes whose words it mentions (or lacks), so a coach can write, as data, "this
//! draft says *but*" or "this draft never names the hurt". Pure: no I/O.

use super::template::Template;

/// One note a review step may show.
#[derive(Debug, Clone)]
pub struct Note {
    /// Stable id, for translations (`flow/step/note`).
    pub id: String,
    pub test: NoteTest,
    pub text: Template,
    /// Words that, up to three words before a mention, rule it out ("no lunches", "not even a
    /// coffee"): such a mention does not count.
    pub unless_after: Vec<String>,
}

/// When a note applies to the answer.
#[derive(Debug, Clone)]
pub enum NoteTest {
    /// The answer mentions at least one of these words or phrases.
    MentionsAny(Vec<Phrase>),
    /// The answer mentions none of these words or phrases.
    MentionsNone(Vec<Phrase>),
}

impl NoteTest {
    /// Whether the note applies to `words`, mentions just after one of `unless_after` not
    /// counted.
    pub fn holds(&self, words: &Words, unless_after: &[String]) -> bool {
        let mentioned = |phrase: &Phrase| words.mention_unless_after(phrase, unless_after);
        match self {
            NoteTest::MentionsAny(phrases) => phrases.iter().any(mentioned),
            NoteTest::MentionsNone(phrases) => !phrases.iter().any(mentioned),
        }
    }
}

/// A word or phrase as an author writes it (`but`, `if you were hurt`, `apologi*`), matched
/// as whole words in any case; a `*` at the end of a word matches any ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    words: Vec<String>,
}

impl Phrase {
    /// Reads a phrase; `None` when it holds no word at all.
    pub fn parse(text: &str) -> Option<Phrase> {
        let words: Vec<String> = text
            .split_whitespace()
            .map(|word| {
                let stem = word.strip_suffix('*');
                let mut normal = split_words(stem.unwrap_or(word)).concat();
                if stem.is_some() {
                    normal.push('*');
                }
                normal
            })
            .filter(|word| !word.is_empty() && word != "*")
            .collect();
        (!words.is_empty()).then_some(Phrase { words })
    }
}

/// A text split into lowercase words, apostrophes kept inside words (`don't`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words(Vec<String>);

impl Words {
    pub fn of(text: &str) -> Words {
        Words(split_words(text))
    }

    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter()
    }

    pub fn first(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }

    /// Whether the phrase's words appear here in a row. Apostrophes are left out of the
    /// comparison: on a phone "didnt" and "shes" are typed as often as "didn't" and "she's".
    pub(crate) fn mention(&self, phrase: &Phrase) -> bool {
        self.mention_unless_after(phrase, &[])
    }

    /// Whether the phrase appears here, as [`Words::mention`], somewhere that none of the
    /// three words before it is one of `blockers` ("no lunches" does not mention lunch
    /// when `no` blocks).
    pub(crate) fn mention_unless_after(&self, phrase: &Phrase, blockers: &[String]) -> bool {
        let length = phrase.words.len();
        self.0.len() >= length
            && self.0.windows(length).enumerate().any(|(at, window)| {
                let matched = window.iter().zip(&phrase.words).all(|(word, wanted)| {
                    let mut word = letters(word);
                    match wanted.strip_suffix('*') {
                        Some(stem) => letters(stem).all(|c| word.next() == Some(c)),
                        None => letters(wanted).eq(word),
                    }
                });
                matched
                    && !self.0[at.saturating_sub(3)..at].iter().any(|before| {
                        blockers
                            .iter()
                            .any(|blocker| letters(blocker).eq(letters(before)))
                    })
            })
    }
}

/// The most notes shown on one reading of an answer: a draft that sets off more (an apology
/// with a "but", an "if", a "mistake" and no plan) hears the first few, in the author's order,
/// and the rest on a later pass, once those are dealt with. Six at once reads as a wall.
pub(crate) const MOST_NOTES: usize = 3;

/// The notes of `notes` that apply to `answer`, in order, at most [`MOST_NOTES`].
pub(crate) fn notes_for<'a>(notes: &'a [Note], answer: &str) -> impl Iterator<Item = &'a Note> {
    let words = Words::of(answer);
    notes
        .iter()
        .filter(move |note| note.test.holds(&words, &note.unless_after))
        .take(MOST_NOTES)
}

/// A word's characters without its apostrophes.
fn letters(word: &str) -> impl Iterator<Item = char> + '_ {
    word.chars().filter(|&c| c != '\'')
}

fn split_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['\u{2019}', '\u{2018}', '`'], "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|word| word.trim_matches('\'').to_owned())
        .filter(|word| !word.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mentions(text: &str, phrase: &str) -> bool {
        Words::of(text).mention(&Phrase::parse(phrase).expect("a phrase"))
    }

    #[test]
    fn apostrophes_typed_or_left_out_match_alike() {
        assert!(mentions("i didnt mean to", "didn't"));
        assert!(mentions("I didn't mean to", "didnt"));
        assert!(mentions("shes always on her phone", "she's always"));
        assert!(mentions("she wouldnt listen", "wouldn*"));
        assert!(!mentions("she did", "didn't"));
    }

    #[test]
    fn words_match_whole_and_in_any_case() {
        assert!(mentions("I'm sorry, BUT you never listened.", "but"));
        assert!(!mentions("I butchered the moment.", "but"));
        assert!(mentions("I know I hurt you", "hurt"));
    }

    #[test]
    fn phrases_match_words_in_a_row_across_punctuation() {
        assert!(mentions("I'm sorry if you were hurt.", "if you were hurt"));
        assert!(mentions("sorry if... you were hurt", "if you were hurt"));
        assert!(!mentions("if only you were not hurt", "if you were hurt"));
    }

    #[test]
    fn curly_apostrophes_read_like_straight_ones() {
        assert!(mentions(
            "I\u{2019}m sorry you feel that way",
            "I'm sorry you feel"
        ));
    }

    #[test]
    fn a_star_matches_any_ending() {
        assert!(mentions("I apologise for lying", "apologi*"));
        assert!(mentions("My apologies.", "apologi*"));
        assert!(!mentions("I'm sorry", "apologi*"));
    }

    #[test]
    fn a_mention_just_after_a_word_that_rules_it_out_does_not_count() {
        let blockers = ["no".to_owned(), "not".to_owned(), "never".to_owned()];
        let mentions = |text: &str, phrase: &str| {
            Words::of(text)
                .mention_unless_after(&Phrase::parse(phrase).expect("a phrase"), &blockers)
        };
        assert!(!mentions("no lunches, no 1:1s", "lunch*"));
        assert!(!mentions("not even a coffee", "coffee*"));
        assert!(mentions("only lunch with the team", "lunch*"));
        assert!(mentions("no meetings alone, but lunch is fine", "lunch*"));
        assert!(
            mentions("no lunches", "no lunches"),
            "a phrase holding the word itself"
        );
    }

    #[test]
    fn a_phrase_of_only_punctuation_is_no_phrase() {
        assert_eq!(Phrase::parse(" ... "), None);
        assert_eq!(Phrase::parse("*"), None);
    }

    #[test]
    fn notes_apply_when_their_words_are_there_or_missing() {
        let phrase = |text| Phrase::parse(text).expect("a phrase");
        let notes = vec![
            Note {
                id: "but".to_owned(),
                test: NoteTest::MentionsAny(vec![phrase("but"), phrase("however")]),
                text: Template::parse("A but.").expect("text"),
                unless_after: Vec::new(),
            },
            Note {
                id: "harm".to_owned(),
                test: NoteTest::MentionsNone(vec![phrase("hurt"), phrase("pain")]),
                text: Template::parse("No harm named.").expect("text"),
                unless_after: Vec::new(),
            },
        ];
        let ids = |answer| {
            notes_for(&notes, answer)
                .map(|note| note.id.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("I'm sorry, but I was stressed"), ["but", "harm"]);
        assert_eq!(ids("I know I hurt you"), Vec::<&str>::new());
    }

    #[test]
    fn at_most_a_few_notes_are_shown_at_once_the_first_in_order() {
        let phrase = |text| Phrase::parse(text).expect("a phrase");
        let notes: Vec<Note> = ["one", "two", "three", "four", "five"]
            .into_iter()
            .map(|word| Note {
                id: word.to_owned(),
                test: NoteTest::MentionsAny(vec![phrase(word)]),
                text: Template::parse(word).expect("text"),
                unless_after: Vec::new(),
            })
            .collect();
        let ids = |answer| {
            notes_for(&notes, answer)
                .map(|note| note.id.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("five four three two one"), ["one", "two", "three"]);
        assert_eq!(MOST_NOTES, 3);
        // Once the first are dealt with, the rest show.
        assert_eq!(ids("five four"), ["four", "five"]);
    }
}
