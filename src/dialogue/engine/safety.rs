//! Safety episodes: what the engine does when the crisis screen finds something in what a
//! person wrote. A clear concern gets the safety reply at once; an unsure one a gentle
//! question first. Either way the flow the person was in is paused with its state kept, and
//! resumes only when they choose to go back ("I'm safe", "That's not what I meant"), after
//! the resources once more; what a misread message said is then answered as usual. After
//! words about hurting oneself, "I'm safe" first asks whether there is someone to reach.
//! Reminders wait while an episode is open.

use super::{Button, Input, Keyboard, Reply, Turn};
use crate::dialogue::callback::{self, Action, SafetyAction};
use crate::dialogue::model::{Library, Role};
use crate::dialogue::state::SafetyEpisode;
use crate::safety::checking::{about_checking_only, checking_the_partners_things};
use crate::safety::{Certainty, Concern, ConcernKind};

/// The reply to a concern, from the library alone: what is sent even when the person's state
/// cannot be read (the store is down).
pub fn safety_replies(library: &Library, concern: Concern) -> Vec<Reply> {
    match concern.certainty {
        Certainty::Clear => vec![clear_reply(library, concern.kind)],
        Certainty::Unsure => vec![unsure_reply(library, concern.kind)],
    }
}

fn message(library: &Library, key: &str) -> String {
    library.bot.message(key).to_owned()
}

fn button(library: &Library, key: &str, action: SafetyAction) -> Button {
    Button {
        label: message(library, key),
        data: callback::encode(0, &Action::Safety(action)),
    }
}

/// The safety message for `kind`, with the ways on: grounding, a safety plan (when the
/// library has a safety flow), and back.
fn clear_reply(library: &Library, kind: ConcernKind) -> Reply {
    let key = match kind {
        ConcernKind::SelfHarm => "safety_self_harm",
        ConcernKind::Violence => "safety_violence",
        ConcernKind::Abuse => "safety_abuse",
    };
    Reply {
        text: message(library, key),
        buttons: episode_buttons(library),
        attachment: None,
    }
}

/// The ways on from a safety reply.
fn episode_buttons(library: &Library) -> Vec<Button> {
    let mut buttons = Vec::new();
    if library.bot.safety.is_some() {
        buttons.push(button(library, "safety_grounding", SafetyAction::Grounding));
        buttons.push(button(library, "safety_plan", SafetyAction::Plan));
    }
    buttons.push(button(library, "safety_safe", SafetyAction::Safe));
    buttons.push(button(library, "safety_not_meant", SafetyAction::NotMeant));
    buttons
}

/// The gentle question for an unsure concern of `kind`.
fn unsure_reply(library: &Library, kind: ConcernKind) -> Reply {
    let key = match kind {
        ConcernKind::SelfHarm => "safety_ask_self_harm",
        ConcernKind::Violence => "safety_ask_violence",
        ConcernKind::Abuse => "safety_ask_abuse",
    };
    Reply {
        text: message(library, key),
        buttons: vec![
            button(library, "safety_yes", SafetyAction::Yes),
            button(library, "safety_no", SafetyAction::No),
        ],
        attachment: None,
    }
}

/// How long, in seconds, after a "No" to the gentle question an unsure word of the same kind
/// is not asked about again.
const QUIET_AFTER_NO: i64 = 12 * 60 * 60;

/// Whether `text`, a short reply, says the bot misread what came before.
fn says_misread(text: &str) -> bool {
    const MISREAD: &[&str] = &[
        "not what i meant",
        "not what i said",
        "not what i mean",
        "i didnt mean that",
        "i didnt mean it",
        "you misunderstood",
        "you misread",
        "misunderstood me",
        "thats not it",
    ];
    let folded = crate::safety::normalise(text);
    folded.split(' ').count() <= 12 && MISREAD.iter().any(|words| folded.contains(words))
}

impl Turn<'_> {
    /// Whether the person is inside the safety flow right now.
    fn in_safety_flow(&self) -> bool {
        self.state
            .position
            .as_ref()
            .is_some_and(|position| self.library.bot.is_safety_flow(&position.flow))
    }

    /// What the person's safety concern is about: the open episode's kind, or abuse once a
    /// sign of it set the flows about staying aside; `None` when nothing was said.
    pub(super) fn concern_kind(&self) -> Option<ConcernKind> {
        match &self.state.safety {
            Some(episode) => Some(episode.kind),
            None if self.state.coaching_off => Some(ConcernKind::Abuse),
            None => None,
        }
    }

    /// The crisis screen found `concern` in `text`.
    pub(super) fn concern(&mut self, concern: Concern, text: &str) {
        // Inside the safety flow, an unsure phrase is most likely part of a safety plan; and
        // while the reply to this kind of concern is open, so is a clear one ("i could give
        // the pills to my sister"): the plan's answer is kept, not met by the reply again.
        let answering_plan = self.state.safety.as_ref().is_some_and(|episode| {
            episode.confirmed && episode.asking.is_none() && episode.kind == concern.kind
        });
        if (concern.certainty == Certainty::Unsure || answering_plan) && self.in_safety_flow() {
            self.text(text);
            return;
        }
        // "No" to this kind of gentle question a little while ago: an unsure word of the same
        // kind is not asked about again so soon (asked again and again, the question wears
        // out, and so does the person).
        if concern.certainty == Certainty::Unsure
            && self.state.safety.is_none()
            && self
                .state
                .declined
                .get(&concern.kind)
                .is_some_and(|&at| self.now - at < QUIET_AFTER_NO)
        {
            self.text(text);
            return;
        }
        // The partner who broke trust telling of being checked on, and of nothing more: after
        // an affair that is the hurt partner's way back to trust, not a sign of abuse; nor is
        // anyone telling of checking their partner's phone.
        if concern.kind == ConcernKind::Abuse
            && ((self.state.role == Some(Role::BrokeTrust) && about_checking_only(text))
                || checking_the_partners_things(text))
        {
            self.text(text);
            return;
        }
        let clear = concern.certainty == Certainty::Clear;
        // Whatever it turns out to be, a later safety screen asks each question again.
        self.state.screened = None;
        let episode = self.state.safety.get_or_insert_with(|| SafetyEpisode {
            kind: concern.kind,
            confirmed: clear,
            opened: self.now,
            paused: self.state.position.take(),
            stopped_coaching: false,
            asking: None,
            words: None,
            asked_who_to_reach: false,
            no_one_to_reach: false,
        });
        episode.words = Some(text.to_owned());
        // The reply answers what was just said. An unsure word does not undo a clear one, but
        // an unsure word of another kind gets its own gentle question while the reply waits.
        if clear || !episode.confirmed {
            episode.kind = concern.kind;
            episode.confirmed = clear;
            episode.asking = None;
        } else if concern.kind != episode.kind {
            episode.asking = Some(concern.kind);
        }
        self.confirm_abuse();
        // Buttons of the paused step are stale from now on.
        self.state.seq = self.state.seq.wrapping_add(1);
        self.state.keyboard = Keyboard::Nothing;
        self.show_episode(true);
    }

    /// Once abuse is clear, coaching toward staying together stops.
    fn confirm_abuse(&mut self) {
        let Some(episode) = &mut self.state.safety else {
            return;
        };
        if episode.confirmed && episode.kind == ConcernKind::Abuse && !self.state.coaching_off {
            self.state.coaching_off = true;
            episode.stopped_coaching = true;
        }
    }

    /// Shows the open episode: the safety reply (in `full`, or a short reminder that it is
    /// waiting), or the gentle question still waiting for an answer.
    pub(super) fn show_episode(&mut self, full: bool) {
        let Some(episode) = &self.state.safety else {
            self.show_menu();
            return;
        };
        if let Some(asked) = episode.asking {
            let question = unsure_reply(self.library, asked);
            self.replies.push(question);
            return;
        }
        if episode.confirmed && !full {
            self.replies.push(Reply {
                text: self.bot_message("safety_waiting"),
                buttons: episode_buttons(self.library),
                attachment: None,
            });
            return;
        }
        let concern = Concern {
            kind: episode.kind,
            certainty: if episode.confirmed {
                Certainty::Clear
            } else {
                Certainty::Unsure
            },
        };
        let replies = safety_replies(self.library, concern);
        self.replies.extend(replies);
    }

    /// The button of the open episode that typed `text` names ("no", "No, I'm okay", "that's
    /// not what i meant"), read as a press is: the gentle question's Yes and No, or the safety
    /// reply's ways on.
    pub(super) fn safety_action_typed(&self, text: &str) -> Option<SafetyAction> {
        let episode = self.state.safety.as_ref()?;
        let asking = episode.asking.is_some() || !episode.confirmed;
        // Saying it was misread, anywhere in a short reply ("what?? no. thats not what i
        // meant"), is the way back whatever else the reply says.
        if says_misread(text) {
            return Some(if asking {
                SafetyAction::No
            } else {
                SafetyAction::NotMeant
            });
        }
        let mut buttons: Vec<(String, Vec<&str>, SafetyAction)> = if asking {
            vec![
                (
                    self.bot_message("safety_yes"),
                    vec!["yes"],
                    SafetyAction::Yes,
                ),
                (self.bot_message("safety_no"), vec!["no"], SafetyAction::No),
            ]
        } else {
            vec![
                (
                    self.bot_message("safety_safe"),
                    vec![
                        "im ok",
                        "im okay",
                        "im fine",
                        "i am ok",
                        "i am okay",
                        "i am safe",
                    ],
                    SafetyAction::Safe,
                ),
                (
                    self.bot_message("safety_not_meant"),
                    vec![],
                    SafetyAction::NotMeant,
                ),
            ]
        };
        if !asking && episode.asked_who_to_reach {
            buttons.push((
                self.bot_message("safety_someone"),
                vec!["yes", "there is", "yes there is", "i do", "i have"],
                SafetyAction::Safe,
            ));
            buttons.push((
                self.bot_message("safety_no_one"),
                vec![
                    "no",
                    "no one",
                    "nobody",
                    "noone",
                    "not really",
                    "there isnt",
                ],
                SafetyAction::NoOne,
            ));
            buttons.push((
                self.bot_message("safety_go_on"),
                vec!["go on", "lets go on"],
                SafetyAction::Safe,
            ));
        }
        if !asking && self.library.bot.safety.is_some() {
            buttons.push((
                self.bot_message("safety_grounding"),
                vec![],
                SafetyAction::Grounding,
            ));
            buttons.push((self.bot_message("safety_plan"), vec![], SafetyAction::Plan));
        }
        super::named::pressed_by(&buttons, text)
    }

    pub(super) fn safety_pressed(&mut self, action: SafetyAction) {
        match action {
            SafetyAction::Yes => match &mut self.state.safety {
                Some(episode) => {
                    if let Some(asked) = episode.asking.take() {
                        episode.kind = asked;
                    }
                    episode.confirmed = true;
                    self.confirm_abuse();
                    self.show_episode(true);
                }
                None => self.open_safety_step(None),
            },
            // "No" to a question asked while another reply waits: that reply stays open.
            SafetyAction::No => match &mut self.state.safety {
                Some(episode) if episode.asking.is_some() => {
                    if let Some(asked) = episode.asking.take() {
                        self.state.declined.insert(asked, self.now);
                    }
                    self.show_episode(false);
                }
                Some(episode) if !episode.confirmed => {
                    let kind = episode.kind;
                    self.state.declined.insert(kind, self.now);
                    self.close_episode(true);
                }
                _ => self.close_episode(true),
            },
            SafetyAction::Grounding => {
                let step = self
                    .library
                    .bot
                    .safety
                    .as_ref()
                    .map(|s| s.grounding.clone());
                self.open_safety_step(step);
            }
            SafetyAction::Plan => {
                if let Some(episode) = &mut self.state.safety {
                    episode.asked_who_to_reach = true;
                }
                let step = self.library.bot.safety.as_ref().map(|s| s.plan.clone());
                self.open_safety_step(step);
            }
            SafetyAction::Safe if self.ask_who_to_reach() => {}
            SafetyAction::Safe => self.close_episode(false),
            SafetyAction::NoOne => self.no_one_to_reach(),
            SafetyAction::NotMeant => self.close_episode(true),
        }
    }

    /// "I'm safe" after words about hurting oneself, the first time in the episode: before
    /// coaching resumes, whether there is someone they could reach if the thoughts come back
    /// (a safety plan offered beside it). Returns whether it asked.
    fn ask_who_to_reach(&mut self) -> bool {
        let Some(episode) = &mut self.state.safety else {
            return false;
        };
        if !episode.confirmed
            || episode.kind != ConcernKind::SelfHarm
            || episode.asking.is_some()
            || episode.asked_who_to_reach
        {
            return false;
        }
        episode.asked_who_to_reach = true;
        let mut buttons = vec![
            button(self.library, "safety_someone", SafetyAction::Safe),
            button(self.library, "safety_no_one", SafetyAction::NoOne),
        ];
        if self.library.bot.safety.is_some() {
            buttons.push(button(self.library, "safety_plan", SafetyAction::Plan));
        }
        self.replies.push(Reply {
            text: self.bot_message("safety_safe_check"),
            buttons,
            attachment: None,
        });
        true
    }

    /// "Not really": a line to call, the safety plan, and the way on.
    fn no_one_to_reach(&mut self) {
        let Some(episode) = &mut self.state.safety else {
            self.stale();
            return;
        };
        episode.no_one_to_reach = true;
        let mut buttons = Vec::new();
        if self.library.bot.safety.is_some() {
            buttons.push(button(self.library, "safety_plan", SafetyAction::Plan));
        }
        buttons.push(button(self.library, "safety_go_on", SafetyAction::Safe));
        self.replies.push(Reply {
            text: self.bot_message("safety_no_one_reply"),
            buttons,
            attachment: None,
        });
    }

    /// Opens a step of the safety flow (its entry when `step` is `None`), keeping the episode.
    fn open_safety_step(&mut self, step: Option<crate::dialogue::StepId>) {
        let Some(safety) = &self.library.bot.safety else {
            self.show_current();
            return;
        };
        match self.library.flow(&safety.flow.0) {
            Some(flow) => {
                let step = step.unwrap_or_else(|| flow.entry.clone());
                self.run(flow, &step);
            }
            None => self.show_current(),
        }
    }

    /// The person chose to go back: the resources once more, then where they were.
    fn close_episode(&mut self, not_meant: bool) {
        let Some(episode) = self.state.safety.take() else {
            self.stale();
            return;
        };
        if not_meant && episode.stopped_coaching {
            self.state.coaching_off = false;
        }
        self.note(if not_meant {
            "safety_not_meant_back"
        } else if episode.no_one_to_reach {
            "safety_back_alone"
        } else {
            "safety_back"
        });
        self.state.position = episode.paused;
        // A flow about staying together that was set aside since is not picked up again.
        if let Some((flow, _)) = self.current_step()
            && self.held_back(flow)
        {
            self.state.position = None;
            self.note("coaching_off");
            self.show_menu();
            return;
        }
        // Misread: what they wrote is answered now, as if the screen had passed it (it is
        // not screened again, or it would only be misread again).
        match episode.words.filter(|_| not_meant) {
            Some(words) => {
                self.misread = true;
                match Input::from_text(&words) {
                    Input::Command { name, argument } => self.command(&name, &argument),
                    _ => self.text(&words),
                }
                self.misread = false;
            }
            None => self.show_current(),
        }
    }
}
