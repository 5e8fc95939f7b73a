//! Walking a flow: entering one, showing the current step, running message and branch steps
//! until one waits for the person, the menu, and the tests branches make.

use crate::dialogue::callback::{self, Action};
use crate::dialogue::model::{AnswerRule, BranchTest, Flow, FlowId, Stage, Step, StepId, StepKind};
use crate::dialogue::pair::PairState;
use crate::dialogue::review;
use crate::dialogue::state::{Answer, Keyboard, Position};
use crate::dialogue::template::Template;

use super::answers::{KEPT_FOR, first_integer};
use super::{Button, MAX_AUTOMATIC_STEPS, Reply, Turn};

impl<'a> Turn<'a> {
    /// The flow and step at the person's position, if both exist.
    pub(super) fn current_step(&self) -> Option<(&'a Flow, &'a Step)> {
        let position = self.state.position.as_ref()?;
        let flow = self.library.flow(&position.flow.0)?;
        Some((flow, flow.step(&position.step.0)?))
    }

    /// Shows the person where they are again: their step, the safety episode waiting for
    /// their choice, or the menu.
    pub(super) fn show_current(&mut self) {
        match self.current_step() {
            Some((flow, step)) => self.run(flow, &step.id),
            None if self.state.safety.is_some() => self.show_episode(false),
            None => self.show_menu(),
        }
    }

    /// Opens a flow because the person chose it. Choosing anything but the safety flow ends
    /// an open safety episode: that is their choice to go on.
    pub(super) fn enter_flow(&mut self, id: &FlowId) {
        // Words kept in one flow answer its own next question, never another flow's.
        self.state.kept = None;
        self.state.unshared = None;
        if !self.library.bot.is_safety_flow(id) {
            self.state.safety = None;
        }
        match self.library.flow(&id.0) {
            Some(flow) if self.held_back(flow) => {
                self.note("coaching_off");
                self.show_menu();
            }
            Some(flow) if flow.couple && self.linked().is_none() => {
                self.note("not_linked");
                self.show_menu();
            }
            Some(flow) => self.run(flow, &flow.entry),
            None => {
                self.note("flow_gone");
                self.show_menu();
            }
        }
    }

    /// Whether `flow` coaches toward staying together while a sign of abuse was seen.
    pub(super) fn held_back(&self, flow: &Flow) -> bool {
        self.state.coaching_off && flow.toward_staying
    }

    /// The menu: every flow that fits the person, in the path's order, with the suggested
    /// next step first and named above the buttons with the stage it belongs to.
    pub(super) fn show_menu(&mut self) {
        self.state.position = None;
        self.state.seq = self.state.seq.wrapping_add(1);
        self.state.keyboard = Keyboard::Menu;
        let seq = self.state.seq;
        // The path's order stays put from visit to visit; the suggested step is marked where
        // it stands rather than moved to the top.
        let flows: Vec<&Flow> = self.menu().collect();
        let next = self.next_step(&flows);
        let buttons: Vec<Button> = flows
            .iter()
            .map(|flow| Button {
                label: if self.state.done.contains(&flow.id) {
                    self.bot_message("menu_done").replace("{flow}", &flow.title)
                } else if next.is_some_and(|next| next.id == flow.id) {
                    self.bot_message("menu_suggested")
                        .replace("{flow}", &flow.title)
                } else {
                    flow.title.clone()
                },
                data: callback::encode(seq, &Action::OpenFlow(flow.id.0.clone())),
            })
            .collect();
        let mut text = self.bot_message(if buttons.is_empty() {
            "menu_empty"
        } else {
            "menu"
        });
        if let Some((next, stage)) = next.and_then(|flow| Some((flow, flow.stage?))) {
            let stage_name = self.bot_message(&format!("stage_{}", stage.as_str()));
            let line = self
                .bot_message("menu_next")
                .replace("{stage}", &stage_name)
                .replace("{flow}", &next.title);
            text = format!("{text}\n\n{line}");
        }
        self.replies.push(Reply {
            text,
            buttons,
            attachment: None,
        });
    }

    /// The step to suggest among `flows` (the person's menu, in the path's order): the flow
    /// fitting what they last wrote outside a flow, else the first on the path they have not
    /// walked to its end from the furthest stage they have reached (someone well into
    /// atoning is not sent back to a first-days flow they passed by), else the first on the
    /// path they have not walked.
    fn next_step<'f>(&self, flows: &[&'f Flow]) -> Option<&'f Flow> {
        let undone = |flow: &&&'f Flow| !self.state.done.contains(&flow.id);
        let interest = self
            .state
            .interest
            .as_ref()
            .and_then(|wanted| flows.iter().filter(undone).find(|flow| flow.id == *wanted));
        let reached = self.stage_reached(flows);
        let ahead = flows
            .iter()
            .filter(undone)
            .find(|flow| flow.stage.is_some_and(|stage| Some(stage) >= reached));
        interest
            .or(ahead)
            .or_else(|| {
                flows
                    .iter()
                    .filter(undone)
                    .find(|flow| flow.stage.is_some())
            })
            .copied()
    }

    /// The furthest stage of the path the person has reached among `flows` (their menu):
    /// a stage counts once a flow of it is walked to its end and the stage before it counts,
    /// though the first may be passed by (someone who broke trust may begin with atoning).
    /// A flow walked far ahead, such as forgiveness in the first weeks, moves no one on.
    fn stage_reached(&self, flows: &[&Flow]) -> Option<Stage> {
        let mut stages: Vec<Stage> = flows.iter().filter_map(|flow| flow.stage).collect();
        stages.sort();
        stages.dedup();
        let walked = |stage: Stage| {
            flows
                .iter()
                .any(|flow| flow.stage == Some(stage) && self.state.done.contains(&flow.id))
        };
        let mut reached = None;
        for (index, &stage) in stages.iter().enumerate() {
            let follows = index <= 1 || reached == Some(stages[index - 1]);
            if !(walked(stage) && follows) {
                if index >= 1 {
                    break;
                }
                continue;
            }
            reached = Some(stage);
        }
        reached
    }

    /// What an end suggests next: the flows it names that fit the person (their role, once
    /// said; nothing toward staying once a sign of abuse was seen) and that they have not yet
    /// walked to the end; when every one of them is done, the next step on their path.
    fn suggestions(&self, suggest: &[FlowId]) -> Vec<&'a Flow> {
        let fitting: Vec<&'a Flow> = suggest
            .iter()
            .filter_map(|id| self.library.flow(&id.0))
            .filter(|suggested| !self.held_back(suggested))
            .filter(|suggested| {
                self.state
                    .role
                    .is_none_or(|role| suggested.audience.contains(&role))
            })
            .collect();
        let undone: Vec<&'a Flow> = fitting
            .iter()
            .copied()
            .filter(|flow| !self.state.done.contains(&flow.id))
            .collect();
        if !undone.is_empty() || fitting.is_empty() {
            return undone;
        }
        let menu: Vec<&'a Flow> = self.menu().collect();
        self.next_step(&menu).into_iter().collect()
    }

    /// Offers `flows` (those on the person's menu) as buttons, with one to the whole menu;
    /// the menu itself when none of them is.
    pub(super) fn offer_flows(&mut self, flows: &[FlowId]) {
        let offered: Vec<&Flow> = self
            .menu()
            .filter(|flow| flows.contains(&flow.id))
            .collect();
        if offered.is_empty() {
            self.show_menu();
            return;
        }
        self.state.position = None;
        self.state.seq = self.state.seq.wrapping_add(1);
        self.state.keyboard = Keyboard::Menu;
        let seq = self.state.seq;
        let mut buttons: Vec<Button> = flows
            .iter()
            .filter_map(|id| offered.iter().find(|flow| flow.id == *id))
            .map(|flow| Button {
                label: flow.title.clone(),
                data: callback::encode(seq, &Action::OpenFlow(flow.id.0.clone())),
            })
            .collect();
        buttons.push(Button {
            label: self.bot_message("menu_button"),
            data: callback::encode(seq, &Action::Menu),
        });
        self.replies.push(Reply {
            text: self.bot_message("listen_offer"),
            buttons,
            attachment: None,
        });
    }

    /// Shows a typed question; with text kept from earlier (not stale, and an answer `rule`
    /// accepts, so the button never meets "too long"), a button answers it with that text.
    fn ask(&mut self, text: String, rule: &AnswerRule) {
        let now = self.now;
        self.state.kept = self
            .state
            .kept
            .take()
            .filter(|kept| now - kept.at < KEPT_FOR);
        let fitting = self
            .state
            .kept
            .as_ref()
            .filter(|kept| self.check_answer(rule, &kept.value).is_ok())
            .map(|kept| self.kept_label(kept));
        let Some(label) = fitting else {
            self.state.keyboard = Keyboard::Nothing;
            self.say(text);
            return;
        };
        self.say_with_buttons(text, Keyboard::Ask, [(label, Action::UseKept)]);
    }

    /// The label of the button that answers a question with words kept: their start.
    pub(super) fn kept_label(&self, kept: &Answer) -> String {
        self.bot_message("use_kept")
            .replace("{words}", &glimpse(&kept.value))
    }

    /// A typed answer the question's rule refused, with `note` saying why. One past the
    /// question's `max_length` is not simply dropped: the person is asked for the heart of
    /// it, and the start of what they wrote (cut after a sentence, or else a word) is kept, so
    /// one tap answers with it.
    pub(super) fn refused(&mut self, rule: &AnswerRule, text: &str, note: String) {
        let start = match rule {
            AnswerRule::Text {
                min_length,
                max_length,
            } => start_of(text.trim(), *max_length)
                .filter(|start| start.chars().count() >= *min_length),
            _ => None,
        };
        match start {
            Some(start) => {
                self.state.kept = Some(Answer {
                    value: start,
                    at: self.now,
                });
                self.ask(note, rule);
            }
            None => self.say(note),
        }
    }

    /// Runs a flow from `start` until a step that waits for the person.
    pub(super) fn run(&mut self, mut flow: &'a Flow, start: &StepId) {
        let mut step_id = start.clone();
        for _ in 0..MAX_AUTOMATIC_STEPS {
            let Some(step) = flow.step(&step_id.0) else {
                self.note("flow_changed");
                self.show_menu();
                return;
            };
            self.state.position = Some(Position {
                flow: flow.id.clone(),
                step: step_id.clone(),
                version: flow.version,
            });
            let answers = self.state.answers.get(&flow.id);
            // A couple flow's shared answers live in the pair's record, not the person's.
            let shared = if flow.couple {
                self.shared_values(flow)
            } else {
                Default::default()
            };
            let lookup = |name: &str| {
                answers
                    .and_then(|answers| answers.get(name))
                    .map(|answer| answer.value.as_str())
                    .or_else(|| shared.get(name).map(String::as_str))
            };
            let render = |template: &Template| template.render(lookup);
            let text = step.say.as_ref().map(render);
            match &step.kind {
                StepKind::Message { next } => {
                    self.say(text.unwrap_or_default());
                    step_id = next.clone();
                }
                StepKind::Review {
                    answer,
                    notes,
                    all_clear,
                    next,
                    next_if_clear,
                } => {
                    let reviewed = lookup(answer).unwrap_or("");
                    let mut shown: Vec<String> = text.into_iter().collect();
                    shown.extend(review::notes_for(notes, reviewed).map(|note| render(&note.text)));
                    let clear = shown.len() == usize::from(step.say.is_some());
                    if clear {
                        shown.extend(all_clear.as_ref().map(render));
                    }
                    self.say(shown.join("\n\n"));
                    step_id = match next_if_clear {
                        Some(clear_next) if clear => clear_next.clone(),
                        _ => next.clone(),
                    };
                }
                StepKind::Branch { rules, otherwise } => {
                    step_id = rules
                        .iter()
                        .find(|rule| self.holds(&flow.id, &rule.test))
                        .map_or(otherwise, |rule| &rule.goto)
                        .clone();
                }
                StepKind::Jump { flow: target } => {
                    if let Some(text) = text {
                        self.say(text);
                    }
                    let Some(next_flow) = self.library.flow(&target.0) else {
                        self.note("flow_gone");
                        self.show_menu();
                        return;
                    };
                    if self.held_back(next_flow) {
                        self.note("coaching_off");
                        self.show_menu();
                        return;
                    }
                    if next_flow.couple && self.linked().is_none() {
                        self.note("not_linked");
                        self.show_menu();
                        return;
                    }
                    flow = next_flow;
                    step_id = flow.entry.clone();
                    self.state.kept = None;
                    self.state.unshared = None;
                }
                StepKind::Ask {
                    save,
                    rule,
                    reveal: Some(reveal),
                    next,
                    ..
                } => {
                    let Some((record, side, _)) = self.linked() else {
                        self.note("not_linked");
                        self.show_menu();
                        return;
                    };
                    let item = PairState::item_key(&flow.id.0, save);
                    let view = record.view(&item, side);
                    if view.mine.is_none() {
                        let text = text.unwrap_or_default();
                        match self.state.unshared.clone() {
                            // Back at a question whose answer waits after its notes: it can
                            // still go as it is.
                            Some(_) => self.offer_share(text),
                            None => self.ask(text, rule),
                        }
                        return;
                    }
                    if view.revealed.is_none() {
                        self.show_waiting(record, side, &item);
                        return;
                    }
                    let shown = render(reveal);
                    self.say(shown);
                    step_id = next.clone();
                }
                StepKind::Ask { rule, .. } => {
                    self.ask(text.unwrap_or_default(), rule);
                    return;
                }
                StepKind::Choice { choices, .. } => {
                    self.state.seq = self.state.seq.wrapping_add(1);
                    self.state.keyboard = Keyboard::Step;
                    let seq = self.state.seq;
                    let buttons = choices
                        .iter()
                        .map(|choice| Button {
                            label: choice.label.clone(),
                            data: callback::encode(seq, &Action::Choice(choice.id.clone())),
                        })
                        .collect();
                    self.replies.push(Reply {
                        text: text.unwrap_or_default(),
                        buttons,
                        attachment: None,
                    });
                    return;
                }
                StepKind::End { suggest, effect } => {
                    // "Not right now" at the opening is no session done.
                    if !declines(flow, &step_id) {
                        self.state.done.insert(flow.id.clone());
                    }
                    if self.state.interest.as_ref() == Some(&flow.id) {
                        self.state.interest = None;
                    }
                    self.state.position = None;
                    self.state.seq = self.state.seq.wrapping_add(1);
                    self.state.keyboard = Keyboard::End {
                        flow: flow.id.clone(),
                        step: step_id.clone(),
                    };
                    let seq = self.state.seq;
                    let mut buttons: Vec<Button> = self
                        .suggestions(suggest)
                        .into_iter()
                        .map(|suggested| Button {
                            label: suggested.title.clone(),
                            data: callback::encode(seq, &Action::OpenFlow(suggested.id.0.clone())),
                        })
                        .collect();
                    buttons.push(Button {
                        label: self.bot_message("menu_button"),
                        data: callback::encode(seq, &Action::Menu),
                    });
                    self.replies.push(Reply {
                        text: text.unwrap_or_else(|| self.bot_message("menu")),
                        buttons,
                        attachment: None,
                    });
                    // After the end's words: what an effect says (an invitation) follows them.
                    if let Some(effect) = effect {
                        self.end_effect(&flow.id, *effect);
                    }
                    return;
                }
            }
        }
        // Only a loop of automatic steps gets here, and validation refuses those.
        self.show_menu();
    }

    pub(super) fn holds(&self, flow: &FlowId, test: &BranchTest) -> bool {
        // `name`, or `other-flow.name` for an answer another flow saved.
        let answer = |name: &str| {
            let (flow, name) = match name.split_once('.') {
                Some((other, name)) => (&FlowId(other.to_owned()), name),
                None => (flow, name),
            };
            self.state
                .answers
                .get(flow)
                .and_then(|answers| answers.get(name))
                .map(|answer| answer.value.as_str())
        };
        match test {
            BranchTest::RoleIs(role) => self.state.role == Some(*role),
            BranchTest::ConcernIs(kind) => self.concern_kind() == Some(*kind),
            BranchTest::ScreenedWithin(seconds) => {
                !self.state.coaching_off
                    && self.state.safety.is_none()
                    && self
                        .state
                        .screened
                        .is_some_and(|at| (0..*seconds).contains(&(self.now - at)))
            }
            BranchTest::AnswerEquals {
                answer: name,
                value,
            } => answer(name).is_some_and(|given| given.trim().eq_ignore_ascii_case(value.trim())),
            BranchTest::AnswerAtLeast {
                answer: name,
                bound,
            } => answer(name)
                .and_then(first_integer)
                .is_some_and(|number| number >= *bound),
            BranchTest::AnswerAtMost {
                answer: name,
                bound,
            } => answer(name)
                .and_then(first_integer)
                .is_some_and(|number| number <= *bound),
        }
    }
}

/// Whether end step `end` is where the flow's opening buttons lead to say "not now" (or
/// "not yet: I found out only recently"): the first buttons, after the opening messages, lead
/// straight to it.
fn declines(flow: &Flow, end: &StepId) -> bool {
    let mut at = &flow.entry;
    for _ in 0..MAX_AUTOMATIC_STEPS {
        match flow.step(&at.0).map(|step| &step.kind) {
            Some(StepKind::Message { next }) => at = next,
            Some(StepKind::Choice { choices, .. }) => {
                return choices
                    .iter()
                    .any(|choice| reaches_directly(flow, &choice.goto, end));
            }
            _ => return false,
        }
    }
    false
}

/// Whether `end` is `from`, or follows it through branches alone (nothing said or asked on
/// the way, only the person's role or answers looked at): a decline may be worded for each
/// role.
fn reaches_directly(flow: &Flow, from: &StepId, end: &StepId) -> bool {
    let mut ahead = vec![from];
    for _ in 0..MAX_AUTOMATIC_STEPS {
        let Some(at) = ahead.pop() else {
            return false;
        };
        if at == end {
            return true;
        }
        match flow.step(&at.0) {
            Some(step) if matches!(step.kind, StepKind::Branch { .. }) => {
                ahead.extend(step.kind.targets());
            }
            _ => {}
        }
    }
    false
}

/// The start of kept words, short enough for a button: whole words up to about 24
/// characters, and "…" when there is more.
fn glimpse(words: &str) -> String {
    const ABOUT: usize = 24;
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.chars().count() <= ABOUT + 4 {
        return words;
    }
    let cut: String = words.chars().take(ABOUT).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > ABOUT / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':', ' ']))
}

/// The start of `text` that fits in `most` characters, when all of it does not: up to the
/// last sentence that ends within them (when that keeps at least half), or else whole words
/// and "…".
fn start_of(text: &str, most: usize) -> Option<String> {
    if text.chars().count() <= most || most < 2 {
        return None;
    }
    let room: String = text.chars().take(most - 1).collect();
    let sentence_end = room
        .char_indices()
        .rev()
        .filter(|&(at, c)| {
            matches!(c, '.' | '!' | '?')
                && room[at + c.len_utf8()..]
                    .chars()
                    .next()
                    .is_some_and(char::is_whitespace)
        })
        .map(|(at, c)| at + c.len_utf8())
        .next();
    if let Some(end) = sentence_end
        && room[..end].chars().count() * 2 >= most
    {
        return Some(room[..end].to_owned());
    }
    let cut = match room.rfind(char::is_whitespace) {
        Some(space) if space > 0 => &room[..space],
        _ => room.as_str(),
    };
    Some(format!(
        "{}…",
        cut.trim_end_matches([',', ';', ':', ' ', '-'])
    ))
}

#[cfg(test)]
mod tests {
    use super::{glimpse, start_of};

    #[test]
    fn the_start_of_a_long_answer_ends_after_a_sentence_or_a_word_and_fits() {
        assert_eq!(start_of("short enough", 20), None);
        assert_eq!(
            start_of(
                "I found the messages. I have not slept since, and I keep reading them",
                40
            ),
            Some("I found the messages.".to_owned())
        );
        // A first sentence under half the room: whole words instead.
        assert_eq!(
            start_of("Hi. I have not slept since the night I found them all", 30),
            Some("Hi. I have not slept since…".to_owned())
        );
        let long = "é".repeat(50);
        let start = start_of(&long, 10).expect("too long");
        assert_eq!(start.chars().count(), 10);
        for (text, most) in [("a b c d e f g h i j k", 7), (long.as_str(), 3)] {
            let start = start_of(text, most).expect("too long");
            assert!(start.chars().count() <= most, "{start}");
        }
    }

    #[test]
    fn a_glimpse_is_the_words_themselves_or_their_start() {
        assert_eq!(
            glimpse("not yet.  not even close"),
            "not yet. not even close"
        );
        assert_eq!(
            glimpse("yes hes not violent, just a liar and i hate it"),
            "yes hes not violent…"
        );
        assert_eq!(
            glimpse("abcdefghijklmnopqrstuvwxyz0123456789"),
            "abcdefghijklmnopqrstuvwx…"
        );
    }
}
