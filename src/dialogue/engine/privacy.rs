//! A person's data rights: `/export` (everything kept about them, as a JSON file) and
//! `/forget` (after a confirmation, everything deleted). `/privacy` is a message in
//! `bot.toml`.

use chrono::DateTime;

use super::{Attachment, AttachmentKind, Button, Effect, PersonState, Reply, Screen, Turn};
use crate::dialogue::callback::{self, Action};

/// The file `/export` sends.
pub const EXPORT_FILE_NAME: &str = "kintsugi-export.json";

/// Everything kept about a person, as the JSON `/export` sends: their whole state, with
/// times also written out in UTC so the file reads without tools.
pub fn export_json(state: &PersonState, now: i64) -> String {
    let when = |at: i64| {
        DateTime::from_timestamp(at, 0)
            .map(|time| time.to_rfc3339())
            .unwrap_or_default()
    };
    let checkins: Vec<serde_json::Value> = state
        .history
        .iter()
        .map(|entry| serde_json::json!({ "at": when(entry.at), "answers": entry.answers }))
        .collect();
    let answers: serde_json::Map<String, serde_json::Value> = state
        .answers
        .iter()
        .map(|(flow, answers)| {
            let answers: serde_json::Map<String, serde_json::Value> = answers
                .iter()
                .map(|(name, answer)| {
                    (
                        name.clone(),
                        serde_json::json!({ "value": answer.value, "at": when(answer.at) }),
                    )
                })
                .collect();
            (flow.0.clone(), serde_json::Value::Object(answers))
        })
        .collect();
    let document = serde_json::json!({
        "about": "Everything Kintsugi keeps about you, as of exported_at. Times are in UTC.",
        "exported_at": when(now),
        "answers": answers,
        "checkins": checkins,
        "checkin_reminders": state.checkin,
        "role": state.role,
        "where_you_are": state.position,
        "safety_episode": state.safety,
        "rebuilding_conversations_paused": state.coaching_off,
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

impl Turn<'_> {
    /// `/privacy`: what is kept and for how long, as configured.
    pub(super) fn privacy(&mut self) {
        let retention = match self.library.retention_days {
            Some(days) => self
                .bot_message("privacy_retention")
                .replace("{days}", &days.to_string()),
            None => self.bot_message("privacy_retention_none"),
        };
        let text = self
            .bot_message("privacy")
            .replace("{retention}", &retention);
        self.say(text);
    }

    /// `/export`: the person's data as a file.
    pub(super) fn export(&mut self) {
        self.replies.push(Reply {
            text: self.bot_message("export"),
            buttons: Vec::new(),
            attachment: Some(Attachment {
                kind: AttachmentKind::Document,
                name: EXPORT_FILE_NAME.to_owned(),
                bytes: export_json(&self.state, self.now).into_bytes(),
            }),
        });
    }

    /// `/forget`: asks first, since it cannot be undone.
    pub(super) fn ask_to_forget(&mut self) {
        self.state.seq = self.state.seq.wrapping_add(1);
        self.state.screen = Screen::Forget;
        let seq = self.state.seq;
        let button = |key: &str, confirmed: bool| Button {
            label: self.bot_message(key),
            data: callback::encode(seq, &Action::Forget(confirmed)),
        };
        let buttons = vec![button("forget_yes", true), button("forget_no", false)];
        self.replies.push(Reply {
            text: self.bot_message("forget_confirm"),
            buttons,
            attachment: None,
        });
    }

    pub(super) fn forget_answered(&mut self, confirmed: bool) {
        if confirmed {
            self.state = PersonState::default();
            self.effects.clear();
            self.effects.push(Effect::Forget);
            self.note("forget_done");
        } else {
            self.state.screen = Screen::Nothing;
            self.note("forget_kept");
            self.show_current();
        }
    }
}
