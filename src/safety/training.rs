//! Training the learned layer from the labelled corpus in `corpus/safety/train/`: a softmax
//! regression fitted with AdaGrad in a seeded order, so the same corpus and seed give the same
//! model. Each writer's file is held out in turn (cross-validation by writer) to calibrate the
//! scores and choose the thresholds on messages the fold never saw. The held-out split in
//! `corpus/safety/held-out/` is never read here. Pure: the corpus comes in as text, the model
//! goes out as a value; `examples/train_screen.rs` does the reading and writing.

use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ConcernKind;
use super::classifier::{
    CLASSES, Classifier, Features, ModelHeader, Scores, Thresholds, Weights, best_of_pieces,
    features, logits, pieces, softmax,
};
use super::vectors::WordVectors;

/// One labelled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    /// `None` for a message that should pass.
    pub label: Option<ConcernKind>,
    /// Who wrote it (the file's name): the unit held out in cross-validation.
    pub group: String,
}

impl Example {
    /// The class index: 0 for none, then the kinds in [`ConcernKind::ALL`] order.
    pub(crate) fn class(&self) -> usize {
        match self.label {
            None => 0,
            Some(kind) => {
                1 + ConcernKind::ALL
                    .iter()
                    .position(|&k| k == kind)
                    .unwrap_or(0)
            }
        }
    }
}

#[derive(Deserialize)]
struct Line {
    label: String,
    text: String,
}

/// Reads one corpus file (JSON Lines of `{"label", "text"}`), naming the line of any problem.
pub fn parse_corpus(group: &str, source: &str) -> Result<Vec<Example>, String> {
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let at = || format!("{group}:{}", index + 1);
            let line: Line =
                serde_json::from_str(line).map_err(|error| format!("{}: {error}", at()))?;
            let label = match line.label.as_str() {
                "none" => None,
                name => Some(
                    ConcernKind::ALL
                        .into_iter()
                        .find(|kind| kind.as_str() == name)
                        .ok_or_else(|| {
                            format!(
                                "{}: unknown label \"{name}\" (none, self-harm, violence, abuse)",
                                at()
                            )
                        })?,
                ),
            };
            Ok(Example {
                text: line.text,
                label,
                group: group.to_owned(),
            })
        })
        .collect()
}

/// The SHA-256 of a set of files, by path and content, whatever order they come in.
pub fn corpus_digest(files: &[(String, Vec<u8>)]) -> String {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = Sha256::new();
    for (path, bytes) in sorted {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex(&hasher.finalize())
}

/// The SHA-256 of some bytes, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub seed: u64,
    pub buckets: u32,
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    pub dense_weight: f32,
    /// How much more a message that should pass weighs than one of each kind (after the
    /// classes are balanced): above 1, a text with little to go on (a name, a code, one rare
    /// word) leans to nothing found.
    pub none_weight: f32,
    /// How many fits, each with its own shuffle, are averaged into the model.
    pub runs: usize,
    /// The share of each kind's cross-validated messages the unsure threshold must reach.
    pub target_recall: f32,
    /// The share of cross-validated messages that should pass that may reach a clear threshold.
    pub clear_false_alarms: f32,
    /// The share of a window's own raw scores in its blend with the whole message's (see
    /// [`best_of_pieces`]): below 1, a window that reads alarming only out of context (a long
    /// message that should pass) weighs less.
    pub window_blend: f32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            seed: 20261130,
            buckets: 1 << 18,
            epochs: 10,
            learning_rate: 0.2,
            l2: 1e-3,
            dense_weight: 1.0,
            none_weight: 2.0,
            runs: 4,
            target_recall: 0.93,
            clear_false_alarms: 0.005,
            window_blend: 0.5,
        }
    }
}

/// A trained model and how it did on the writers it was not trained on.
pub struct Trained {
    pub classifier: Classifier,
    /// Each example's scores from the fold that did not see its writer, in input order.
    pub cross_validated: Vec<Scores>,
}

/// One message's pieces, as features.
struct Prepared {
    pieces: Vec<Features>,
    class: usize,
    group: usize,
}

/// Trains on `examples`: cross-validation by writer to calibrate and set thresholds, then a
/// final fit on everything.
pub fn train(
    examples: &[Example],
    vectors: Arc<WordVectors>,
    settings: &Settings,
    corpus_sha256: String,
    vectors_sha256: String,
) -> Trained {
    let mut groups: Vec<&str> = examples.iter().map(|e| e.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    let prepared: Vec<Prepared> = examples
        .iter()
        .map(|example| Prepared {
            pieces: pieces(&example.text)
                .iter()
                .map(|piece| features(piece, &vectors, settings.buckets, settings.dense_weight))
                .collect(),
            class: example.class(),
            group: groups.iter().position(|&g| g == example.group).unwrap_or(0),
        })
        .collect();

    // Each writer held out in turn: raw scores for every piece of its messages.
    let mut held_logits: Vec<Vec<[f32; CLASSES]>> = vec![Vec::new(); prepared.len()];
    for group in 0..groups.len() {
        let training: Vec<&Prepared> = prepared.iter().filter(|p| p.group != group).collect();
        let weights = fit_averaged(&training, vectors.dims(), settings);
        for (index, example) in prepared.iter().enumerate() {
            if example.group == group {
                held_logits[index] = example
                    .pieces
                    .iter()
                    .map(|piece| logits(&weights, piece))
                    .collect();
            }
        }
    }

    let temperature = fit_temperature(&held_logits, &prepared);
    let cross_validated: Vec<Scores> = held_logits
        .iter()
        .map(|pieces| best_of_pieces(pieces, temperature, settings.window_blend))
        .collect();
    let thresholds = choose_thresholds(&cross_validated, &prepared, settings);

    let everything: Vec<&Prepared> = prepared.iter().collect();
    let weights = fit_averaged(&everything, vectors.dims(), settings);
    let header = ModelHeader {
        corpus_sha256,
        vectors_sha256,
        seed: settings.seed,
        buckets: settings.buckets,
        dense_weight: settings.dense_weight,
        temperature,
        thresholds,
        examples: examples.len(),
        window_blend: settings.window_blend,
    };
    Trained {
        classifier: Classifier::new(header, weights, vectors),
        cross_validated,
    }
}

/// Softmax regression by AdaGrad, classes weighted to count equally. A message that should
/// pass also teaches with each of its pieces (at half weight), since each is scored alone.
/// The mean of [`Settings::runs`] fits, each shuffled with its own seed (`seed`, `seed + 1`,
/// ...): the order of one shuffle moves a single fit's figures by a point or so, the mean much
/// less. A linear model's mean weights score as the mean of its runs' raw scores.
fn fit_averaged(examples: &[&Prepared], dims: usize, settings: &Settings) -> Weights {
    let runs = settings.runs.max(1);
    let mut mean: Option<Weights> = None;
    for run in 0..runs {
        let fitted = fit(examples, dims, settings, settings.seed + run as u64);
        mean = Some(match mean {
            None => fitted,
            Some(mut sum) => {
                sum.bias
                    .iter_mut()
                    .zip(fitted.bias)
                    .for_each(|(a, b)| *a += b);
                sum.dense
                    .iter_mut()
                    .zip(fitted.dense)
                    .for_each(|(a, b)| *a += b);
                sum.sparse
                    .iter_mut()
                    .zip(fitted.sparse)
                    .for_each(|(a, b)| *a += b);
                sum
            }
        });
    }
    let mut mean = mean.expect("at least one run");
    let scale = 1.0 / runs as f32;
    mean.bias.iter_mut().for_each(|w| *w *= scale);
    mean.dense.iter_mut().for_each(|w| *w *= scale);
    mean.sparse.iter_mut().for_each(|w| *w *= scale);
    mean
}

fn fit(examples: &[&Prepared], dims: usize, settings: &Settings, seed: u64) -> Weights {
    let buckets = settings.buckets as usize;
    let mut counts = [0usize; CLASSES];
    examples.iter().for_each(|e| counts[e.class] += 1);
    let class_weight: Vec<f32> = counts
        .iter()
        .enumerate()
        .map(|(class, &n)| {
            let prior = if class == 0 {
                settings.none_weight
            } else {
                1.0
            };
            prior * examples.len() as f32 / (CLASSES as f32 * n.max(1) as f32)
        })
        .collect();
    let mut items: Vec<(&Features, usize, f32)> = Vec::new();
    for example in examples {
        let weight = class_weight[example.class];
        for (index, piece) in example.pieces.iter().enumerate() {
            if index == 0 {
                items.push((piece, example.class, weight));
            } else if example.class == 0 {
                items.push((piece, 0, weight * 0.5));
            }
        }
    }

    let mut weights = Weights {
        bias: [0.0; CLASSES],
        dense: vec![0.0; dims * CLASSES],
        sparse: vec![0.0; buckets * CLASSES],
    };
    let mut squares = Weights {
        bias: [1e-8; CLASSES],
        dense: vec![1e-8; dims * CLASSES],
        sparse: vec![1e-8; buckets * CLASSES],
    };
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut order: Vec<usize> = (0..items.len()).collect();
    let rate = settings.learning_rate;
    let step = |w: &mut f32, g2: &mut f32, g: f32| {
        let g = g + settings.l2 * *w;
        *g2 += g * g;
        *w -= rate * g / g2.sqrt();
    };
    for _ in 0..settings.epochs {
        rng.shuffle(&mut order);
        for &index in &order {
            let (features, class, weight) = items[index];
            let p = softmax(logits(&weights, features), 1.0);
            let mut g = [0f32; CLASSES];
            for (c, g) in g.iter_mut().enumerate() {
                *g = (p[c] - if c == class { 1.0 } else { 0.0 }) * weight;
            }
            let update = |w: &mut [f32], g2: &mut [f32], x: f32| {
                for ((w, g2), g) in w.iter_mut().zip(g2).zip(&g) {
                    step(w, g2, g * x);
                }
            };
            update(&mut weights.bias, &mut squares.bias, 1.0);
            for (dim, &x) in features.dense.iter().enumerate() {
                let at = dim * CLASSES..(dim + 1) * CLASSES;
                update(&mut weights.dense[at.clone()], &mut squares.dense[at], x);
            }
            for &(bucket, x) in &features.sparse {
                let at = bucket as usize * CLASSES..(bucket as usize + 1) * CLASSES;
                update(&mut weights.sparse[at.clone()], &mut squares.sparse[at], x);
            }
        }
    }
    weights
}

/// The temperature that makes the held-out whole-message probabilities most likely.
fn fit_temperature(held_logits: &[Vec<[f32; CLASSES]>], prepared: &[Prepared]) -> f32 {
    let loss = |t: f32| -> f64 {
        held_logits
            .iter()
            .zip(prepared)
            .filter_map(|(pieces, example)| pieces.first().map(|z| (z, example.class)))
            .map(|(&z, class)| -(softmax(z, t)[class].max(1e-9) as f64).ln())
            .sum()
    };
    (10..=60)
        .map(|step| step as f32 * 0.05)
        .min_by(|&a, &b| loss(a).total_cmp(&loss(b)))
        .unwrap_or(1.0)
}

/// Per kind: the unsure threshold where the cross-validated messages of that kind reach the
/// target recall, and the clear threshold above all but the allowed share of messages that
/// should pass (never below the unsure one).
fn choose_thresholds(
    scores: &[Scores],
    prepared: &[Prepared],
    settings: &Settings,
) -> [Thresholds; 3] {
    std::array::from_fn(|kind| {
        let mut positives: Vec<f32> = scores
            .iter()
            .zip(prepared)
            .filter(|(_, p)| p.class == kind + 1)
            .map(|(s, _)| s.0[kind])
            .collect();
        let mut negatives: Vec<f32> = scores
            .iter()
            .zip(prepared)
            .filter(|(_, p)| p.class == 0)
            .map(|(s, _)| s.0[kind])
            .collect();
        positives.sort_by(|a, b| b.total_cmp(a));
        negatives.sort_by(|a, b| b.total_cmp(a));
        let reach = ((settings.target_recall * positives.len() as f32).ceil() as usize)
            .clamp(1, positives.len().max(1));
        let unsure = positives
            .get(reach - 1)
            .copied()
            .unwrap_or(0.5)
            .clamp(0.02, 0.95);
        let allowed = (settings.clear_false_alarms * negatives.len() as f32).floor() as usize;
        let clear = negatives
            .get(allowed)
            .map_or(0.5, |&score| (score + 1e-4).min(0.99))
            .max(unsure);
        Thresholds { clear, unsure }
    })
}

/// How a screen did on a labelled set, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    /// Per kind (in [`ConcernKind::ALL`] order): messages, flagged as any concern, flagged as
    /// that kind.
    pub kinds: [KindFigures; 3],
    /// Messages that should pass, flagged at all, and flagged clear.
    pub should_pass: usize,
    pub false_alarms: usize,
    pub clear_false_alarms: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KindFigures {
    pub messages: usize,
    pub flagged: usize,
    pub same_kind: usize,
}

impl KindFigures {
    /// The share flagged as any concern.
    pub fn recall(&self) -> f64 {
        self.flagged as f64 / self.messages.max(1) as f64
    }
    /// The share flagged as this kind.
    pub(crate) fn same_kind_recall(&self) -> f64 {
        self.same_kind as f64 / self.messages.max(1) as f64
    }
}

impl Figures {
    /// Counts the verdicts `check` gives each example.
    pub fn measure(
        examples: &[Example],
        mut check: impl FnMut(&str) -> Option<super::Concern>,
    ) -> Figures {
        let mut figures = Figures::default();
        for example in examples {
            let verdict = check(&example.text);
            match example.label {
                None => {
                    figures.should_pass += 1;
                    if let Some(concern) = verdict {
                        figures.false_alarms += 1;
                        if concern.certainty == super::Certainty::Clear {
                            figures.clear_false_alarms += 1;
                        }
                    }
                }
                Some(kind) => {
                    let k = &mut figures.kinds[example.class() - 1];
                    k.messages += 1;
                    if let Some(concern) = verdict {
                        k.flagged += 1;
                        if concern.kind == kind {
                            k.same_kind += 1;
                        }
                    }
                }
            }
        }
        figures
    }

    /// The share of messages that should pass that were flagged.
    pub fn false_alarm_rate(&self) -> f64 {
        self.false_alarms as f64 / self.should_pass.max(1) as f64
    }
    /// The share of messages that should pass that were flagged clear.
    pub fn clear_false_alarm_rate(&self) -> f64 {
        self.clear_false_alarms as f64 / self.should_pass.max(1) as f64
    }

    /// One line: recall per kind (any concern / same kind), then false alarms (all / clear).
    pub fn summary(&self) -> String {
        let kinds: Vec<String> = ConcernKind::ALL
            .iter()
            .zip(&self.kinds)
            .map(|(kind, k)| {
                format!(
                    "{} {:.3} ({:.3})",
                    kind.as_str(),
                    k.recall(),
                    k.same_kind_recall()
                )
            })
            .collect();
        format!(
            "{}; false alarms {:.3} (clear {:.3})",
            kinds.join(", "),
            self.false_alarm_rate(),
            self.clear_false_alarm_rate()
        )
    }
}
