//! The learned layer of the crisis screen: a linear model over hashed word and character
//! n-grams and a static sentence vector, with a calibrated score per kind and two thresholds
//! (clear, unsure) per kind. A message is scored whole and in overlapping windows of words,
//! and the highest score of each kind counts, so a concern inside a long message is not
//! diluted; a window's raw scores are blended with the whole message's, so a window read out
//! of its context does not raise a false alarm on its own. Pure: the model file's bytes in, scores out; training lives in
//! [`super::training`].

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::normalise::normalise;
use super::vectors::WordVectors;
use super::{Certainty, Concern, ConcernKind};

/// The classes the model tells apart: nothing, then the kinds in [`ConcernKind::ALL`] order.
pub(crate) const CLASSES: usize = 4;
/// The model file's first bytes.
const MAGIC: &[u8; 8] = b"KSMODEL1";

/// The model as shipped, and the word-vector table it reads (both in `models/`).
pub(crate) const SHIPPED_MODEL: &[u8] = include_bytes!("../../models/crisis-screen.bin");
pub const SHIPPED_VECTORS: &[u8] = include_bytes!("../../models/word-vectors.bin");

/// The word-vector table shipped in `models/`, read once per process and shared by whoever
/// needs it (its index of pieces takes a few hundred kilobytes).
pub fn shipped_vectors() -> Result<Arc<WordVectors>, super::vectors::VectorsError> {
    static SHIPPED: std::sync::OnceLock<Result<Arc<WordVectors>, super::vectors::VectorsError>> =
        std::sync::OnceLock::new();
    SHIPPED
        .get_or_init(|| WordVectors::parse_static(SHIPPED_VECTORS).map(Arc::new))
        .clone()
}

/// A text's n-grams hashed into buckets, and its sentence vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// (bucket, value), sorted by bucket, scaled to length 1.
    pub sparse: Vec<(u32, f32)>,
    /// The mean word-piece vector, scaled by the model's `dense_weight`.
    pub dense: Vec<f32>,
}

/// What the model file says about itself, before its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHeader {
    /// The SHA-256 of the corpus it was trained on (see `training::corpus_digest`).
    pub corpus_sha256: String,
    /// The SHA-256 of the word-vector table it was trained with.
    pub vectors_sha256: String,
    /// The seed of the shuffles.
    pub seed: u64,
    /// How many hash buckets the n-grams go into.
    pub buckets: u32,
    /// How much the sentence vector weighs beside the n-grams.
    pub dense_weight: f32,
    /// The temperature that calibrates the scores.
    pub temperature: f32,
    /// Per kind, in [`ConcernKind::ALL`] order: the scores from which a message is flagged.
    pub thresholds: [Thresholds; 3],
    /// How many messages it was trained on.
    pub examples: usize,
    /// The share of a window's own raw scores in its blend with the whole message's (1: the
    /// window alone, as in models made before this field).
    #[serde(default = "window_alone")]
    pub window_blend: f32,
}

fn window_alone() -> f32 {
    1.0
}

/// The two scores that decide a kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// At or above: the safety message at once.
    pub clear: f32,
    /// At or above (and below `clear`): a gentle question first.
    pub unsure: f32,
}

/// The raw weights, as training makes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub bias: [f32; CLASSES],
    /// `dims x CLASSES`, a row per dimension.
    pub dense: Vec<f32>,
    /// `buckets x CLASSES`, a row per bucket.
    pub sparse: Vec<f32>,
}

/// The trained model, ready to score.
pub struct Classifier {
    pub header: ModelHeader,
    bias: [f32; CLASSES],
    /// `dims x CLASSES`, a row per dimension.
    dense: Vec<f32>,
    /// `buckets x CLASSES` little-endian f32, a row per bucket: read in place from the model
    /// built into the binary (so only the rows of n-grams people write come into memory, and
    /// the 4 MB are never copied to the heap), owned when trained or read from other bytes.
    sparse: Cow<'static, [u8]>,
    vectors: Arc<WordVectors>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Classifier({} buckets)", self.header.buckets)
    }
}

/// Why a model file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("the crisis-screen model is damaged: {0}")]
    Damaged(String),
    #[error(transparent)]
    Vectors(#[from] super::vectors::VectorsError),
}

/// The scores of one text: per kind, in [`ConcernKind::ALL`] order, the highest over its pieces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores(pub [f32; 3]);

impl Scores {
    /// The score of `kind`.
    pub fn of(&self, kind: ConcernKind) -> f32 {
        self.0[kind_index(kind)]
    }
}

fn kind_index(kind: ConcernKind) -> usize {
    ConcernKind::ALL
        .iter()
        .position(|&k| k == kind)
        .expect("every kind is in ALL")
}

impl Classifier {
    /// The model shipped in `models/`, its sparse rows read in place. Their every weight is
    /// checked to be a finite number by the tests (`Classifier::parse` of the same bytes),
    /// not at each start, which would bring all of them into memory.
    pub fn shipped() -> Result<Classifier, ModelError> {
        Classifier::parse_kept(Cow::Borrowed(SHIPPED_MODEL), shipped_vectors()?, false)
    }

    /// A model from its parts, as training makes them.
    pub fn new(header: ModelHeader, weights: Weights, vectors: Arc<WordVectors>) -> Classifier {
        Classifier {
            header,
            bias: weights.bias,
            dense: weights.dense,
            sparse: Cow::Owned(
                weights
                    .sparse
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect(),
            ),
            vectors,
        }
    }

    /// Reads a model file written by [`Classifier::to_bytes`], keeping a copy of its weights
    /// and checking every one of them.
    pub fn parse(bytes: &[u8], vectors: Arc<WordVectors>) -> Result<Classifier, ModelError> {
        Classifier::parse_kept(Cow::Owned(bytes.to_vec()), vectors, true)
    }

    fn parse_kept(
        kept: Cow<'static, [u8]>,
        vectors: Arc<WordVectors>,
        check_sparse: bool,
    ) -> Result<Classifier, ModelError> {
        let damaged = |why: &str| ModelError::Damaged(why.to_owned());
        let bytes: &[u8] = &kept;
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| damaged("it does not start with KSMODEL1"))?;
        let (len, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| damaged("it ends in its header"))?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(damaged("it ends in its header"));
        }
        let (header, rest) = rest.split_at(len);
        let header: ModelHeader = serde_json::from_slice(header)
            .map_err(|error| ModelError::Damaged(format!("its header: {error}")))?;
        let dims = vectors.dims();
        let buckets = header.buckets as usize;
        let expected = (CLASSES + dims * CLASSES + buckets * CLASSES) * 4;
        if rest.len() != expected || buckets == 0 {
            return Err(damaged(
                "its weights do not fit its header and the word vectors",
            ));
        }
        let (front, sparse) = rest.split_at((CLASSES + dims * CLASSES) * 4);
        let mut floats = front.chunks_exact(4).map(le_f32);
        let mut bias = [0f32; CLASSES];
        bias.iter_mut()
            .for_each(|b| *b = floats.next().unwrap_or_default());
        let dense: Vec<f32> = floats.collect();
        let finite = bias.iter().chain(&dense).all(|x| x.is_finite())
            && (!check_sparse || sparse.chunks_exact(4).map(le_f32).all(f32::is_finite));
        if !finite {
            return Err(damaged("a weight is not a finite number"));
        }
        let sparse_at = bytes.len() - sparse.len();
        let sparse = match kept {
            Cow::Borrowed(all) => Cow::Borrowed(&all[sparse_at..]),
            Cow::Owned(mut all) => {
                all.drain(..sparse_at);
                Cow::Owned(all)
            }
        };
        Ok(Classifier {
            header,
            bias,
            dense,
            sparse,
            vectors,
        })
    }

    /// The model file: magic, header length, header JSON, then the weights as little-endian
    /// f32 (bias, dense rows, sparse rows).
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("a header always serialises");
        let mut out = MAGIC.to_vec();
        out.extend((header.len() as u32).to_le_bytes());
        out.extend(header);
        for x in self.bias.iter().chain(&self.dense) {
            out.extend(x.to_le_bytes());
        }
        out.extend_from_slice(&self.sparse);
        out
    }

    /// The word vectors this model reads.
    pub fn vectors(&self) -> &Arc<WordVectors> {
        &self.vectors
    }

    /// The concern the scores of `text` reach, if any: the most serious kind at or above its
    /// clear threshold, else the most serious at or above its unsure one.
    pub fn check(&self, text: &str) -> Option<Concern> {
        self.concern(self.scores(text))
    }

    /// The concern `scores` reach, by the model's thresholds.
    pub fn concern(&self, scores: Scores) -> Option<Concern> {
        let reached = |certainty: Certainty| {
            ConcernKind::ALL.into_iter().find(|&kind| {
                let thresholds = self.header.thresholds[kind_index(kind)];
                let threshold = match certainty {
                    Certainty::Clear => thresholds.clear,
                    Certainty::Unsure => thresholds.unsure,
                };
                scores.of(kind) >= threshold
            })
        };
        Certainty::ALL
            .into_iter()
            .find_map(|certainty| reached(certainty).map(|kind| Concern { kind, certainty }))
    }

    /// The calibrated scores of `text`: per kind, the highest over the text's pieces.
    pub fn scores(&self, text: &str) -> Scores {
        self.scores_of_words(&normalise(text))
    }

    /// [`Classifier::scores`] of a text already normalised (by [`normalise`], perhaps with
    /// phrases taken out).
    pub(crate) fn scores_of_words(&self, words: &str) -> Scores {
        // Each word's own n-grams and word pieces are worked out once, for the whole text and
        // every window that holds it.
        let read = ReadWords::of(words, &self.vectors, self.header.buckets);
        let raw: Vec<[f32; CLASSES]> = piece_ranges(read.len())
            .into_iter()
            .map(|range| {
                raw_scores(
                    self.bias,
                    &self.dense,
                    |bucket| self.sparse_row(bucket),
                    &read.features(range, &self.vectors, self.header.dense_weight),
                )
            })
            .collect();
        best_of_pieces(&raw, self.header.temperature, self.header.window_blend)
    }

    /// The weights of one n-gram bucket, read from the little-endian rows.
    fn sparse_row(&self, bucket: usize) -> [f32; CLASSES] {
        let at = bucket * CLASSES * 4;
        self.sparse
            .get(at..at + CLASSES * 4)
            .map_or([0.0; CLASSES], |row| {
                std::array::from_fn(|class| le_f32(&row[class * 4..class * 4 + 4]))
            })
    }

    /// The features of one piece (already normalised words).
    pub fn features(&self, words: &str) -> Features {
        features(
            words,
            &self.vectors,
            self.header.buckets,
            self.header.dense_weight,
        )
    }
}

/// The raw scores of each class for `features`, by weights as training makes them.
pub(crate) fn logits(weights: &Weights, features: &Features) -> [f32; CLASSES] {
    raw_scores(
        weights.bias,
        &weights.dense,
        |bucket| {
            let at = bucket * CLASSES;
            weights
                .sparse
                .get(at..at + CLASSES)
                .and_then(|row| row.try_into().ok())
                .unwrap_or([0.0; CLASSES])
        },
        features,
    )
}

/// The raw scores of each class for `features`: `bias`, the `dense` rows (one per dimension)
/// and each bucket's row as `sparse_row` reads it.
fn raw_scores(
    bias: [f32; CLASSES],
    dense: &[f32],
    sparse_row: impl Fn(usize) -> [f32; CLASSES],
    features: &Features,
) -> [f32; CLASSES] {
    let mut z = bias;
    for (row, &x) in dense.chunks_exact(CLASSES).zip(&features.dense) {
        for (z, w) in z.iter_mut().zip(row) {
            *z += w * x;
        }
    }
    for &(bucket, x) in &features.sparse {
        for (z, w) in z.iter_mut().zip(sparse_row(bucket as usize)) {
            *z += w * x;
        }
    }
    z
}

/// A little-endian f32 from four bytes (zero from fewer, which the callers never pass).
fn le_f32(bytes: &[u8]) -> f32 {
    bytes.try_into().map_or(0.0, f32::from_le_bytes)
}

/// Per kind, the highest calibrated probability over a text's pieces, from their raw scores
/// (the whole text first, then its windows): each window's raw scores are first blended with
/// the whole text's, `blend` of the window's own and the rest of the whole's.
pub fn best_of_pieces(raw: &[[f32; CLASSES]], temperature: f32, blend: f32) -> Scores {
    let mut best = [0f32; 3];
    let Some(whole) = raw.first() else {
        return Scores(best);
    };
    for (index, piece) in raw.iter().enumerate() {
        let z: [f32; CLASSES] = if index == 0 {
            *piece
        } else {
            std::array::from_fn(|c| blend * piece[c] + (1.0 - blend) * whole[c])
        };
        let p = softmax(z, temperature);
        for (best, &p) in best.iter_mut().zip(&p[1..]) {
            *best = best.max(p);
        }
    }
    Scores(best)
}

/// Probabilities from raw scores, softened by `temperature`.
pub(crate) fn softmax(logits: [f32; CLASSES], temperature: f32) -> [f32; CLASSES] {
    let scaled = logits.map(|z| z / temperature);
    let max = scaled.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp = scaled.map(|z| (z - max).exp());
    let sum: f32 = exp.iter().sum();
    exp.map(|e| e / sum)
}

/// The pieces a text is scored in, each as normalised words: the whole text; and when it is
/// longer than [`SHORT`] words, windows of [`WINDOW`] words, each overlapping the last by half,
/// so a concern in the middle of a long message is read on its own. (Windows did better than
/// cutting at sentences on the training writers held out in turn: a sentence alone loses the
/// "I'm not..." of the one before it.)
pub(crate) fn pieces(text: &str) -> Vec<String> {
    pieces_of_words(&normalise(text))
}

/// [`pieces`] of a text already normalised.
pub(crate) fn pieces_of_words(whole: &str) -> Vec<String> {
    let words: Vec<&str> = whole.split(' ').filter(|w| !w.is_empty()).collect();
    piece_ranges(words.len())
        .into_iter()
        .enumerate()
        .map(|(at, range)| match at {
            0 => whole.to_owned(),
            _ => words[range].join(" "),
        })
        .collect()
}

/// The words of each of [`pieces_of_words`], as ranges of a text's `count` words: the whole
/// text first, then the windows.
fn piece_ranges(count: usize) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(1 + count / (WINDOW / 2));
    out.push(0..count);
    if count > SHORT {
        let mut start = 0;
        while start < count {
            let end = (start + WINDOW).min(count);
            out.push(start..end);
            if end == count {
                break;
            }
            start += WINDOW / 2;
        }
    }
    out
}

/// Texts of at most this many words are scored whole only.
const SHORT: usize = 12;
/// The width of a window over a long sentence, in words.
const WINDOW: usize = 20;

/// The features of `words` (normalised, separated by single spaces): word unigrams, bigrams
/// and skip-bigrams, and character 3-5-grams of each word with its edges marked, hashed into
/// `buckets`, counted sub-linearly and scaled to length 1; beside them the sentence vector.
pub fn features(words: &str, vectors: &WordVectors, buckets: u32, dense_weight: f32) -> Features {
    let read = ReadWords::of(words, vectors, buckets);
    read.features(0..read.len(), vectors, dense_weight)
}

/// A text's words, each with what it gives [`features`] on its own, whatever words surround
/// it: its unigram and character n-grams hashed, and its word pieces.
struct ReadWords<'a> {
    tokens: Vec<&'a str>,
    own: Vec<Vec<u32>>,
    pieces: Vec<Vec<u32>>,
    buckets: u32,
}

impl<'a> ReadWords<'a> {
    fn of(words: &'a str, vectors: &WordVectors, buckets: u32) -> ReadWords<'a> {
        let tokens: Vec<&str> = words.split(' ').filter(|w| !w.is_empty()).collect();
        let own = tokens
            .iter()
            .map(|token| {
                let mut hashed = vec![bucket(buckets, &[b"w", token.as_bytes()])];
                let marked: Vec<char> = std::iter::once('<')
                    .chain(token.chars())
                    .chain(std::iter::once('>'))
                    .collect();
                let mut gram = String::new();
                for n in 3..=5 {
                    for window in marked.windows(n) {
                        gram.clear();
                        gram.extend(window);
                        hashed.push(bucket(buckets, &[b"c", gram.as_bytes()]));
                    }
                }
                hashed
            })
            .collect();
        let pieces = tokens
            .iter()
            .map(|token| vectors.pieces_of(token))
            .collect();
        ReadWords {
            tokens,
            own,
            pieces,
            buckets,
        }
    }

    fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The features of the words in `range` alone (the whole text, or a window of it).
    fn features(&self, range: Range<usize>, vectors: &WordVectors, dense_weight: f32) -> Features {
        let tokens = self.tokens.get(range.clone()).unwrap_or_default();
        let own = self.own.get(range.clone()).unwrap_or_default();
        let mut hashed: Vec<u32> = Vec::with_capacity(tokens.len() * 16);
        // Words within a few of a negation ("not", "never", "dont") also count as negated
        // words, so "not suicidal" can weigh against "suicidal".
        let mut negated = 0;
        for (index, token) in tokens.iter().enumerate() {
            hashed.extend(&own[index]);
            if negated > 0 {
                hashed.push(bucket(self.buckets, &[b"n", token.as_bytes()]));
                negated -= 1;
            }
            if NEGATIONS.contains(token) {
                negated = NEGATION_SCOPE;
            }
            if let Some(next) = tokens.get(index + 1) {
                hashed.push(bucket(
                    self.buckets,
                    &[b"b", token.as_bytes(), next.as_bytes()],
                ));
            }
            if let Some(after) = tokens.get(index + 2) {
                hashed.push(bucket(
                    self.buckets,
                    &[b"s", token.as_bytes(), after.as_bytes()],
                ));
            }
        }
        hashed.sort_unstable();
        let mut sparse: Vec<(u32, f32)> = Vec::with_capacity(hashed.len());
        for bucket in hashed {
            match sparse.last_mut() {
                Some((last, count)) if *last == bucket => *count += 1.0,
                _ => sparse.push((bucket, 1.0)),
            }
        }
        for (_, value) in &mut sparse {
            *value = 1.0 + value.ln();
        }
        let norm = sparse.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            sparse.iter_mut().for_each(|(_, x)| *x /= norm);
        }
        let pieces = self.pieces.get(range).unwrap_or_default();
        let mut dense = vectors.embed_pieces(pieces.iter().map(Vec::as_slice));
        dense.iter_mut().for_each(|x| *x *= dense_weight);
        Features { sparse, dense }
    }
}

/// The bucket of an n-gram given as its parts (a kind letter, then its words or characters).
fn bucket(buckets: u32, parts: &[&[u8]]) -> u32 {
    let mut hash = FNV_OFFSET;
    for part in parts {
        for &byte in *part {
            hash = (hash ^ byte as u64).wrapping_mul(FNV_PRIME);
        }
        hash = (hash ^ 0xff).wrapping_mul(FNV_PRIME);
    }
    (hash % buckets as u64) as u32
}

/// Words that negate the few after them.
const NEGATIONS: [&str; 22] = [
    "not", "no", "never", "dont", "didnt", "doesnt", "isnt", "wasnt", "werent", "wont", "wouldnt",
    "havent", "hasnt", "hadnt", "aint", "nothing", "nobody", "none", "neither", "nor", "without",
    "arent",
];
/// How many words after a negation count as negated.
const NEGATION_SCOPE: usize = 4;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_model_read_in_place_is_the_model_checked_whole() {
        // Every weight of the shipped file is a finite number (the check `shipped` skips).
        let checked = Classifier::parse(SHIPPED_MODEL, shipped_vectors().unwrap())
            .expect("every weight is finite");
        let in_place = Classifier::shipped().unwrap();
        assert!(matches!(in_place.sparse, Cow::Borrowed(_)));
        assert!(matches!(checked.sparse, Cow::Owned(_)));
        assert_eq!(in_place.to_bytes(), SHIPPED_MODEL);
        assert_eq!(checked.to_bytes(), SHIPPED_MODEL);
        for text in [
            "i want to end it all",
            "we had a nice walk",
            "he hit me again",
        ] {
            assert_eq!(in_place.scores(text), checked.scores(text));
        }
        // A damaged weight is found when the whole is checked.
        let mut damaged = SHIPPED_MODEL.to_vec();
        let last = damaged.len() - 4;
        damaged[last..].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(Classifier::parse(&damaged, shipped_vectors().unwrap()).is_err());
    }

    #[test]
    fn short_texts_are_one_piece_and_long_ones_are_read_in_windows() {
        assert_eq!(pieces("I can't do this"), ["i cant do this"]);
        let words: Vec<String> = (0..45).map(|i| format!("w{i}")).collect();
        let pieces = pieces(&words.join(" "));
        assert_eq!(pieces[0], words.join(" "));
        assert_eq!(pieces[1], words[0..20].join(" "));
        assert_eq!(pieces[2], words[10..30].join(" "));
        assert_eq!(pieces.last().unwrap(), &words[30..45].join(" "));
        assert_eq!(pieces.len(), 5);
    }

    #[test]
    fn features_have_length_one_and_sorted_buckets() {
        let vectors = WordVectors::parse(SHIPPED_VECTORS).unwrap();
        let f = features("i am not ok", &vectors, 1 << 12, 1.0);
        let norm: f32 = f.sparse.iter().map(|(_, x)| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4);
        assert!(f.sparse.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(f.dense.len(), vectors.dims());
        assert!(features("", &vectors, 16, 1.0).sparse.is_empty());
    }

    #[test]
    fn windows_are_blended_with_the_whole_text() {
        let whole = [2.0, 0.0, 0.0, 0.0];
        let window = [0.0, 2.0, 0.0, 0.0];
        let alone = best_of_pieces(&[whole, window], 1.0, 1.0);
        assert_eq!(alone.0[0], softmax(window, 1.0)[1]);
        let blended = best_of_pieces(&[whole, window], 1.0, 0.5);
        assert_eq!(blended.0[0], softmax([1.0, 1.0, 0.0, 0.0], 1.0)[1]);
        assert!(blended.0[0] < alone.0[0]);
        assert_eq!(best_of_pieces(&[], 1.0, 0.5), Scores([0.0; 3]));
    }
}
