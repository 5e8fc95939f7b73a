use std::sync::LazyLock;

use proptest::prelude::*;

use super::file::{ascii_words, has_capital_letter};
use super::*;

/// The shipped pattern file.
const SHIPPED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/dialogues/crisis-language.toml"
));

static SCREEN: LazyLock<PatternScreen> = LazyLock::new(|| match PatternScreen::parse(SHIPPED) {
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

#[test]
fn the_patterns_read_apart_match_as_one_set_does() {
    let screen = &*SCREEN;
    let sources = &screen.patterns.sources;
    let plan = partition(sources);
    assert!(
        !plan.always.is_empty(),
        "some patterns have no telling literal"
    );
    assert!(
        plan.telling.len() > sources.len() * 3 / 4,
        "most patterns have telling literals: {} of {}",
        plan.telling.len(),
        sources.len()
    );
    let mut all: Vec<usize> = plan.always.concat();
    all.extend(plan.telling.iter().map(|(index, _)| *index));
    all.sort_unstable();
    assert_eq!(
        all,
        (0..sources.len()).collect::<Vec<_>>(),
        "each pattern once"
    );
    assert!(gappy(r"\beggshells\b[\w ]{0,40}\bangry\b") && !gappy(r"\bdark place\b"));
    let set = build_set(sources).expect("the shipped patterns build as one set");
    // Every message of the crisis corpus (both splits, every kind), as the screen reads it.
    let mut texts: Vec<String> = Vec::new();
    for split in ["train", "held-out"] {
        let examples = crate::testkit::corpus::safety_split(split).examples;
        texts.extend(
            examples
                .into_iter()
                .map(|example| screen.screened(&example.text)),
        );
    }
    texts.extend(
        [
            "i want to die",
            "he keeps a knife under the bed and says he will use it",
            "walking on eggshells around his temper every single day",
            "we had a lovely dinner and talked about the kids",
            "nothing to see here",
        ]
        .map(str::to_owned),
    );
    assert!(texts.len() > 5000, "{} texts", texts.len());
    let mut flagged = 0;
    for text in &texts {
        let mut found = screen.patterns.matching(text);
        found.sort_unstable();
        let expected: Vec<usize> = set.matches(text).into_iter().collect();
        assert_eq!(found, expected, "{text:?}");
        flagged += usize::from(!found.is_empty());
    }
    assert!(flagged > 1000, "the corpus meets the patterns: {flagged}");
}
