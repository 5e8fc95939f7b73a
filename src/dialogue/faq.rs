//! The pure lookup that matches a typed question against the questions people often ask
//! (`dialogues/faq.toml`; the types are in `model`). No I/O.

use std::collections::BTreeSet;

use super::model::{Faq, Question};
use super::review::Words;

/// How many questions a typed message is offered at most.
pub(crate) const MAX_SUGGESTIONS: usize = 3;

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

    /// The questions that best match `text`, best first, when it reads like a question that
    /// shares enough words with them; empty otherwise.
    pub fn suggest(&self, text: &str) -> Vec<&Question> {
        let asked = content_words(text);
        let reads_as_question = looks_like_question(text);
        let mut scored: Vec<(usize, usize, &Question)> = self
            .questions
            .iter()
            .enumerate()
            .filter_map(|(index, question)| {
                let mut vocabulary = content_words(&question.question);
                for keyword in &question.keywords {
                    vocabulary.extend(content_words(keyword));
                }
                let shared = asked.intersection(&vocabulary).count();
                // A plain statement needs more in common than a question does.
                let enough = if reads_as_question { 1 } else { 2 };
                (shared >= enough).then_some((shared, index, question))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .map(|(_, _, question)| question)
            .collect()
    }
}

/// Whether `text` reads like a question: a question mark, or a question word first.
pub(crate) fn looks_like_question(text: &str) -> bool {
    const OPENERS: &[&str] = &[
        "how", "what", "why", "when", "where", "who", "which", "can", "could", "should", "is",
        "are", "do", "does", "will", "would", "am", "was", "did",
    ];
    text.trim_end().ends_with('?')
        || Words::of(text)
            .first()
            .is_some_and(|word| OPENERS.contains(&word))
}

/// The words of `text` that carry meaning, roughly stemmed ("rebuilding" and "rebuild" meet).
fn content_words(text: &str) -> BTreeSet<String> {
    const STOP: &[&str] = &[
        "a", "an", "and", "are", "am", "as", "at", "be", "been", "but", "by", "can", "could",
        "did", "do", "does", "for", "from", "get", "has", "have", "how", "i", "i'm", "if", "in",
        "is", "it", "it's", "me", "my", "of", "on", "or", "our", "should", "so", "that", "the",
        "their", "them", "there", "they", "this", "to", "us", "was", "we", "what", "when", "where",
        "which", "who", "why", "will", "with", "would", "you", "your", "after", "about", "after",
        "ever", "again", "really", "just", "know", "any", "some",
    ];
    Words::of(text)
        .iter()
        .filter(|word| !STOP.contains(&word.as_str()))
        .map(|word| stem(word))
        .filter(|word| word.chars().count() > 2)
        .collect()
}

fn stem(word: &str) -> String {
    for suffix in ["ing", "ed", "es", "s", "ly"] {
        if let Some(root) = word.strip_suffix(suffix)
            && root.chars().count() >= 4
        {
            return root.to_owned();
        }
    }
    word.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faq() -> Faq {
        let question = |id: &str, text: &str, keywords: &[&str]| Question {
            id: id.to_owned(),
            button: id.to_owned(),
            question: text.to_owned(),
            answer: format!("About {id}."),
            keywords: keywords.iter().map(|word| (*word).to_owned()).collect(),
            flows: Vec::new(),
        };
        Faq {
            questions: vec![
                question(
                    "how-long",
                    "How long until it feels steady?",
                    &["months", "years"],
                ),
                question(
                    "remorse",
                    "How can I tell if my partner's remorse is real?",
                    &["sorry", "genuine"],
                ),
                question(
                    "therapy",
                    "Should we see a couples therapist?",
                    &["counselling", "counselor"],
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

    #[test]
    fn a_question_finds_the_faq_entries_that_share_its_words() {
        assert_eq!(ids("how long will rebuilding take?"), ["how-long"]);
        assert_eq!(ids("is his remorse genuine"), ["remorse"]);
        assert_eq!(ids("Would counselling help us?"), ["therapy"]);
    }

    #[test]
    fn small_talk_and_plain_statements_find_nothing() {
        assert!(ids("hello").is_empty());
        assert!(ids("I had a long day").is_empty());
        assert!(ids("thanks!").is_empty());
    }

    #[test]
    fn questions_are_numbered_from_one() {
        let faq = faq();
        assert_eq!(faq.numbered(1).map(|q| q.id.as_str()), Some("how-long"));
        assert!(faq.numbered(0).is_none());
        assert!(faq.numbered(4).is_none());
    }

    #[test]
    fn question_words_and_marks_make_a_question() {
        assert!(looks_like_question("how do we start"));
        assert!(looks_like_question("we start where?"));
        assert!(!looks_like_question("we start tomorrow"));
    }
}
