//! What the crisis screen reports: the kind of concern (self-harm, violence, abuse) and how sure
//! it is (clear, or unsure: ask a gentle question first).

use serde::{Deserialize, Serialize};

/// What a message may be about, in priority order: self-harm first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConcernKind {
    SelfHarm,
    Violence,
    Abuse,
}

impl ConcernKind {
    /// Every kind, most serious first.
    pub const ALL: [ConcernKind; 3] = [
        ConcernKind::SelfHarm,
        ConcernKind::Violence,
        ConcernKind::Abuse,
    ];

    /// The kind's name, as written in the pattern file.
    pub fn as_str(self) -> &'static str {
        match self {
            ConcernKind::SelfHarm => "self-harm",
            ConcernKind::Violence => "violence",
            ConcernKind::Abuse => "abuse",
        }
    }
}

/// How sure a match is: `Clear` means the safety message at once, `Unsure` a gentle question first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Certainty {
    Clear,
    Unsure,
}

impl Certainty {
    /// Both, the surer first.
    pub const ALL: [Certainty; 2] = [Certainty::Clear, Certainty::Unsure];

    /// The list's name, as written in the pattern file.
    pub fn as_str(self) -> &'static str {
        match self {
            Certainty::Clear => "clear",
            Certainty::Unsure => "unsure",
        }
    }
}

/// One concern found in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concern {
    pub kind: ConcernKind,
    pub certainty: Certainty,
}

impl Concern {
    /// Lower is more serious: clear before unsure, then self-harm, violence, abuse.
    pub(crate) fn rank(self) -> (u8, ConcernKind) {
        let certainty = match self.certainty {
            Certainty::Clear => 0,
            Certainty::Unsure => 1,
        };
        (certainty, self.kind)
    }
}
