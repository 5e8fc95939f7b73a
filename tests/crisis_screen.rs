//! The crisis screen measured as people will meet it: on the held-out split of `corpus/safety/`,
//! written by writers whose messages were never trained on, nor used to tune a pattern or a
//! threshold. Also: the corpus keeps the shape it promises, the shipped model was trained from
//! the corpus in the repo, and training gives the same model twice.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use kintsugi::safety::training::{self, Example, Figures, Settings};
use kintsugi::safety::vectors::WordVectors;
use kintsugi::safety::{Classifier, ConcernKind, CrisisScreen};

/// Every `.jsonl` file in `corpus/safety/<folder>`, by name, and the examples in them.
fn corpus(folder: &str) -> (Vec<(String, Vec<u8>)>, Vec<Example>) {
    let read = kintsugi::testkit::corpus::safety_split(folder);
    (read.files, read.examples)
}

fn count(examples: &[Example], label: Option<ConcernKind>) -> usize {
    examples.iter().filter(|e| e.label == label).count()
}

#[test]
fn the_corpus_has_the_size_and_split_it_promises() {
    let (_, train) = corpus("train");
    let (_, held_out) = corpus("held-out");
    let total = train.len() + held_out.len();
    assert!(total >= 3000, "{total} messages");
    for kind in ConcernKind::ALL {
        let all = count(&train, Some(kind)) + count(&held_out, Some(kind));
        assert!(all >= 600, "{} {all}", kind.as_str());
        let held = count(&held_out, Some(kind));
        assert!(held >= 150, "held-out {} {held}", kind.as_str());
    }
    let pass = count(&train, None) + count(&held_out, None);
    assert!(pass >= 1200, "{pass} that should pass");
    assert!(
        held_out.len() * 5 >= total,
        "held-out {} of {total}",
        held_out.len()
    );
    let train_writers: HashSet<&str> = train.iter().map(|e| e.group.as_str()).collect();
    assert!(
        held_out
            .iter()
            .all(|e| !train_writers.contains(e.group.as_str())),
        "no writer is on both sides"
    );
}

/// Word 3-grams of a message, as the corpus README defines a near-duplicate.
fn shingles(text: &str) -> HashSet<String> {
    let words: Vec<String> = kintsugi::safety::normalise(text)
        .split(' ')
        .map(str::to_owned)
        .collect();
    if words.len() < 4 {
        return HashSet::from([words.join(" ")]);
    }
    words.windows(3).map(|w| w.join(" ")).collect()
}

#[test]
fn no_training_message_is_a_near_copy_of_a_held_out_one() {
    let (_, train) = corpus("train");
    let (_, held_out) = corpus("held-out");
    let held: Vec<HashSet<String>> = held_out.iter().map(|e| shingles(&e.text)).collect();
    let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
    for (at, set) in held.iter().enumerate() {
        for shingle in set {
            index.entry(shingle).or_default().push(at);
        }
    }
    let mut near = Vec::new();
    for example in &train {
        let set = shingles(&example.text);
        let mut shared: HashMap<usize, usize> = HashMap::new();
        for shingle in &set {
            for &at in index.get(shingle.as_str()).into_iter().flatten() {
                *shared.entry(at).or_default() += 1;
            }
        }
        for (at, common) in shared {
            let union = set.len() + held[at].len() - common;
            if common as f64 / union as f64 >= 0.6 {
                near.push((example.text.clone(), held_out[at].text.clone()));
            }
        }
    }
    assert!(near.is_empty(), "near copies: {near:#?}");
}

#[test]
fn the_shipped_model_was_trained_from_the_corpus_in_the_repo() {
    let (files, _) = corpus("train");
    let model = Classifier::shipped().expect("the shipped model loads");
    assert_eq!(
        model.header.corpus_sha256,
        training::corpus_digest(&files),
        "corpus/safety/train changed since the model was trained: run tools/screen-model/train"
    );
    assert_eq!(
        model.header.vectors_sha256,
        training::sha256(kintsugi::safety::classifier::SHIPPED_VECTORS),
        "the model was trained with other word vectors"
    );
}

#[test]
fn training_gives_the_same_model_twice_and_another_with_another_seed() {
    let (_, train) = corpus("train");
    let small: Vec<Example> = train.iter().step_by(40).cloned().collect();
    let vectors =
        Arc::new(WordVectors::parse(kintsugi::safety::classifier::SHIPPED_VECTORS).unwrap());
    let settings = Settings {
        buckets: 1 << 12,
        epochs: 2,
        runs: 2,
        ..Settings::default()
    };
    let train_with = |settings: &Settings| {
        training::train(
            &small,
            Arc::clone(&vectors),
            settings,
            "corpus".to_owned(),
            "vectors".to_owned(),
        )
        .classifier
        .to_bytes()
    };
    let first = train_with(&settings);
    assert_eq!(first, train_with(&settings), "same corpus, same seed");
    let other = Settings {
        seed: settings.seed + 1,
        ..settings.clone()
    };
    assert_ne!(first, train_with(&other), "the seed is used");
    let vectors = Arc::clone(&vectors);
    let parsed = Classifier::parse(&first, vectors).expect("a model file reads back");
    assert_eq!(parsed.to_bytes(), first);
}

/// The figures on the held-out split, for the screen the bot uses and for each layer alone:
/// recall at least 0.95 for each kind (the target), clear false alarms at most 0.02 (the
/// target), all false alarms no more than measured. A change that makes the screen worse for
/// people it has never seen fails here.
#[test]
fn the_held_out_figures_hold() {
    let (_, held_out) = corpus("held-out");
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues/crisis-language.toml"),
    )
    .expect("the pattern file");
    let screen = CrisisScreen::parse(&source).expect("the screen builds");
    // One explanation a message holds all three verdicts: the pair's, and each layer's alone.
    let explained: std::collections::HashMap<&str, _> = held_out
        .iter()
        .map(|example| (example.text.as_str(), screen.explain(&example.text)))
        .collect();
    let verdicts =
        |layer: fn(&kintsugi::safety::Explanation) -> Option<kintsugi::safety::Concern>| {
            Figures::measure(&held_out, |text| layer(&explained[text]))
        };
    let combined = verdicts(|explanation| explanation.concern);
    let classifier = verdicts(|explanation| explanation.classifier);
    let alone = verdicts(|explanation| explanation.patterns);
    println!("held-out, combined:   {}", combined.summary());
    println!("held-out, classifier: {}", classifier.summary());
    println!("held-out, patterns:   {}", alone.summary());
    // Each writer's share alone, newest sets included, so a fresh set reads on its own.
    let writers: std::collections::BTreeSet<&str> = held_out
        .iter()
        .map(|example| example.group.as_str())
        .collect();
    for writer in writers {
        let own: Vec<Example> = held_out
            .iter()
            .filter(|example| example.group == writer)
            .cloned()
            .collect();
        let figures = Figures::measure(&own, |text| explained[text].concern);
        println!("  {writer} ({}): {}", own.len(), figures.summary());
    }

    for (kind, figures) in ConcernKind::ALL.iter().zip(&combined.kinds) {
        assert!(
            figures.recall() >= RECALL_FLOOR,
            "{} recall {:.3}",
            kind.as_str(),
            figures.recall()
        );
    }
    assert!(
        combined.false_alarm_rate() <= FALSE_ALARM_CEILING,
        "false alarms {:.3}",
        combined.false_alarm_rate()
    );
    assert!(
        combined.clear_false_alarm_rate() <= 0.02,
        "clear false alarms {:.3}",
        combined.clear_false_alarm_rate()
    );
    // The pair must do at least as well as the better layer alone on recall.
    for index in 0..3 {
        assert!(combined.kinds[index].flagged >= classifier.kinds[index].flagged);
        assert!(combined.kinds[index].flagged >= alone.kinds[index].flagged);
    }
}

/// The target for every kind (measured at the last training: 0.973, 0.975 and 0.979).
const RECALL_FLOOR: f64 = 0.95;
/// The target (measured at the last training: 0.042, 0.009 of them clear). The classifier's
/// thresholds, its window blending and the way the layers combine were chosen on the training
/// writers held out in turn, never on this split: see the README.
const FALSE_ALARM_CEILING: f64 = 0.05;

/// Words written for something else: the questions the FAQ's held-out and fresh writers wrote
/// (`corpus/faq/held-out/`, `corpus/faq/fresh/`), none of them about a risk and none ever read
/// by the screen's training. The share that raises a question or a reply is printed (the
/// README's figure) and held under a ceiling, so short everyday questions never drift into
/// reading as risk unnoticed.
#[test]
fn questions_written_for_the_faq_rarely_raise_a_concern() {
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues/crisis-language.toml"),
    )
    .expect("the pattern file");
    let screen = CrisisScreen::parse(&source).expect("the screen builds");
    let mut questions = Vec::new();
    for folder in ["corpus/faq/held-out", "corpus/faq/fresh"] {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        for entry in std::fs::read_dir(folder).expect("a paraphrase folder") {
            let text = std::fs::read_to_string(entry.expect("an entry").path()).expect("a file");
            questions.extend(
                text.lines()
                    .filter(|line| !line.starts_with('#'))
                    .filter_map(|line| line.split_once('\t'))
                    .map(|(_, message)| message.trim().to_owned()),
            );
        }
    }
    assert!(questions.len() >= 2000, "{} questions", questions.len());
    let verdicts: Vec<_> = questions.iter().map(|q| screen.check(q)).collect();
    let raised = verdicts.iter().flatten().count();
    let clear = verdicts
        .iter()
        .flatten()
        .filter(|concern| concern.certainty == kintsugi::safety::Certainty::Clear)
        .count();
    let share = raised as f64 / questions.len() as f64;
    println!(
        "FAQ questions: {raised} of {} raise a concern ({:.1} %), {clear} clear ({:.1} %)",
        questions.len(),
        100.0 * share,
        100.0 * clear as f64 / questions.len() as f64
    );
    assert!(share <= FAQ_QUESTIONS_CEILING, "{raised} raised");
}

/// The ceiling on the FAQ's questions that raise a concern: the held-out target for messages
/// that should pass.
const FAQ_QUESTIONS_CEILING: f64 = FALSE_ALARM_CEILING;
