//! Trains the crisis screen's classifier from `corpus/safety/train/` and writes
//! `models/crisis-screen.bin`: `cargo run --release --example train_screen`. The same corpus,
//! word vectors and seed give the same file. Also prints how the layers do on the held-out
//! split, which training never reads: `--evaluate` does only that, with the shipped model.
//! `--cross-validated-scores` prints each training message's scores from the fold that did not
//! see its writer, and writes nothing. `--set name=value` (repeatable) changes one of the
//! training settings from its default, to compare settings by cross-validation.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use kintsugi::safety::training::{self, Example, Figures, Settings};
use kintsugi::safety::vectors::WordVectors;
use kintsugi::safety::{Classifier, CrisisScreen, PatternScreen};

/// Files by name, with their bytes.
type Files = Vec<(String, Vec<u8>)>;

fn read_folder(folder: &Path) -> anyhow::Result<(Vec<Example>, Files)> {
    let read = kintsugi::testkit::corpus::read_corpus(folder).map_err(anyhow::Error::msg)?;
    Ok((read.examples, read.files))
}

/// The default settings, changed by each `--set name=value`.
fn settings_from_args() -> anyhow::Result<Settings> {
    let mut settings = Settings::default();
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2).filter(|pair| pair[0] == "--set") {
        let (name, value) = pair[1]
            .split_once('=')
            .with_context(|| format!("--set {}: expected name=value", pair[1]))?;
        let bad = || format!("--set {name}: cannot read \"{value}\"");
        let float = || value.parse::<f32>().with_context(bad);
        let whole = || value.parse::<usize>().with_context(bad);
        match name {
            "seed" => settings.seed = value.parse().with_context(bad)?,
            "buckets" => settings.buckets = value.parse().with_context(bad)?,
            "epochs" => settings.epochs = whole()?,
            "learning_rate" => settings.learning_rate = float()?,
            "l2" => settings.l2 = float()?,
            "dense_weight" => settings.dense_weight = float()?,
            "none_weight" => settings.none_weight = float()?,
            "runs" => settings.runs = whole()?,
            "window_blend" => settings.window_blend = float()?,
            _ => anyhow::bail!("--set {name}: no such setting"),
        }
    }
    Ok(settings)
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let evaluate_only = std::env::args().any(|arg| arg == "--evaluate");
    let scores_only = std::env::args().any(|arg| arg == "--cross-validated-scores");
    let vectors_bytes = std::fs::read(root.join("models/word-vectors.bin"))?;
    let vectors = Arc::new(WordVectors::parse(&vectors_bytes)?);
    let patterns = PatternScreen::parse(&std::fs::read_to_string(
        root.join("dialogues/crisis-language.toml"),
    )?)
    .map_err(|problems| anyhow::anyhow!("the pattern file has problems: {problems:?}"))?;

    let classifier = if evaluate_only {
        Classifier::parse(
            &std::fs::read(root.join("models/crisis-screen.bin"))?,
            vectors,
        )?
    } else {
        let (examples, files) = read_folder(&root.join("corpus/safety/train"))?;
        let settings = settings_from_args()?;
        let trained = training::train(
            &examples,
            vectors,
            &settings,
            training::corpus_digest(&files),
            training::sha256(&vectors_bytes),
        );
        let header = &trained.classifier.header;
        println!(
            "trained on {} messages; temperature {:.2}",
            header.examples, header.temperature
        );
        for (kind, t) in kintsugi::safety::ConcernKind::ALL
            .iter()
            .zip(&header.thresholds)
        {
            println!(
                "  {:9} unsure {:.3} clear {:.3}",
                kind.as_str(),
                t.unsure,
                t.clear
            );
        }
        let mut scores = trained.cross_validated.iter();
        let cv = Figures::measure(&examples, |_| {
            trained
                .classifier
                .concern(*scores.next().expect("one score each"))
        });
        println!("cross-validated by writer (classifier): {}", cv.summary());
        if scores_only {
            // One line a training message: its writer, label, cross-validated scores and the
            // patterns' verdict, to weigh a way of combining the layers on training data.
            {
                for (e, s) in examples.iter().zip(&trained.cross_validated) {
                    let p = patterns.check(&e.text).map_or("ok".to_owned(), |c| {
                        format!("{}:{}", c.kind.as_str(), c.certainty.as_str())
                    });
                    println!(
                        "{}\t{}\t{:.3}\t{:.3}\t{:.3}\t{}\t{}",
                        e.group,
                        e.label.map_or("none", |k| k.as_str()),
                        s.0[0],
                        s.0[1],
                        s.0[2],
                        p,
                        e.text
                    );
                }
            }
            return Ok(());
        }
        std::fs::write(
            root.join("models/crisis-screen.bin"),
            trained.classifier.to_bytes(),
        )?;
        println!("wrote models/crisis-screen.bin");
        trained.classifier
    };

    let (held_out, _) = read_folder(&root.join("corpus/safety/held-out"))?;
    let screen = CrisisScreen::new(patterns.clone(), Arc::new(classifier));
    println!("held-out ({} messages):", held_out.len());
    println!(
        "  combined    {}",
        Figures::measure(&held_out, |t| screen.check(t)).summary()
    );
    println!(
        "  classifier  {}",
        Figures::measure(&held_out, |t| screen.explain(t).classifier).summary()
    );
    println!(
        "  patterns    {}",
        Figures::measure(&held_out, |t| patterns.check(t)).summary()
    );
    Ok(())
}
