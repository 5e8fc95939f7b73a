//! Replays every conversation in tests/transcripts/ against the engine and the real
//! dialogues/ folder, and shows a readable diff wherever the bot's answer has changed.
//! Record a new one with `kintsugi shell --record tests/transcripts/<name>.txt`; after a
//! deliberate change to a flow, `KINTSUGI_BLESS=1 cargo test --test transcripts` rewrites the
//! transcripts that differ (read the diff in git before committing).

use std::path::Path;

use kintsugi::dialogue::transcript::{normalize, replay};
use kintsugi::dialogue_dir::compile_dir;
use similar::TextDiff;

fn transcripts() -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = std::fs::read_dir("tests/transcripts")
        .expect("tests/transcripts exists")
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a readable transcript");
            (path.display().to_string(), text)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn every_transcript_replays_exactly() {
    let library = compile_dir(Path::new("dialogues")).expect("the shipped dialogues are valid");
    let mut failures = Vec::new();
    for (path, expected) in transcripts() {
        let expected = normalize(&expected);
        let actual = normalize(&replay(&library, &expected));
        // A press of a button that is no longer shown would replay as typed text, and a
        // blessing would quietly keep it so.
        for pressed in presses_of_buttons_not_shown(&actual) {
            failures.push(format!(
                "{path}: presses [{pressed}], not a button shown there"
            ));
        }
        if actual != expected && std::env::var_os("KINTSUGI_BLESS").is_some() {
            std::fs::write(&path, &actual).expect("the transcript is writable");
        } else if actual != expected {
            let diff = TextDiff::from_lines(&expected, &actual)
                .unified_diff()
                .context_radius(3)
                .header(&format!("{path} (expected)"), "what the bot says now")
                .to_string();
            failures.push(diff);
        }
    }
    assert!(
        failures.is_empty(),
        "{} transcript(s) differ:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The labels of `> [Label]` lines whose label is not among the buttons of the bot's
/// replies just before them.
fn presses_of_buttons_not_shown(transcript: &str) -> Vec<String> {
    let mut shown: Vec<String> = Vec::new();
    let mut missing = Vec::new();
    for line in transcript.lines() {
        if let Some(sent) = line.strip_prefix("> ") {
            if let Some(label) = sent
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                && !shown.iter().any(|button| button == label)
            {
                missing.push(label.to_owned());
            }
            shown.clear();
        } else if let Some((_, label)) = line
            .trim_start()
            .strip_prefix('[')
            .and_then(|rest| rest.split_once("] "))
        {
            shown.push(label.to_owned());
        }
    }
    missing
}

/// The longest run of bot messages, the one with the buttons included, that ends with
/// buttons, in a transcript: what a person reads before anything can be pressed.
fn longest_run_before_buttons(transcript: &str) -> usize {
    let (mut run, mut longest) = (0, 0);
    for line in transcript.lines() {
        if line.starts_with("> ") {
            run = 0;
        } else if line.starts_with("< ") {
            run += 1;
        } else if line.trim_start().starts_with("[1] ") {
            longest = longest.max(run);
        }
    }
    longest
}

#[test]
fn no_transcript_sends_more_than_three_messages_before_its_buttons() {
    assert_eq!(
        longest_run_before_buttons("> hi\n< one\n< two\n< three\n< four\n  [1] Go on\n"),
        4
    );
    let library = compile_dir(Path::new("dialogues")).expect("the shipped dialogues are valid");
    let over: Vec<String> = transcripts()
        .into_iter()
        .filter_map(|(path, text)| {
            let replayed = replay(&library, &normalize(&text));
            let run = longest_run_before_buttons(&replayed);
            (run > 3).then(|| format!("{path}: {run} messages before buttons"))
        })
        .collect();
    assert!(over.is_empty(), "{over:#?}");
}

#[test]
fn every_flow_has_a_transcript_of_its_main_path() {
    let library = compile_dir(Path::new("dialogues")).expect("the shipped dialogues are valid");
    let names: Vec<String> = transcripts()
        .into_iter()
        .filter_map(|(path, _)| {
            Path::new(&path)
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .collect();
    let missing: Vec<&str> = library
        .flows
        .iter()
        // A couple flow needs two linked partners, which a one-person transcript cannot
        // hold: tests/couples.rs and the end-to-end tests walk them.
        .filter(|flow| !flow.couple)
        .map(|flow| flow.id.0.as_str())
        .filter(|id| {
            !names
                .iter()
                .any(|name| name == id || name.starts_with(&format!("{id}-")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "flows without a transcript: {missing:?}"
    );
}

#[test]
fn a_changed_bot_answer_is_reported_as_a_diff() {
    let library = compile_dir(Path::new("dialogues")).expect("the shipped dialogues are valid");
    let (_, original) = transcripts()
        .into_iter()
        .next()
        .expect("at least one transcript");
    let tampered = original.replacen("\n< ", "\n< (edited) ", 1);
    assert_ne!(
        normalize(&replay(&library, &tampered)),
        normalize(&tampered)
    );
}
