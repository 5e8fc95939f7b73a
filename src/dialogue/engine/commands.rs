//! Commands: the engine's own (`/start`, `/menu`, `/help`, `/faq`...) and the ones `bot.toml`
//! adds, and the FAQ: numbered questions, answers, and questions offered for typed words.

use crate::dialogue::callback::{self, Action};
use crate::dialogue::model::{CommandAction, FlowId};
use crate::dialogue::model::{Question, Role};
use crate::dialogue::pair::looks_like_invitation;
use crate::dialogue::state::Keyboard;

use super::{Button, Reply, Turn};

impl<'a> Turn<'a> {
    pub(super) fn command(&mut self, name: &str, argument: &str) {
        match name {
            "start" => {
                let start = self.library.bot.start_flow.clone();
                if argument.is_empty() {
                    self.enter_flow(&start);
                } else if self.library.flow(argument).is_some() {
                    self.enter_flow(&FlowId(argument.to_owned()));
                } else if looks_like_invitation(argument) {
                    self.open_invitation(argument);
                } else {
                    self.note("unknown_flow");
                    self.enter_flow(&start);
                }
            }
            "menu" => {
                self.state.position = None;
                self.show_menu();
            }
            "continue" => self.continue_where_left(),
            "faq" => self.faq(argument),
            "checkin" => self.checkin(argument),
            "progress" => self.progress(),
            "privacy" => self.privacy(),
            "export" => self.export(),
            "summary" => self.summary(),
            "forget" => self.ask_to_forget(),
            "invite" => self.invite(),
            "unlink" => self.unlink(),
            "together" => self.together(),
            "takeaways" => {
                let takeaways = self.library.faq.takeaways_for(self.state.role).to_owned();
                if takeaways.is_empty() {
                    self.note("takeaways_missing");
                } else {
                    self.say(takeaways);
                }
            }
            "help" => {
                self.note("help");
                if self.state.position.is_some() {
                    self.show_current();
                }
            }
            "cancel" => {
                if self.state.position.take().is_some() {
                    self.note("cancelled");
                } else {
                    self.note("nothing_to_cancel");
                }
                self.show_menu();
            }
            _ => match self.library.bot.commands.get(name) {
                Some(command) => {
                    // The partner's rules, when linked, follow with buttons of their own.
                    let rules_follow = command.partner_rules && self.linked().is_some();
                    self.bot_command(&command.action, !rules_follow);
                    if rules_follow {
                        self.shared_rules();
                    }
                }
                None => {
                    self.note("unknown_command");
                    self.show_current();
                }
            },
        }
    }

    /// Runs a command from `bot.toml`'s `[commands]`. A card not made yet is offered as its
    /// flow's button (when `may_offer`, the person is between flows and the flow is on their
    /// menu), so "not yet" comes with the way to it.
    pub(super) fn bot_command(&mut self, action: &'a CommandAction, may_offer: bool) {
        match action {
            CommandAction::Open(flow) => self.enter_flow(flow),
            CommandAction::Show {
                flow,
                text,
                missing,
            } => {
                let answers = self.state.answers.get(flow);
                let answer = |name: &str| {
                    answers
                        .and_then(|answers| answers.get(name))
                        .map(|answer| answer.value.as_str())
                };
                if text.placeholders().any(|name| answer(name).is_some()) {
                    self.say(text.render(answer));
                    return;
                }
                let offered = self
                    .menu()
                    .find(|offered| offered.id == *flow)
                    .filter(|_| may_offer && self.state.position.is_none());
                match offered {
                    Some(offered) => {
                        let buttons = [
                            (offered.title.clone(), Action::OpenFlow(flow.0.clone())),
                            (self.bot_message("menu_button"), Action::Menu),
                        ];
                        self.say_with_buttons(missing.clone(), Keyboard::Menu, buttons);
                    }
                    None => self.say(missing.clone()),
                }
            }
        }
    }

    /// `/faq` lists the questions, `/faq 3` answers the third, `/faq some words` looks them up.
    pub(super) fn faq(&mut self, argument: &str) {
        let faq = &self.library.faq;
        let role = self.state.role;
        if argument.is_empty() {
            if faq.questions.is_empty() {
                self.say_faq_missing();
                return;
            }
            let buttons = faq
                .questions
                .iter()
                .enumerate()
                .map(|(index, question)| faq_button(index + 1, question, role))
                .collect();
            self.replies.push(Reply {
                text: self.bot_message("faq"),
                buttons,
                attachment: None,
            });
        } else if let Ok(number) = argument.parse::<usize>() {
            match faq.numbered(number) {
                Some(question) => self.answer_question(question),
                None => self.say_faq_missing(),
            }
        } else {
            // Found with confidence, a single question is answered; otherwise the closest are
            // offered, and only a text with nothing to go by gets the whole list.
            let found = faq.suggest(argument);
            match found.as_slice() {
                [only] => {
                    self.answer_question(only);
                    // Sure is not always right: the whole list stays one tap away.
                    let all = self.all_questions_button();
                    if let Some(answer) = self.replies.last_mut() {
                        answer.buttons.push(all);
                    }
                }
                [] => match faq.closest(argument).as_slice() {
                    [] => self.faq(""),
                    closest => self.offer_questions(closest),
                },
                several => self.offer_questions(several),
            }
        }
    }

    pub(super) fn say_faq_missing(&mut self) {
        let count = self.library.faq.questions.len().to_string();
        let text = self.bot_message("faq_missing").replace("{max}", &count);
        self.say(text);
    }

    /// An FAQ answer, ending with the flows it points to that are on the person's menu: never
    /// one set aside, nor one for another role.
    pub(super) fn answer_question(&mut self, question: &Question) {
        let titles: Vec<String> = self
            .menu()
            .filter(|flow| question.flows.contains(&flow.id))
            .map(|flow| format!("'{}'", flow.title))
            .collect();
        let (_, line, answer) = question.worded_for(self.state.role);
        let mut text = format!("{line}\n\n{answer}");
        if let Some((last, others)) = titles.split_last() {
            let flows = if others.is_empty() {
                last.clone()
            } else {
                format!("{} or {last}", others.join(", "))
            };
            text.push(' ');
            text.push_str(&self.bot_message("faq_try").replace("{flows}", &flows));
        }
        // Read in the middle of a flow: one tap back to the step.
        let buttons = if self.state.position.is_some() && self.state.safety.is_none() {
            vec![self.resume_button("faq_back")]
        } else {
            Vec::new()
        };
        self.replies.push(Reply {
            text,
            buttons,
            attachment: None,
        });
    }

    /// Offers FAQ questions as buttons, numbered as `/faq` numbers them, and a last button
    /// for the whole list when they are not all of it: words can point to the wrong few, and
    /// the right answer is then one tap away rather than a command to know.
    pub(super) fn offer_questions(&mut self, questions: &[&Question]) {
        self.offer_questions_with(questions, "faq_suggest");
    }

    /// Offers FAQ questions as [`Self::offer_questions`] does, above `text_key`'s message.
    pub(super) fn offer_questions_with(&mut self, questions: &[&Question], text_key: &str) {
        let offer = self.questions_offer(questions, text_key);
        self.replies.push(offer);
    }

    /// Offers FAQ questions outside a flow: the offer ends with a way back to the menu,
    /// rather than the whole menu under it, a second wall of buttons.
    pub(super) fn offer_questions_then_menu(&mut self, questions: &[&Question]) {
        let mut offer = self.questions_offer(questions, "faq_suggest");
        offer.buttons.push(self.resume_button("menu_button"));
        self.replies.push(offer);
    }

    /// The offer of `questions` as buttons, with the whole list last, above `text_key`.
    fn questions_offer(&self, questions: &[&Question], text_key: &str) -> Reply {
        let faq = &self.library.faq;
        let role = self.state.role;
        let mut buttons: Vec<Button> = questions
            .iter()
            .map(|wanted| {
                let number = faq
                    .questions
                    .iter()
                    .position(|question| question.id == wanted.id)
                    .map_or(0, |index| index + 1);
                faq_button(number, wanted, role)
            })
            .collect();
        if questions.len() < faq.questions.len() {
            buttons.push(self.all_questions_button());
        }
        Reply {
            text: self.bot_message(text_key),
            buttons,
            attachment: None,
        }
    }

    /// A button labelled with `key`'s message back to wherever the person is now (the step
    /// they were at, or the menu), however old.
    fn resume_button(&self, key: &str) -> Button {
        Button {
            label: self.bot_message(key),
            data: callback::encode(0, &Action::Resume),
        }
    }

    /// The button that typed `text` names among those that work under any keyboard, however
    /// old: an FAQ question ("How much to tell them", "15. How much to tell them"), the
    /// whole list, or the way back. People type what they see on a button as often as they
    /// press it.
    pub(super) fn lasting_button_typed(&self, text: &str) -> Option<Action> {
        let role = self.state.role;
        let faq = &self.library.faq;
        let mut buttons: Vec<(&str, Vec<&str>, usize)> = faq
            .questions
            .iter()
            .enumerate()
            .map(|(index, question)| (question.worded_for(role).0, Vec::new(), index))
            .collect();
        let back = faq.questions.len();
        let labels = [
            (self.library.bot.message("faq_back"), back),
            (self.library.bot.message("menu_button"), back),
            (self.library.bot.message("faq_all_button"), back + 1),
        ];
        buttons.extend(labels.map(|(label, meaning)| (label, Vec::new(), meaning)));
        // A question's button shows its number first ("15. How much to tell them").
        let unnumbered = match text.trim_start().split_once(". ") {
            Some((number, rest))
                if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) =>
            {
                rest
            }
            _ => text,
        };
        let index = super::named::pressed_by(&buttons, unnumbered)?;
        Some(match faq.questions.get(index) {
            Some(question) => Action::Question(question.id.clone()),
            None if index == back => Action::Resume,
            None => Action::AllQuestions,
        })
    }

    /// The button that lists every FAQ question.
    fn all_questions_button(&self) -> Button {
        Button {
            label: self.bot_message("faq_all_button"),
            data: callback::encode(0, &Action::AllQuestions),
        }
    }
}

/// A button that shows FAQ question `number`'s answer, labelled as a person of `role` asks it.
pub(super) fn faq_button(number: usize, question: &Question, role: Option<Role>) -> Button {
    let (label, _, _) = question.worded_for(role);
    Button {
        label: format!("{number}. {label}"),
        data: callback::encode(0, &Action::Question(question.id.clone())),
    }
}
