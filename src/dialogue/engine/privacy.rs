//! A person's data rights: `/export` (asks the rings for everything kept about the person, as
//! a file) and `/forget` (after a confirmation, everything deleted). `/privacy` is a message in
//! `bot.toml`.

use super::{Attachment, Button, Effect, Keyboard, PersonState, Reply, Turn};
use crate::dialogue::callback::{self, Action};

impl Turn<'_> {
    /// `/privacy`: what is kept and for how long, as configured.
    pub(super) fn privacy(&mut self) {
        let retention = match self.library.retention_days() {
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
            attachment: Some(Attachment::Export),
        });
    }

    /// `/forget`: asks first, since it cannot be undone.
    pub(super) fn ask_to_forget(&mut self) {
        self.state.seq = self.state.seq.wrapping_add(1);
        self.state.keyboard = Keyboard::Forget;
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
            // A link ends first: the partner's shared items go with it.
            self.end_link();
            self.state = PersonState::default();
            self.effects.clear();
            self.effects.push(Effect::Forget);
            self.note("forget_done");
        } else {
            self.state.keyboard = Keyboard::Nothing;
            self.note("forget_kept");
            self.show_current();
        }
    }
}
