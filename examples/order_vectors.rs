//! Stores the rows of `models/word-vectors.bin` most-used first: by how often each word piece
//! occurs in the project's own everyday text (the crisis corpus's training messages, the FAQ's
//! tuning messages and the dialogues). The table is read in place from the binary, so a row
//! comes into memory with the page it sits on: with the rows people write packed together, a
//! bot reading varied words touches a few pages rather than most of the table's 7.9 MB.
//! Every piece keeps its vector, so every score stays the same: this checks that, for every
//! text it counted, the crisis screen's scores with the new table equal those with the old,
//! bit for bit, then writes the table and the model (whose header names the table's SHA-256).
//!
//!     cargo run --release --example order_vectors
//!
//! Run it after re-making the word vectors; running it again changes nothing.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use kintsugi::safety::Classifier;
use kintsugi::safety::normalise;
use kintsugi::safety::training;
use kintsugi::safety::vectors::WordVectors;

const VECTORS: &str = "models/word-vectors.bin";
const MODEL: &str = "models/crisis-screen.bin";

fn main() -> anyhow::Result<()> {
    let texts = everyday_texts()?;
    let old_bytes = std::fs::read(VECTORS).with_context(|| format!("cannot read {VECTORS}"))?;
    let old = Arc::new(WordVectors::parse(&old_bytes)?);
    let mut counts = vec![0u64; old.piece_count()];
    for text in &texts {
        for row in old.piece_rows(&normalise(text)) {
            counts[row as usize] += 1;
        }
    }
    let mut order: Vec<u32> = (0..old.piece_count() as u32).collect();
    order.sort_by_key(|&row| (std::cmp::Reverse(counts[row as usize]), row));
    let new_bytes = old
        .to_bytes_in_order(&order)
        .context("every row once, by construction")?;
    let new = Arc::new(WordVectors::parse(&new_bytes)?);

    let model_bytes = std::fs::read(MODEL).with_context(|| format!("cannot read {MODEL}"))?;
    let before = Classifier::parse(&model_bytes, Arc::clone(&old))?;
    let mut after = Classifier::parse(&model_bytes, Arc::clone(&new))?;
    after.header.vectors_sha256 = training::sha256(&new_bytes);
    for text in &texts {
        anyhow::ensure!(
            before.scores(text) == after.scores(text),
            "a score changed with the rows in the new order"
        );
    }

    std::fs::write(VECTORS, &new_bytes)?;
    std::fs::write(MODEL, after.to_bytes())?;
    let used = counts.iter().filter(|&&count| count > 0).count();
    println!(
        "{} texts, {used} of {} pieces used; every score unchanged; wrote {VECTORS} and {MODEL}",
        texts.len(),
        old.piece_count()
    );
    Ok(())
}

/// The crisis corpus's training messages, the FAQ's tuning messages and the dialogue files,
/// whole (never a held-out set).
fn everyday_texts() -> anyhow::Result<Vec<String>> {
    let mut texts = Vec::new();
    for entry in std::fs::read_dir("corpus/safety/train").context("corpus/safety/train")? {
        let source = std::fs::read_to_string(entry?.path())?;
        let examples = training::parse_corpus("train", &source).map_err(anyhow::Error::msg)?;
        texts.extend(examples.into_iter().map(|example| example.text));
    }
    for entry in std::fs::read_dir("corpus/faq").context("corpus/faq")? {
        let path = entry?.path();
        if is_named(&path, "tuning", "txt") {
            let text = std::fs::read_to_string(&path)?;
            texts.extend(
                text.lines()
                    .filter(|line| !line.starts_with('#'))
                    .filter_map(|line| Some(line.split_once('\t')?.1.to_owned())),
            );
        }
    }
    for entry in std::fs::read_dir("dialogues").context("dialogues")? {
        let path = entry?.path();
        if is_named(&path, "", "toml") {
            texts.extend(std::fs::read_to_string(&path)?.lines().map(str::to_owned));
        }
    }
    texts.sort();
    Ok(texts)
}

fn is_named(path: &Path, prefix: &str, extension: &str) -> bool {
    path.extension().is_some_and(|ext| ext == extension)
        && path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with(prefix))
}
