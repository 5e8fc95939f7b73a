//! Reading typed words as the button they name: "no" at a No button, "Not yet. Not even
//! close" at Not yet, "every day i guess" at Every day. Pure, and careful: anything that
//! turns the answer round ("yes, but sometimes...") or says more than the label in the same
//! breath ("yes he's not violent") names no button, and the step is shown again.

use crate::dialogue::model::Choice;

/// Words that may follow a label without changing what it answers.
const HEDGES: &[&str] = &[
    "i",
    "guess",
    "think",
    "suppose",
    "please",
    "thanks",
    "thank",
    "you",
    "ok",
    "okay",
    "im",
    "fine",
    "alright",
    "never",
    "god",
    "gosh",
    "omg",
    "oh",
    "lol",
    "haha",
    "honestly",
    "definitely",
    "absolutely",
    "totally",
    "min",
    "mins",
    "minutes",
];

/// Words a reply may open with before the words that name a button ("oh god no", "yes all
/// the time", "well, not really"): read past when nothing is named with them.
const LEADING: &[&str] = &[
    "oh", "god", "gosh", "omg", "um", "umm", "erm", "hmm", "well", "so", "ok", "okay", "honestly",
    "yes", "fine", "i", "think", "guess", "its", "what", "huh",
];

/// Words that turn an answer round, wherever they come after the label.
const TURNS: &[&str] = &[
    "but",
    "though",
    "tho",
    "although",
    "however",
    "except",
    "unless",
    "sometimes",
];

/// Everyday spellings of yes and no, read as the word itself when typed.
const SAME_AS: &[(&str, &str)] = &[
    ("yeah", "yes"),
    ("yea", "yes"),
    ("yep", "yes"),
    ("yup", "yes"),
    ("ya", "yes"),
    ("yess", "yes"),
    ("nope", "no"),
    ("nah", "no"),
];

/// Words that, typed on their own, agree to the one button that starts something ("Let's
/// begin", "Let's look") when exactly one button does, or to a step's only button.
const AGREEING: &[&str] = &[
    "yes", "ok", "okay", "sure", "alright", "go", "ahead", "lets", "do", "it", "on", "next",
    "continue", "ready", "did", "done", "finished",
];

/// How the labels of buttons that start something begin.
const STARTERS: &[&str] = &["lets", "try", "start", "begin"];

/// A word or a mark that ends a phrase.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Break,
}

/// A word as it is compared: everyday spellings of yes and no read as the word itself.
fn word(spelt: String) -> Token {
    Token::Word(
        SAME_AS
            .iter()
            .find(|(said, _)| *said == spelt)
            .map_or(spelt, |(_, meant)| (*meant).to_owned()),
    )
}

fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        if c == '\'' || c == '\u{2019}' {
            continue;
        }
        if !word.is_empty() {
            tokens.push(self::word(std::mem::take(&mut word)));
        }
        if matches!(
            c,
            '.' | ',' | '!' | '?' | ';' | ':' | '-' | '\u{2013}' | '\u{2014}'
        ) {
            tokens.push(Token::Break);
        }
    }
    if !word.is_empty() {
        tokens.push(self::word(word));
    }
    tokens
}

/// How many of `typed`'s first tokens spell `label` (word for word, marks skipped), if they
/// do.
fn spelled(label: &[Token], typed: &[Token]) -> Option<usize> {
    let label: Vec<&String> = label
        .iter()
        .filter_map(|token| match token {
            Token::Word(word) => Some(word),
            Token::Break => None,
        })
        .collect();
    if label.is_empty() {
        return None;
    }
    let mut next = 0;
    for (used, token) in typed.iter().enumerate() {
        match token {
            Token::Word(word) if *word == *label[next] => {
                next += 1;
                if next == label.len() {
                    return Some(used + 1);
                }
            }
            Token::Break => {}
            _ => return None,
        }
    }
    None
}

/// A label's opening words when a mark follows them and more comes after ("Yes, that's
/// right", "Vaguely, or they avoid them"), as a phrase of its own.
fn opener(label: &[Token]) -> Option<Vec<Token>> {
    let mark = label.iter().position(|token| *token == Token::Break)?;
    let after = label[mark..]
        .iter()
        .any(|token| matches!(token, Token::Word(_)));
    (mark > 0 && after).then(|| label[..mark].to_vec())
}

/// A label that opens with a number ("45 minutes", "3 days"), as its number alone: how a
/// person answers it.
fn number_of(label: &[Token]) -> Option<Vec<Token>> {
    match label {
        [Token::Word(number), Token::Word(_), ..] if number.chars().all(|c| c.is_ascii_digit()) => {
            Some(vec![Token::Word(number.clone())])
        }
        _ => None,
    }
}

/// A label said in the first person, without its "I" and its "yet" ("I'm not sure yet": "not
/// sure"), when at least two words are left: how people answer it in a hurry.
fn core(label: &[Token]) -> Option<Vec<Token>> {
    let is = |token: Option<&Token>, words: &[&str]| matches!(token, Some(Token::Word(word)) if words.contains(&word.as_str()));
    let mut core = label;
    if is(core.first(), &["i", "im"]) {
        core = &core[1..];
    }
    if is(core.last(), &["yet"]) {
        core = &core[..core.len() - 1];
    }
    let words = core
        .iter()
        .filter(|token| matches!(token, Token::Word(_)))
        .count();
    (core.len() < label.len() && words >= 2).then(|| core.to_vec())
}

/// Whether what follows a label leaves its answer as it is.
fn rest_agrees(rest: &[Token]) -> bool {
    let words = || {
        rest.iter().filter_map(|token| match token {
            Token::Word(word) => Some(word.as_str()),
            Token::Break => None,
        })
    };
    if words().any(|word| TURNS.contains(&word)) {
        return false;
    }
    // Hedges may follow the label ("no god", "every day i guess"); then the reply ends, or a
    // mark closes the phrase before anything else is said.
    let after_hedges = rest
        .iter()
        .find(|token| !matches!(token, Token::Word(word) if HEDGES.contains(&word.as_str())));
    matches!(after_hedges, None | Some(Token::Break))
}

/// The choice `text` names, by its label or one of its `also` answers, if exactly one does
/// (the longest wins: "not yet" over "no").
pub(super) fn choice_named<'c>(choices: &'c [Choice], text: &str) -> Option<&'c Choice> {
    let buttons: Vec<(&str, Vec<&str>, &Choice)> = choices
        .iter()
        .map(|choice| {
            let also = choice.also.iter().map(String::as_str).collect();
            (choice.label.as_str(), also, choice)
        })
        .collect();
    pressed_by(&buttons, text)
}

/// What the button `text` names stands for, among `buttons` (each a label, the other answers
/// that press it, and what pressing it means), as [`option_named`] reads it.
pub(super) fn pressed_by<L: AsRef<str>, T: Copy>(
    buttons: &[(L, Vec<&str>, T)],
    text: &str,
) -> Option<T> {
    let options: Vec<Vec<&str>> = buttons
        .iter()
        .map(|(label, also, _)| {
            std::iter::once(label.as_ref())
                .chain(also.iter().copied())
                .collect()
        })
        .collect();
    let index = option_named(&options, text)?;
    buttons.get(index).map(|(_, _, meaning)| *meaning)
}

/// Which of `options` (each a button's label and the other answers that press it) `text`
/// names, if exactly one does, as [`choice_named`] reads it.
fn option_named(options: &[Vec<&str>], text: &str) -> Option<usize> {
    let typed = tokens(text);
    // The reply as typed, and without each of the words it opens with ("oh god no": "no").
    let opening = typed
        .iter()
        .take_while(|token| match token {
            Token::Word(word) => LEADING.contains(&word.as_str()),
            Token::Break => true,
        })
        .count();
    let readings: Vec<&[Token]> = (0..=opening.min(typed.len().saturating_sub(1)))
        .map(|skipped| &typed[skipped..])
        .collect();
    let mut best: Option<(usize, usize)> = None;
    let mut tied = false;
    for (index, phrases) in options.iter().enumerate() {
        let spelt = phrases
            .iter()
            .flat_map(|words| {
                let label = tokens(words);
                let opener = opener(&label);
                let core = core(&label);
                let number = number_of(&label);
                std::iter::once(label)
                    .chain(opener)
                    .chain(core)
                    .chain(number)
            })
            .flat_map(|label| {
                readings
                    .iter()
                    .filter_map(|typed| {
                        let used = spelled(&label, typed)?;
                        rest_agrees(&typed[used..]).then_some(label.len())
                    })
                    .max()
            })
            .max();
        let Some(length) = spelt else {
            continue;
        };
        match best {
            Some((longest, _)) if longest > length => {}
            Some((longest, _)) if longest == length => tied = true,
            _ => {
                best = Some((length, index));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied)
        .map(|(_, index)| index)
        .or_else(|| agreed_to(options, &typed))
}

/// The one option whose label starts something ("Let's begin"), when `typed` only agrees
/// ("yes", "ok sure") and no label spells it.
fn agreed_to(options: &[Vec<&str>], typed: &[Token]) -> Option<usize> {
    let mut words = typed.iter().filter_map(|token| match token {
        Token::Word(word) => Some(word.as_str()),
        Token::Break => None,
    });
    let first = words.next()?;
    if !AGREEING.contains(&first)
        || !words.all(|word| AGREEING.contains(&word) || HEDGES.contains(&word))
    {
        return None;
    }
    // A step with one button has one way on: agreeing takes it ("go on" at "Where do we
    // look?").
    if options.len() == 1 {
        return Some(0);
    }
    let mut starting = options.iter().enumerate().filter(|(_, phrases)| {
        phrases.first().is_some_and(|label| {
            matches!(tokens(label).first(), Some(Token::Word(word)) if STARTERS.contains(&word.as_str()))
        })
    });
    let (index, _) = starting.next()?;
    starting.next().is_none().then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::model::StepId;

    fn choices(labels: &[&str]) -> Vec<Choice> {
        labels
            .iter()
            .map(|label| Choice {
                id: label.to_lowercase(),
                label: (*label).to_owned(),
                goto: StepId("next".into()),
                role: None,
                value: (*label).to_owned(),
                clear: Vec::new(),
                safety: None,
                also: Vec::new(),
            })
            .collect()
    }

    fn named(labels: &[&str], text: &str) -> Option<String> {
        choice_named(&choices(labels), text).map(|choice| choice.label.clone())
    }

    /// The damage flow's frequency buttons, each with the `also` answers given.
    fn often_sometimes_not_really(also: [&[&str]; 3]) -> Vec<Choice> {
        let mut list = choices(&["Often", "Sometimes", "Not really"]);
        for (choice, also) in list.iter_mut().zip(also) {
            choice.also = also.iter().map(|words| (*words).to_owned()).collect();
        }
        list
    }

    #[test]
    fn a_label_typed_alone_or_closed_off_names_its_button() {
        let labels = ["Yes", "Not always", "No", "Not yet"];
        assert_eq!(named(&labels, "no").as_deref(), Some("No"));
        assert_eq!(named(&labels, "No!").as_deref(), Some("No"));
        assert_eq!(named(&labels, "  NOT YET  ").as_deref(), Some("Not yet"));
        assert_eq!(
            named(&labels, "not yet. not even close").as_deref(),
            Some("Not yet")
        );
        assert_eq!(named(&labels, "yes, ok").as_deref(), Some("Yes"));
        assert_eq!(
            named(&["Every day", "A few times a week"], "every day i guess").as_deref(),
            Some("Every day")
        );
        assert_eq!(
            named(&["I'm okay", "Not really"], "im okay").as_deref(),
            Some("I'm okay")
        );
        assert_eq!(named(&["1", "10"], "10").as_deref(), Some("10"));
    }

    #[test]
    fn an_also_answer_names_its_button_as_its_label_does() {
        let list = often_sometimes_not_really([
            &["every night", "every single night"],
            &["now and then"],
            &["no", "never"],
        ]);
        let named = |text: &str| choice_named(&list, text).map(|choice| choice.label.as_str());
        assert_eq!(named("every single night"), Some("Often"));
        assert_eq!(named("Every night. I lie there for hours"), Some("Often"));
        assert_eq!(named("now and then i guess"), Some("Sometimes"));
        assert_eq!(named("no"), Some("Not really"));
        assert_eq!(named("every night, but not this week"), None);
        assert_eq!(named("never again will i trust him"), None);
        assert_eq!(named("at night"), None);
    }

    #[test]
    fn a_yes_or_no_names_the_label_that_opens_with_it() {
        let labels = ["Yes, that's right", "No, let me pick again"];
        assert_eq!(named(&labels, "yes").as_deref(), Some("Yes, that's right"));
        assert_eq!(named(&labels, "Yep!").as_deref(), Some("Yes, that's right"));
        assert_eq!(
            named(&labels, "yes thats right").as_deref(),
            Some("Yes, that's right")
        );
        assert_eq!(
            named(&labels, "nah").as_deref(),
            Some("No, let me pick again")
        );
        assert_eq!(named(&labels, "yes but not that city"), None);
        assert_eq!(
            named(&["Yes, now", "Yes, later"], "yes"),
            None,
            "two open alike"
        );
        assert_eq!(named(&["Yes", "No"], "nope").as_deref(), Some("No"));
    }

    #[test]
    fn a_label_s_opening_words_before_a_mark_name_it() {
        let labels = ["Clearly", "Vaguely, or they avoid them", "Not at all"];
        assert_eq!(
            named(&labels, "vaguely").as_deref(),
            Some("Vaguely, or they avoid them")
        );
        assert_eq!(named(&labels, "vaguely but he tries"), None);
    }

    #[test]
    fn a_first_person_label_is_named_without_its_i_and_its_yet() {
        let labels = [
            "Yes, someone comes to mind",
            "I'm not sure yet",
            "No one right now",
        ];
        assert_eq!(
            named(&labels, "not sure").as_deref(),
            Some("I'm not sure yet")
        );
        assert_eq!(
            named(&labels, "i think not sure").as_deref(),
            Some("I'm not sure yet")
        );
        assert_eq!(named(&labels, "not sure she'd understand"), None);
        assert_eq!(
            named(&["Not yet", "Yes"], "not"),
            None,
            "one word is too little"
        );
        assert_eq!(
            named(
                &["I was the one hurt", "I broke the trust"],
                "broke the trust"
            )
            .as_deref(),
            Some("I broke the trust")
        );
    }

    #[test]
    fn a_label_s_opening_number_names_it() {
        let labels = ["20 minutes", "30 minutes", "45 minutes"];
        assert_eq!(named(&labels, "45").as_deref(), Some("45 minutes"));
        assert_eq!(named(&labels, "30 mins").as_deref(), Some("30 minutes"));
        assert_eq!(
            named(&labels, "45 if she can"),
            None,
            "more than the number"
        );
        assert_eq!(named(&labels, "45 i guess").as_deref(), Some("45 minutes"));
        assert_eq!(named(&labels, "60"), None);
    }

    #[test]
    fn words_a_reply_opens_with_are_read_past() {
        assert_eq!(named(&["Yes", "No"], "oh god no").as_deref(), Some("No"));
        assert_eq!(
            named(&["Yes", "No"], "no god. i mean done with HIM").as_deref(),
            Some("No")
        );
        assert_eq!(named(&["Yes", "No"], "ok yes").as_deref(), Some("Yes"));
        assert_eq!(named(&["Yes", "No"], "no never").as_deref(), Some("No"));
        assert_eq!(
            named(&["Go on", "Stop here"], "fine. go on").as_deref(),
            Some("Go on")
        );
        let list = often_sometimes_not_really([&["all the time"], &[], &[]]);
        let named = |text: &str| choice_named(&list, text).map(|choice| choice.label.as_str());
        assert_eq!(named("yes all the time"), Some("Often"));
        assert_eq!(named("well, sometimes"), Some("Sometimes"));
        assert_eq!(named("yes"), None, "a yes alone names none of them");
        assert_eq!(named("yes all the time but not lately"), None);
        assert_eq!(named("i think sometimes"), Some("Sometimes"));
        assert_eq!(named("its all the time"), Some("Often"));
    }

    #[test]
    fn an_agreeing_word_starts_the_one_button_that_starts_something() {
        let labels = ["Let's begin", "Not right now"];
        assert_eq!(named(&labels, "yes").as_deref(), Some("Let's begin"));
        assert_eq!(named(&labels, "yeah ok").as_deref(), Some("Let's begin"));
        assert_eq!(named(&labels, "sure!").as_deref(), Some("Let's begin"));
        assert_eq!(named(&labels, "ok go").as_deref(), Some("Let's begin"));
        assert_eq!(named(&labels, "lets do it").as_deref(), Some("Let's begin"));
        assert_eq!(
            named(&["Try it now", "Maybe later"], "ok").as_deref(),
            Some("Try it now")
        );
        assert_eq!(named(&labels, "nope").as_deref(), None);
        assert_eq!(
            named(&["Where do we look?"], "go on").as_deref(),
            Some("Where do we look?")
        );
        assert_eq!(named(&["Where do we look?"], "no"), None);
        assert_eq!(named(&labels, "yes but not now"), None);
        assert_eq!(
            named(&["Let's look", "Let's talk"], "yes"),
            None,
            "two start"
        );
        assert_eq!(
            named(&["Yes", "Let's begin"], "yes").as_deref(),
            Some("Yes")
        );
    }

    #[test]
    fn anything_that_says_more_or_turns_it_round_names_nothing() {
        let labels = ["Yes", "Not always", "No"];
        assert_eq!(named(&labels, "yes hes not violent, just a liar"), None);
        assert_eq!(named(&labels, "yes, but sometimes he scares me"), None);
        assert_eq!(named(&labels, "yes. though i wonder"), None);
        assert_eq!(named(&labels, "not sure"), None);
        assert_eq!(named(&labels, "maybe"), None);
        assert_eq!(named(&labels, "me. he cheated on me"), None);
        assert_eq!(named(&labels, ""), None);
        assert_eq!(
            named(&["Calm", "Calm"], "calm"),
            None,
            "two the same: no guess"
        );
    }
}
