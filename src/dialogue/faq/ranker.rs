//! The learned order of the questions offered for a typed message: a softmax regression over
//! the crisis screen's features of a text (hashed word and character n-grams and the sentence
//! vector, `safety::classifier::features`), one class a question, fitted with AdaGrad in a
//! seeded order on the questions' `examples` in `faq.toml` the first time a message is
//! matched. So a coach who adds examples changes the order with no training step, and the
//! same file always gives the same model. The matcher (`mod.rs`) still decides whether a
//! message is offered anything at all; the ranker only orders what is offered. No I/O.

use crate::safety::classifier::{features, shipped_vectors};
use crate::safety::normalise;
use crate::safety::vectors::WordVectors;

use super::super::model::Question;

/// How many buckets the n-grams are hashed into: small, since there are few examples; the
/// weights take buckets x questions x 4 bytes (about 1.4 MB for 21 questions).
const BUCKETS: u32 = 1 << 14;
/// Passes over the examples.
const EPOCHS: usize = 8;
/// AdaGrad's learning rate.
const RATE: f32 = 0.3;

/// The fitted weights, by bucket (or sentence-vector dimension) and then question.
#[derive(Debug, Clone)]
pub(crate) struct Ranker {
    questions: usize,
    dims: usize,
    sparse: Vec<f32>,
    dense: Vec<f32>,
    bias: Vec<f32>,
    vectors: std::sync::Arc<WordVectors>,
}

impl Ranker {
    /// Fits the ranker on `questions`' examples; `None` when there are none to learn from (or
    /// the word vectors cannot be read, which the crisis screen's own check reports).
    pub(crate) fn train(questions: &[Question]) -> Option<Ranker> {
        let vectors = shipped_vectors().ok()?;
        // Every example's features in three flat lists (one allocation each, not two an
        // example among the many short-lived ones of reading them: the heap stays compact).
        let (mut sparse, mut starts, mut dense, mut labels) =
            (Vec::new(), vec![0], Vec::new(), Vec::new());
        for (index, question) in questions.iter().enumerate() {
            for example in &question.examples {
                let features = features(&normalise(example), &vectors, BUCKETS, 1.0);
                sparse.extend_from_slice(&features.sparse);
                starts.push(sparse.len());
                dense.extend_from_slice(&features.dense);
                labels.push(index);
            }
        }
        let dims = dense
            .len()
            .checked_div(labels.len())
            .filter(|dims| *dims > 0)?;
        let classes = questions.len();
        let mut ranker = Ranker {
            questions: classes,
            dims,
            sparse: vec![0.0; BUCKETS as usize * classes],
            dense: vec![0.0; dims * classes],
            bias: vec![0.0; classes],
            vectors,
        };
        // AdaGrad's sums of squared steps: one per bucket, shared by the questions, so
        // fitting takes little more memory than the model itself.
        let mut square_sparse = vec![1e-6f32; BUCKETS as usize];
        let mut square_dense = vec![1e-6f32; ranker.dense.len()];
        let mut square_bias = vec![1e-6f32; classes];
        let mut order: Vec<usize> = (0..labels.len()).collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..EPOCHS {
            for index in (1..order.len()).rev() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                order.swap(index, (seed % (index as u64 + 1)) as usize);
            }
            for &example in &order {
                let (sparse, dense) = (
                    &sparse[starts[example]..starts[example + 1]],
                    &dense[example * dims..(example + 1) * dims],
                );
                let probabilities = ranker.probabilities(sparse, dense);
                for (class, probability) in probabilities.iter().enumerate() {
                    let gradient = probability - f32::from(class == labels[example]);
                    if gradient.abs() < 1e-4 {
                        continue;
                    }
                    for &(bucket, value) in sparse {
                        let at = bucket as usize * classes + class;
                        let step = gradient * value;
                        let square = &mut square_sparse[bucket as usize];
                        *square += step * step;
                        ranker.sparse[at] -= RATE * step / square.sqrt();
                    }
                    for (dim, &value) in dense.iter().enumerate() {
                        let at = dim * classes + class;
                        let step = gradient * value;
                        square_dense[at] += step * step;
                        ranker.dense[at] -= RATE * step / square_dense[at].sqrt();
                    }
                    square_bias[class] += gradient * gradient;
                    ranker.bias[class] -= RATE * gradient / square_bias[class].sqrt();
                }
            }
        }
        Some(ranker)
    }

    /// The questions' indices with their probabilities, most likely first, for `text`.
    pub(crate) fn order(&self, text: &str) -> Vec<(usize, f32)> {
        let features = features(&normalise(text), &self.vectors, BUCKETS, 1.0);
        let probabilities = self.probabilities(&features.sparse, &features.dense);
        let mut order: Vec<(usize, f32)> = probabilities.into_iter().enumerate().collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        order
    }

    fn probabilities(&self, sparse: &[(u32, f32)], dense: &[f32]) -> Vec<f32> {
        let mut logits = self.bias.clone();
        for &(bucket, value) in sparse {
            let at = bucket as usize * self.questions;
            for (class, logit) in logits.iter_mut().enumerate() {
                *logit += self.sparse[at + class] * value;
            }
        }
        for (dim, &value) in dense.iter().enumerate().take(self.dims) {
            let at = dim * self.questions;
            for (class, logit) in logits.iter_mut().enumerate() {
                *logit += self.dense[at + class] * value;
            }
        }
        let top = logits.iter().copied().fold(f32::MIN, f32::max);
        let exps: Vec<f32> = logits.iter().map(|logit| (logit - top).exp()).collect();
        let total: f32 = exps.iter().sum();
        exps.iter().map(|e| e / total).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(id: &str, examples: &[&str]) -> Question {
        Question {
            id: id.to_owned(),
            button: id.to_owned(),
            question: id.to_owned(),
            answer: String::new(),
            keywords: Vec::new(),
            examples: examples
                .iter()
                .map(|example| (*example).to_owned())
                .collect(),
            flows: Vec::new(),
            wordings: Vec::new(),
            terms: Default::default(),
        }
    }

    #[test]
    fn the_order_follows_the_examples_and_the_same_examples_give_the_same_order() {
        let questions = [
            question(
                "sleep",
                &[
                    "i cannot sleep at night",
                    "no sleep again",
                    "awake all night",
                ],
            ),
            question(
                "tests",
                &["should i get tested", "std test", "clinic for a test"],
            ),
        ];
        let ranker = Ranker::train(&questions).expect("examples to learn from");
        let indices = |text: &str| -> Vec<usize> {
            ranker
                .order(text)
                .into_iter()
                .map(|(index, _)| index)
                .collect()
        };
        assert_eq!(indices("awake at night, no sleep"), [0, 1]);
        assert_eq!(indices("do i need a test at the clinic"), [1, 0]);
        let order = ranker.order("awake at night, no sleep");
        let total: f32 = order.iter().map(|(_, p)| p).sum();
        assert!((total - 1.0).abs() < 1e-4 && order[0].1 > order[1].1);
        let again = Ranker::train(&questions).expect("examples to learn from");
        assert_eq!(again.sparse, ranker.sparse, "seeded: the same model");
        assert!(Ranker::train(&[question("none", &[])]).is_none());
    }
}
