//! Safety before coaching: the crisis screen that every text passes first. What the bot then
//! says and does (a safety episode, the flow paused) is the engine's; this module only
//! recognises.
//!
//! - [`checking`]: words about a partner checking phones and messages, and nothing more.
//! - [`concern`]: what the screen reports; [`normalise`]: the text as both layers read it.
//! - [`patterns`]: the coach's patterns from `dialogues/crisis-language.toml`, and the ignore list.
//! - [`vectors`]: the static word-piece vectors the classifier reads (`models/word-vectors.bin`).
//! - [`classifier`]: the learned layer (`models/crisis-screen.bin`), scored sentence by sentence.
//! - [`training`]: how the classifier is trained from `corpus/safety/train/`.
//! - [`screen`]: both layers combined into the verdict the bot acts on.

pub mod checking;
pub mod classifier;
pub mod concern;
pub mod normalise;
pub mod patterns;
pub mod screen;
pub mod training;
pub mod vectors;

pub use classifier::Classifier;
pub use concern::{Certainty, Concern, ConcernKind};
pub use normalise::normalise;
pub use patterns::{PatternScreen, ScreenError};
pub use screen::{BuildError, CrisisScreen, Explanation, Layer};
