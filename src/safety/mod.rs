//! Safety before coaching: the crisis-language screen that every text passes first. What the
//! bot then says and does (a safety episode, the flow paused) is the engine's; this module
//! only recognises.

pub mod screen;

pub use screen::{Certainty, Concern, ConcernKind, CrisisScreen, ScreenError};
