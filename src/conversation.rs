//! Runs one input for one person against storage: read the state, let the engine decide,
//! write the new state with compare-and-set, and retry if another instance wrote first. Shared
//! by the shell and (later) the Telegram handlers.

use crate::dialogue::{Input, Library, Reply, advance};
use crate::storage::{PersonId, Saved, Storage, StorageError};

/// How often a write that lost a compare-and-set race is retried before giving up.
const MAX_ATTEMPTS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the state of a person kept changing under {MAX_ATTEMPTS} attempts to update it")]
    Contended,
}

/// Handles `input` from `person` at `now` (seconds since the epoch); returns the replies.
pub async fn handle(
    storage: &Storage,
    library: &Library,
    person: PersonId,
    input: &Input,
    now: i64,
) -> Result<Vec<Reply>, ConversationError> {
    for _ in 0..MAX_ATTEMPTS {
        let stored = storage.load(person, now).await?;
        let outcome = advance(library, &stored.state, input, now);
        if !outcome.changed {
            return Ok(outcome.replies);
        }
        match storage
            .save(person, &outcome.state, stored.version, now)
            .await?
        {
            Saved::Written { .. } => return Ok(outcome.replies),
            Saved::Conflict => continue,
        }
    }
    Err(ConversationError::Contended)
}
