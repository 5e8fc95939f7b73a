//! The dialogue core: the flow model, loading and validation with diagnostics, the engine,
//! button data, transcripts and graphs. Everything here is pure: no I/O, no clock, no
//! teloxide, redis or tokio.

pub(crate) mod callback;
pub mod compile;
pub mod engine;
pub mod faq;
pub mod graph;
pub mod model;
pub mod pair;
pub mod progress;
pub(crate) mod review;
pub mod source;
pub mod state;
pub(crate) mod template;
pub mod transcript;

pub use compile::compile;
pub use engine::{Button, Input, Outcome, Reply, advance};
pub use model::{Flow, FlowId, Library, Role, Stage, StepId};
pub use source::SourceFile;
pub use state::{Answer, Keyboard, PersonState, Position};
