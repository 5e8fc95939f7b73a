//! Couples mode in the engine: `/invite` and the private check before linking, opening an
//! invitation, `/unlink`, `/together`, shared questions and their reveal, and keeping linking
//! aside once a person shows a concern. The pair's record is the caller's to read and write:
//! the engine asks for what it needs as a [`CoupleAction`] and hears what came of it as
//! [`Input::Couple`]. Notices for the partner are discreet: never their words, never why.

use std::collections::BTreeMap;

use crate::dialogue::callback::{self, Action, CoupleButton, RuleButton};
use crate::dialogue::model::{Flow, FlowId, StepKind};
use crate::dialogue::pair::{INVITATION_LIFETIME, PairChange, PairNews, PairState, Side};
use crate::dialogue::review::{self, Note};
use crate::dialogue::state::{Answer, Couple, Keyboard};
use crate::dialogue::template::PARTNER_PREFIX;

use super::{Button, CoupleAction, CoupleEvent, Reply, Turn, named};

/// The flow of private questions each partner answers, alone, before a link is made.
pub const CHECK_FLOW: &str = "couple-check";

/// The buttons under an invitation's consent question, and under `/unlink`'s.
const JOIN_BUTTONS: [(&str, CoupleButton); 2] = [
    ("join_accept_button", CoupleButton::Join),
    ("join_decline_button", CoupleButton::Decline),
];
const UNLINK_BUTTONS: [(&str, CoupleButton); 2] = [
    ("unlink_yes_button", CoupleButton::Unlink),
    ("unlink_no_button", CoupleButton::Stay),
];

/// The button under a shared question answered and waiting: "I'm ready" while one's own
/// answer is held back, else "Not yet".
fn shared_button(held: bool) -> (&'static str, CoupleButton) {
    if held {
        ("ready_button", CoupleButton::Ready)
    } else {
        ("not_yet_button", CoupleButton::Hold)
    }
}

impl<'a> Turn<'a> {
    /// Brings the person's link up to date with the pair's record as their caller read it:
    /// an accepted invitation becomes a link, a link whose record is gone (the partner ended
    /// it) is forgotten, an invitation past its day lapses.
    pub(super) fn settle_link(&mut self) {
        match (&self.state.couple, self.together.pair) {
            (Some(Couple::Inviting { pair, .. }), Some((record, _))) => {
                self.state.couple = Some(Couple::Linked {
                    pair: *pair,
                    since: record.since,
                });
            }
            (Some(Couple::Inviting { expires, .. }), None) if *expires <= self.now => {
                self.state.couple = None;
            }
            (Some(Couple::Linked { .. }), None) => self.state.couple = None,
            _ => {}
        }
    }

    /// The pair's record, this person's side and the pair's id, while they are linked.
    pub(super) fn linked(&self) -> Option<(&'a PairState, Side, i64)> {
        match (&self.state.couple, self.together.pair) {
            (Some(Couple::Linked { pair, .. }), Some((record, side))) => {
                Some((record, side, *pair))
            }
            _ => None,
        }
    }

    /// The flows on the person's menu: those for their role (and not set aside after a
    /// sign of abuse), couple flows only while they are linked.
    pub(super) fn menu(&self) -> impl Iterator<Item = &'a Flow> + use<'a> {
        let linked = self.linked().is_some();
        self.library
            .menu_for(self.state.role, self.state.coaching_off)
            .filter(move |flow| linked || !flow.couple)
    }

    /// Once a person shows a concern (a sign of abuse, or a safety reply they confirmed),
    /// linking stops, quietly: their invitation is withdrawn, the one they were joining is
    /// given up (its inviter hears only that it could not be completed), and after a sign of
    /// abuse a link ends as if they had unlinked. Runs after every input.
    pub(super) fn guard_link(&mut self) {
        let episode = self
            .state
            .safety
            .as_ref()
            .is_some_and(|episode| episode.confirmed);
        if !self.state.coaching_off && !episode {
            return;
        }
        let action = match self.state.couple.clone() {
            None => return,
            // A safety reply alone (words about hurting oneself, say) does not end a link.
            Some(Couple::Linked { .. }) if !self.state.coaching_off => return,
            Some(Couple::Inviting { token, .. }) => CoupleAction::Withdraw { token },
            Some(Couple::Joining { token, inviter, .. }) => {
                self.for_partner
                    .push(Reply::text(self.bot_message("link_not_completed")));
                CoupleAction::Abandon { token, inviter }
            }
            Some(Couple::Linked { pair, .. }) => {
                self.for_partner
                    .push(Reply::text(self.bot_message("unlinked_notice")));
                CoupleAction::Unlink { pair }
            }
        };
        self.state.couple = None;
        self.couple = Some(action);
        self.note("link_alone");
    }

    /// `/invite`: what linking is, then the private check; the invitation is made at its end.
    pub(super) fn invite(&mut self) {
        match &self.state.couple {
            Some(Couple::Linked { .. }) => {
                self.note("already_linked");
                self.show_current();
                return;
            }
            // Opening someone's invitation and then inviting instead: the invitation opened
            // stays as it was, for its inviter's partner to use.
            Some(Couple::Joining { .. }) => self.state.couple = None,
            _ => {}
        }
        self.note("invite_intro");
        self.enter_flow(&FlowId(CHECK_FLOW.to_owned()));
    }

    /// The end of the private check: make the invitation, or accept the one being joined;
    /// nothing when a concern is open (the check's worrying answers never lead here).
    pub(super) fn checked_before_linking(&mut self) {
        if self.state.coaching_off || self.state.safety.is_some() {
            self.set_linking_aside();
            return;
        }
        match self.state.couple.clone() {
            Some(Couple::Joining { token, pair, .. }) => {
                self.couple = Some(CoupleAction::Join { token, pair });
            }
            Some(Couple::Linked { .. }) => self.note("already_linked"),
            previous => {
                let Some((token, pair)) = self.together.fresh else {
                    self.note("invite_failed");
                    return;
                };
                let replacing = match previous {
                    Some(Couple::Inviting { token, .. }) => Some(token),
                    _ => None,
                };
                let expires = self.now + INVITATION_LIFETIME;
                self.state.couple = Some(Couple::Inviting {
                    token: token.to_owned(),
                    pair,
                    expires,
                });
                self.couple = Some(CoupleAction::Invite {
                    token: token.to_owned(),
                    pair,
                    expires,
                    replacing,
                });
                self.note("invite_made");
                let link = match self.together.invite_link {
                    Some(prefix) => format!("{prefix}{token}"),
                    None => format!("/start {token}"),
                };
                let card = self.bot_message("invite_card").replace("{link}", &link);
                self.say(card);
            }
        }
    }

    /// The private check set linking aside: withdraw the invitation, or give up the one being
    /// joined (its inviter hears only that it could not be completed).
    pub(super) fn set_linking_aside(&mut self) {
        match self.state.couple.take() {
            Some(Couple::Joining { token, inviter, .. }) => {
                self.for_partner
                    .push(Reply::text(self.bot_message("link_not_completed")));
                self.couple = Some(CoupleAction::Abandon { token, inviter });
            }
            Some(Couple::Inviting { token, .. }) => {
                self.couple = Some(CoupleAction::Withdraw { token });
            }
            kept => self.state.couple = kept,
        }
    }

    /// Asks `text_key`'s question with two couples-mode buttons under a new `keyboard`.
    fn ask_couple(
        &mut self,
        text_key: &str,
        keyboard: Keyboard,
        buttons: [(&str, CoupleButton); 2],
    ) {
        let buttons = buttons.map(|(key, action)| (self.bot_message(key), Action::Couple(action)));
        self.say_with_buttons(self.bot_message(text_key), keyboard, buttons);
    }

    /// `/continue`: where the person was, including the couples-mode screens that have no
    /// step (the rules, a rule being written, an invitation's consent question), which are
    /// shown again instead of the menu, so whatever they type next still means what it did.
    pub(super) fn continue_where_left(&mut self) {
        if self.state.position.is_some() || self.state.safety.is_some() {
            self.show_current();
            return;
        }
        match self.state.keyboard {
            Keyboard::Rules if self.linked().is_some() => self.shared_rules(),
            Keyboard::Propose if self.linked().is_some() => self.note("rules_propose_ask"),
            Keyboard::Join if matches!(self.state.couple, Some(Couple::Joining { .. })) => {
                self.ask_couple("join_consent", Keyboard::Join, JOIN_BUTTONS);
            }
            _ => self.show_current(),
        }
    }

    /// `/start <token>`: look the invitation up.
    pub(super) fn open_invitation(&mut self, token: &str) {
        self.couple = Some(CoupleAction::Open {
            token: token.to_owned(),
        });
    }

    /// `/unlink`: asks first; withdraws a pending invitation at once.
    pub(super) fn unlink(&mut self) {
        match self.state.couple.clone() {
            Some(Couple::Linked { .. }) if self.linked().is_some() => {
                self.ask_couple("unlink_confirm", Keyboard::Unlink, UNLINK_BUTTONS);
            }
            Some(Couple::Inviting { token, .. }) => {
                self.state.couple = None;
                self.couple = Some(CoupleAction::Withdraw { token });
                self.note("invite_withdrawn");
                self.show_current();
            }
            _ => {
                self.state.couple = None;
                self.note("not_linked");
                self.show_current();
            }
        }
    }

    /// Ends the link at once (the person confirmed `/unlink`, or asked to forget everything).
    pub(super) fn end_link(&mut self) {
        match self.state.couple.take() {
            Some(Couple::Linked { pair, .. }) => {
                self.for_partner
                    .push(Reply::text(self.bot_message("unlinked_notice")));
                self.couple = Some(CoupleAction::Unlink { pair });
            }
            Some(Couple::Inviting { token, .. }) => {
                self.couple = Some(CoupleAction::Withdraw { token });
            }
            Some(Couple::Joining { token, inviter, .. }) => {
                self.for_partner
                    .push(Reply::text(self.bot_message("link_not_completed")));
                self.couple = Some(CoupleAction::Abandon { token, inviter });
            }
            None => {}
        }
    }

    /// A couples-mode button.
    pub(super) fn couple_pressed(&mut self, button: CoupleButton, keyboard: &Keyboard) {
        match (button, keyboard) {
            (CoupleButton::Join, Keyboard::Join)
                if matches!(self.state.couple, Some(Couple::Joining { .. })) =>
            {
                self.enter_flow(&FlowId(CHECK_FLOW.to_owned()));
            }
            (CoupleButton::Decline, Keyboard::Join) => {
                if matches!(self.state.couple, Some(Couple::Joining { .. })) {
                    self.state.couple = None;
                }
                self.note("join_declined");
                self.carry_on();
            }
            (CoupleButton::Unlink, Keyboard::Unlink) => {
                self.end_link();
                self.note("unlinked");
                self.show_menu();
            }
            (CoupleButton::Propose, Keyboard::Rules) => self.ask_for_rule(),
            (CoupleButton::ShareRatings | CoupleButton::StopRatings, Keyboard::Menu) => {
                match self.linked() {
                    Some((_, _, pair)) => {
                        self.couple = Some(CoupleAction::Change {
                            pair,
                            change: PairChange::ShareRatings {
                                on: button == CoupleButton::ShareRatings,
                            },
                        });
                    }
                    None => self.stale(),
                }
            }
            (CoupleButton::Stay, Keyboard::Unlink) => {
                self.state.keyboard = Keyboard::Nothing;
                self.show_current();
            }
            (CoupleButton::Hold | CoupleButton::Ready, Keyboard::Shared) => {
                let held = button == CoupleButton::Hold;
                match (self.shared_item(), self.linked()) {
                    (Some(item), Some((_, _, pair))) => {
                        self.couple = Some(CoupleAction::Change {
                            pair,
                            change: PairChange::Hold { item, held },
                        });
                    }
                    _ => self.stale(),
                }
            }
            _ => self.stale(),
        }
    }

    /// A couples-mode button's label typed instead of tapped ("yes, link us", "I'm ready to
    /// see them", "propose a rule"): pressed, as the tap would. Returns whether it was.
    pub(super) fn couple_button_typed(&mut self, text: &str) -> bool {
        let keyboard = self.state.keyboard.clone();
        let held = || {
            self.shared_item()
                .zip(self.linked())
                .and_then(|(item, (record, side, _))| record.view(&item, side).mine)
                .is_some_and(|mine| mine.held)
        };
        let shown: Vec<(&str, CoupleButton)> = match keyboard {
            Keyboard::Join => JOIN_BUTTONS.to_vec(),
            Keyboard::Unlink => UNLINK_BUTTONS.to_vec(),
            Keyboard::Shared => vec![shared_button(held())],
            Keyboard::Rules => vec![("rules_propose_button", CoupleButton::Propose)],
            _ => return false,
        };
        let buttons: Vec<(String, Vec<&str>, CoupleButton)> = shown
            .into_iter()
            .map(|(key, button)| (self.bot_message(key), Vec::new(), button))
            .collect();
        let Some(button) = named::pressed_by(&buttons, text) else {
            return false;
        };
        self.couple_pressed(button, &keyboard);
        true
    }

    /// Where a person goes after a word about linking: their welcome if they are new, else
    /// where they were.
    fn carry_on(&mut self) {
        if self.state.role.is_none() && self.state.position.is_none() {
            let start = self.library.bot.start_flow.clone();
            self.enter_flow(&start);
        } else {
            self.show_current();
        }
    }

    /// The key of the shared question at the person's position, if they are at one.
    fn shared_item(&self) -> Option<String> {
        let (flow, step) = self.current_step()?;
        match &step.kind {
            StepKind::Ask {
                save,
                reveal: Some(_),
                ..
            } => Some(PairState::item_key(&flow.id.0, save)),
            _ => None,
        }
    }

    /// Typed text at a shared question: the answer goes to the pair's record, kept from the
    /// partner until both have answered. Returns false when the step is not shared.
    pub(super) fn answer_shared(&mut self, text: &str) -> bool {
        let Some(item) = self.shared_item() else {
            return false;
        };
        let Some((record, side, pair)) = self.linked() else {
            self.note("not_linked");
            self.show_menu();
            return true;
        };
        if record.view(&item, side).mine.is_some() {
            self.note("use_buttons");
            self.show_current();
            return true;
        }
        let Some((flow, step)) = self.current_step() else {
            return false;
        };
        let StepKind::Ask {
            rule,
            save,
            before_sharing,
            ..
        } = &step.kind
        else {
            return false;
        };
        match self.check_answer(rule, text) {
            Ok(value) => {
                // Written again word for word (or shared as it is by the button): the notes
                // were read, and it goes as it is.
                let confirmed = self
                    .state
                    .unshared
                    .take()
                    .is_some_and(|unshared| unshared.value == value);
                if !confirmed {
                    let shown = self.notes_before_sharing(flow, save, before_sharing, &value);
                    if !shown.is_empty() {
                        self.state.unshared = Some(Answer {
                            value,
                            at: self.now,
                        });
                        let text = self.noted(shown, "share_or_rewrite");
                        self.offer_share(text);
                        return true;
                    }
                }
                self.state.kept = None;
                self.couple = Some(CoupleAction::Change {
                    pair,
                    change: PairChange::Answer {
                        item,
                        value,
                        at: self.now,
                    },
                });
            }
            Err(note) => self.refused(rule, text, note),
        }
        true
    }

    /// The notes of a shared question (`notes`, in `flow`, saving `save`) that apply to
    /// `value` before the partner can read it, as shown.
    fn notes_before_sharing(
        &self,
        flow: &Flow,
        save: &str,
        notes: &[Note],
        value: &str,
    ) -> Vec<String> {
        let answers = self.state.answers.get(&flow.id);
        let lookup = |name: &str| {
            if name == save {
                Some(value)
            } else {
                answers
                    .and_then(|answers| answers.get(name))
                    .map(|answer| answer.value.as_str())
            }
        };
        review::notes_for(notes, value)
            .map(|note| note.text.render(lookup))
            .collect()
    }

    /// Notes shown before sharing, between "Before your partner reads this:" and `then`
    /// (what the person can do now).
    fn noted(&self, shown: Vec<String>, then: &str) -> String {
        [
            self.bot_message("before_sharing"),
            shown.join("\n\n"),
            self.bot_message(then),
        ]
        .join("\n\n")
    }

    /// `text` with a button that shares the answer waiting after its notes as it is.
    pub(super) fn offer_share(&mut self, text: String) {
        let label = self.bot_message("share_as_is_button");
        self.say_with_buttons(text, Keyboard::Ask, [(label, Action::UseKept)]);
    }

    /// Shows a shared question whose answer is in, waiting: the partner has not answered,
    /// or one of them said "not yet".
    pub(super) fn show_waiting(&mut self, record: &PairState, side: Side, item: &str) {
        let view = record.view(item, side);
        let held = view.mine.is_some_and(|mine| mine.held);
        let key = if held {
            "shared_held_mine"
        } else if view.partner_answered {
            "shared_held"
        } else {
            "shared_saved"
        };
        let (label, action) = shared_button(held);
        let buttons = [
            (self.bot_message(label), Action::Couple(action)),
            (self.bot_message("menu_button"), Action::Menu),
        ];
        self.say_with_buttons(self.bot_message(key), Keyboard::Shared, buttons);
    }

    /// The shared answers of `flow` as its texts show them: the person's own as `{name}`,
    /// the partner's as `{partner.name}` once revealed.
    pub(super) fn shared_values(&self, flow: &Flow) -> BTreeMap<String, String> {
        let mut values = BTreeMap::new();
        let Some((record, side, _)) = self.linked() else {
            return values;
        };
        for save in flow.shared_answers() {
            let view = record.view(&PairState::item_key(&flow.id.0, save), side);
            if let Some(mine) = view.mine {
                values.insert(save.to_owned(), mine.value.clone());
            }
            if let Some(theirs) = view.theirs {
                values.insert(format!("{PARTNER_PREFIX}{save}"), theirs.value.clone());
            }
        }
        values
    }

    /// `/together`: the shared exercises and where each stands, and the couple flows.
    pub(super) fn together(&mut self) {
        let Some((record, side, _)) = self.linked() else {
            let key = match self.state.couple {
                Some(Couple::Inviting { .. }) => "invite_pending",
                _ => "not_linked",
            };
            self.note(key);
            self.show_current();
            return;
        };
        let flows: Vec<&Flow> = self.menu().filter(|flow| flow.couple).collect();
        let mut lines = Vec::new();
        for flow in &flows {
            for save in flow.shared_answers() {
                let view = record.view(&PairState::item_key(&flow.id.0, save), side);
                let key = match (view.mine.is_some(), view.partner_answered, view.revealed) {
                    (_, _, Some(_)) => "together_revealed",
                    (true, _, None) => "together_waiting_partner",
                    (false, true, None) => "together_waiting_you",
                    (false, false, None) => "together_open",
                };
                lines.push(format!("• {}: {}", flow.title, self.bot_message(key)));
            }
        }
        let mut text = if lines.is_empty() {
            self.bot_message("together_empty")
        } else {
            format!(
                "{}\n\n{}",
                self.bot_message("together_intro"),
                lines.join("\n")
            )
        };
        let sharing = match (
            record.shares_ratings(side),
            record.shares_ratings(side.other()),
        ) {
            (true, true) => Some("together_ratings_both"),
            (true, false) => Some("together_ratings_you"),
            (false, true) => Some("together_ratings_partner"),
            (false, false) => None,
        };
        if let Some(key) = sharing {
            text = format!("{text}\n\n{}", self.bot_message(key));
        }
        self.state.position = None;
        self.state.seq = self.state.seq.wrapping_add(1);
        self.state.keyboard = Keyboard::Menu;
        let seq = self.state.seq;
        let mut buttons: Vec<Button> = flows
            .iter()
            .map(|flow| Button {
                label: flow.title.clone(),
                data: callback::encode(seq, &Action::OpenFlow(flow.id.0.clone())),
            })
            .collect();
        let (label, action) = if record.shares_ratings(side) {
            ("together_ratings_off_button", CoupleButton::StopRatings)
        } else {
            ("together_ratings_on_button", CoupleButton::ShareRatings)
        };
        buttons.push(Button {
            label: self.bot_message(label),
            data: callback::encode(seq, &Action::Couple(action)),
        });
        buttons.push(Button {
            label: self.bot_message("menu_button"),
            data: callback::encode(seq, &Action::Menu),
        });
        self.replies.push(Reply {
            text,
            buttons,
            attachment: None,
        });
    }

    /// A check-in was recorded: its rating goes to the partner too, while both share them.
    pub(super) fn share_rating(&mut self) {
        let Some((record, _, pair)) = self.linked() else {
            return;
        };
        if !record.sharing_ratings() {
            return;
        }
        let rating = self
            .state
            .history
            .last()
            .and_then(|entry| entry.answers.get("rating"))
            .and_then(|rating| super::answers::first_integer(rating))
            .map(|rating| u8::try_from(rating.clamp(0, 10)).unwrap_or(0));
        if let Some(rating) = rating {
            self.couple = Some(CoupleAction::Change {
                pair,
                change: PairChange::Rate {
                    rating,
                    at: self.now,
                },
            });
        }
    }

    /// After sharing a rating: the partner's latest one the person may now see, beside theirs,
    /// and a gentle word when the two are far apart.
    fn compare_ratings(&mut self) {
        let Some((record, side, _)) = self.linked() else {
            return;
        };
        let mine = record
            .ratings
            .iter()
            .rev()
            .find(|rating| rating.side == side)
            .map(|rating| rating.rating);
        let theirs = record
            .partner_ratings(side)
            .last()
            .map(|rating| rating.rating);
        match (mine, theirs) {
            (Some(mine), Some(theirs)) => {
                let text = self
                    .bot_message("ratings_compare")
                    .replace("{mine}", &mine.to_string())
                    .replace("{partner}", &theirs.to_string());
                self.say(text);
                if mine.abs_diff(theirs) >= RATINGS_APART {
                    self.note("ratings_apart");
                }
            }
            _ => self.note("ratings_shared_first"),
        }
    }

    /// What came of the couples-mode action the previous pass asked for.
    pub(super) fn couple_event(&mut self, event: &CoupleEvent) {
        match event {
            CoupleEvent::Opened { token, found } => match (found, &self.state.couple) {
                (_, Some(Couple::Linked { .. })) => {
                    self.note("already_linked");
                    self.show_current();
                }
                (None, _) => {
                    self.note("invite_unusable");
                    self.carry_on();
                }
                (Some((inviter, pair)), _) => {
                    self.state.couple = Some(Couple::Joining {
                        token: token.clone(),
                        inviter: *inviter,
                        pair: *pair,
                    });
                    self.state.position = None;
                    self.ask_couple("join_consent", Keyboard::Join, JOIN_BUTTONS);
                }
            },
            CoupleEvent::OwnInvitation => {
                self.note("invite_own");
                self.show_current();
            }
            CoupleEvent::Joined { pair, since } => {
                self.state.couple = Some(Couple::Linked {
                    pair: *pair,
                    since: *since,
                });
                self.note("linked");
                self.for_partner
                    .push(Reply::text(self.bot_message("linked_notice")));
                self.carry_on();
            }
            CoupleEvent::NotJoined => {
                if matches!(self.state.couple, Some(Couple::Joining { .. })) {
                    self.state.couple = None;
                }
                self.note("invite_unusable");
                self.carry_on();
            }
            CoupleEvent::Changed { news, tell } => match news {
                PairNews::Proposed { .. }
                | PairNews::Agreed { .. }
                | PairNews::Withdrawn { .. }
                | PairNews::Declined { .. } => {
                    let key = match news {
                        PairNews::Proposed { .. } => "rules_proposed",
                        PairNews::Agreed { .. } => "rules_agreed",
                        PairNews::Declined { .. } => "rules_declined",
                        _ => "rules_withdrawn",
                    };
                    self.note(key);
                    self.tell_partner(*tell, "rules_notice");
                    self.shared_rules();
                }
                PairNews::Quiet => {
                    self.note("rules_withdrawn");
                    self.shared_rules();
                }
                PairNews::Refused if self.state.keyboard == Keyboard::Rules => {
                    self.note("stale_button");
                    self.shared_rules();
                }
                PairNews::Refused => self.show_current(),
                PairNews::SharingRatings { both } => {
                    self.note(if *both {
                        "ratings_on_both"
                    } else {
                        "ratings_on_waiting"
                    });
                    self.tell_partner(*tell, "shared_ready_notice");
                    self.together();
                }
                PairNews::RatingsStopped => {
                    self.note("ratings_off");
                    self.tell_partner(*tell, "shared_ready_notice");
                    self.together();
                }
                PairNews::Rated => {
                    self.tell_partner(*tell, "shared_ready_notice");
                    self.compare_ratings();
                }
                PairNews::Waiting | PairNews::Held | PairNews::Revealed => {
                    self.tell_partner(*tell, "shared_ready_notice");
                    self.show_current();
                }
            },
            CoupleEvent::NoPair => {
                self.note("not_linked");
                self.show_menu();
            }
        }
    }
}

impl Turn<'_> {
    /// The discreet notice `key` for the partner, when they are to be told (`tell`).
    fn tell_partner(&mut self, tell: bool, key: &str) {
        if tell {
            self.for_partner.push(Reply::text(self.bot_message(key)));
        }
    }
}

/// How far apart two ratings (out of 10) are before a gentle word about talking it over.
pub(super) const RATINGS_APART: u8 = 3;

/// The shortest and longest a proposed rule can be, in characters.
const RULE_LENGTH: std::ops::RangeInclusive<usize> = 3..=200;
/// The most rules shown with buttons at once (Telegram shows 8 buttons comfortably).
const RULE_BUTTONS: usize = 7;

impl<'a> Turn<'a> {
    /// The rules shared with a partner, after `/rules`' own card: agreed ones, those waiting
    /// for this person's answer, and their own waiting for the partner's; with buttons to
    /// accept, withdraw and propose.
    pub(super) fn shared_rules(&mut self) {
        let Some((record, side, _)) = self.linked() else {
            return;
        };
        let mut agreed = Vec::new();
        let mut for_you = Vec::new();
        let mut for_partner = Vec::new();
        let mut actions = Vec::new();
        for rule in &record.rules {
            let line = format!("{}. {}", rule.number, rule.text);
            match (rule.agreed_at, rule.proposed_by == side) {
                (Some(_), _) => {
                    agreed.push(line);
                    actions.push((RuleButton::Withdraw, rule.number));
                }
                (None, false) => {
                    for_you.push(line);
                    actions.push((RuleButton::Accept, rule.number));
                    actions.push((RuleButton::Decline, rule.number));
                }
                (None, true) => {
                    for_partner.push(line);
                    actions.push((RuleButton::Withdraw, rule.number));
                }
            }
        }
        let mut parts = vec![self.bot_message("rules_intro")];
        for (key, lines) in [
            ("rules_agreed_list", &agreed),
            ("rules_for_you_list", &for_you),
            ("rules_for_partner_list", &for_partner),
        ] {
            if !lines.is_empty() {
                parts.push(format!("{}\n{}", self.bot_message(key), lines.join("\n")));
            }
        }
        let gone: Vec<String> = record
            .gone_for(side, self.now)
            .map(|gone| {
                let key = if gone.declined {
                    "rules_gone_declined"
                } else {
                    "rules_gone_withdrawn"
                };
                self.bot_message(key).replace("{rule}", &gone.text)
            })
            .collect();
        if !gone.is_empty() {
            parts.push(format!(
                "{}\n{}",
                self.bot_message("rules_gone_list"),
                gone.join("\n")
            ));
        }
        if record.rules.is_empty() {
            parts.push(self.bot_message("rules_none"));
        }
        self.state.position = None;
        // A rule left unsent after its notes is let go once the list is shown again.
        self.state.unsent_rule = None;
        // Answers wanted from this person first.
        actions
            .sort_by_key(|(button, _)| !matches!(button, RuleButton::Accept | RuleButton::Decline));
        let mut buttons: Vec<(String, Action)> = actions
            .into_iter()
            .take(RULE_BUTTONS - 1)
            .map(|(button, number)| {
                let key = match button {
                    RuleButton::Accept => "rules_accept_button",
                    RuleButton::Decline => "rules_decline_button",
                    _ => "rules_withdraw_button",
                };
                let label = self
                    .bot_message(key)
                    .replace("{number}", &number.to_string());
                (label, Action::Rule(button, number))
            })
            .collect();
        buttons.push((
            self.bot_message("rules_propose_button"),
            Action::Couple(CoupleButton::Propose),
        ));
        buttons.push((self.bot_message("menu_button"), Action::Menu));
        self.say_with_buttons(parts.join("\n\n"), Keyboard::Rules, buttons);
    }

    /// A rule's button under `/rules`.
    pub(super) fn rule_pressed(&mut self, button: RuleButton, number: u32) {
        let Some((record, _, pair)) = self.linked() else {
            self.note("not_linked");
            self.show_menu();
            return;
        };
        let change = match button {
            RuleButton::Accept => PairChange::Accept {
                number,
                at: self.now,
            },
            // An agreed rule is both partners': withdrawing it is asked about first.
            RuleButton::Withdraw => match record
                .rules
                .iter()
                .find(|rule| rule.number == number && rule.agreed_at.is_some())
            {
                Some(rule) => {
                    let text = self
                        .bot_message("rules_withdraw_confirm")
                        .replace("{number}", &number.to_string())
                        .replace("{rule}", &rule.text);
                    self.confirm_withdrawal(text, number);
                    return;
                }
                None => PairChange::Withdraw {
                    number,
                    at: self.now,
                },
            },
            RuleButton::WithdrawAgreed => PairChange::Withdraw {
                number,
                at: self.now,
            },
            RuleButton::Keep => {
                self.shared_rules();
                return;
            }
            RuleButton::Decline => PairChange::Decline {
                number,
                at: self.now,
            },
        };
        self.couple = Some(CoupleAction::Change { pair, change });
    }

    /// Asks whether to withdraw agreed rule `number`, with its text in `text`.
    fn confirm_withdrawal(&mut self, text: String, number: u32) {
        let buttons = [
            ("rules_withdraw_yes_button", RuleButton::WithdrawAgreed),
            ("rules_withdraw_no_button", RuleButton::Keep),
        ]
        .map(|(key, button)| (self.bot_message(key), Action::Rule(button, number)));
        self.say_with_buttons(text, Keyboard::Rules, buttons);
    }

    /// "Propose a rule": the next text typed is the rule.
    pub(super) fn ask_for_rule(&mut self) {
        if self.linked().is_none() {
            self.note("not_linked");
            self.show_menu();
            return;
        }
        self.state.keyboard = Keyboard::Propose;
        self.state.unsent_rule = None;
        self.note("rules_propose_ask");
    }

    /// The shared question whose notes a proposed rule meets before the partner reads it
    /// (`rule_notes` in `bot.toml`): its flow, what it saves, and its notes.
    fn rule_notes(&self) -> Option<(&'a Flow, &'a str, &'a [Note])> {
        let (flow, step) = self
            .library
            .bot
            .commands
            .values()
            .find_map(|command| command.rule_notes.as_ref())?;
        let flow = self.library.flow(&flow.0)?;
        match &flow.step(&step.0)?.kind {
            StepKind::Ask {
                save,
                before_sharing,
                ..
            } => Some((flow, save.as_str(), before_sharing.as_slice())),
            _ => None,
        }
    }

    /// "Send it as it is", pressed or typed, under a rule's notes: the rule goes unchanged.
    pub(super) fn send_unsent_rule(&mut self) {
        match self.state.unsent_rule.clone() {
            Some(rule) if self.state.keyboard == Keyboard::Propose => {
                self.propose_rule(&rule);
            }
            _ => self.stale(),
        }
    }

    /// Text typed after "Propose a rule". Returns false when no rule was asked for.
    pub(super) fn propose_rule(&mut self, text: &str) -> bool {
        if self.state.keyboard != Keyboard::Propose || self.state.position.is_some() {
            return false;
        }
        let Some((_, _, pair)) = self.linked() else {
            self.state.keyboard = Keyboard::Nothing;
            return false;
        };
        let rule = text.trim();
        // The button's words typed under the notes send the rule waiting there.
        if let Some(unsent) = self.state.unsent_rule.clone() {
            let label = self.bot_message("rules_send_as_is_button");
            if named::pressed_by(&[(label, Vec::new(), ())], rule).is_some() {
                return self.propose_rule(&unsent);
            }
        }
        if !RULE_LENGTH.contains(&rule.chars().count()) {
            self.note("rules_length");
            return true;
        }
        // Written again word for word (or sent by the button): the notes were read.
        let confirmed = self
            .state
            .unsent_rule
            .take()
            .is_some_and(|unsent| unsent == rule);
        if !confirmed && let Some((flow, save, notes)) = self.rule_notes() {
            let shown = self.notes_before_sharing(flow, save, notes, rule);
            if !shown.is_empty() {
                self.state.unsent_rule = Some(rule.to_owned());
                let text = self.noted(shown, "rules_send_or_rewrite");
                let label = self.bot_message("rules_send_as_is_button");
                self.say_with_buttons(text, Keyboard::Propose, [(label, Action::UseKept)]);
                return true;
            }
        }
        self.state.keyboard = Keyboard::Nothing;
        self.couple = Some(CoupleAction::Change {
            pair,
            change: PairChange::Propose {
                text: rule.to_owned(),
                at: self.now,
            },
        });
        true
    }
}
