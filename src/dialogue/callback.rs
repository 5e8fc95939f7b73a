//! The data a button carries back when pressed: which keyboard it was shown on (a sequence
//! number the engine bumps whenever it shows new buttons) and what it does. Pure.
//!
//! Format: `<seq>|c:<choice id>` (a flow's button), `<seq>|f:<flow id>` (open a flow) or
//! `<seq>|m` (the menu), `<seq>|q:<question id>` (an FAQ answer), `<seq>|a` (every FAQ
//! question), `<seq>|r:<action>` (a reminder's), `<seq>|s:<action>` (a safety reply's),
//! `<seq>|x:yes|no` (deleting everything),
//! `<seq>|k` (answer the typed question with the text kept from earlier), `<seq>|y:in|out|stop`
//! (a part of the `/summary`), `<seq>|p:<action>` (couples mode), `<seq>|u:a<n>|w<n>` (accept
//! or withdraw a rule shared with a partner).
//! Telegram allows at most 64 bytes.

/// Telegram's limit on a button's callback data, in bytes.
pub(crate) const MAX_DATA_LEN: usize = 64;

/// What a pressed button asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Choice(String),
    OpenFlow(String),
    Menu,
    /// Show the answer to an FAQ question; valid under any keyboard.
    Question(String),
    /// List every FAQ question; valid under any keyboard.
    AllQuestions,
    /// Back to the step the person is at (under an FAQ answer read mid-flow).
    Resume,
    /// A button under a check-in reminder; valid under any keyboard.
    Reminder(ReminderAction),
    /// A button under a safety reply; valid under any keyboard.
    Safety(SafetyAction),
    /// The answer to "delete everything?": only under that question's keyboard.
    Forget(bool),
    /// Answer the typed question shown with the text kept from earlier.
    UseKept,
    /// The answer to "put this part in the summary?": only under that question's keyboard.
    Summary(SummaryAnswer),
    /// Couples mode: accepting an invitation, "not yet" at a shared question, unlinking.
    Couple(CoupleButton),
    /// Couples mode: accept or withdraw rule number `.1`; only under the `/rules` keyboard.
    Rule(RuleButton, u32),
}

/// What a person can do with a rule shared with their partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleButton {
    Accept,
    /// Says no to the partner's proposal: it is no longer waiting.
    Decline,
    /// Withdraws one's own proposal at once; an agreed rule is confirmed first.
    Withdraw,
    /// "Yes, withdraw it" after the question about an agreed rule.
    WithdrawAgreed,
    /// "Keep it": the agreed rule stays, and the rules are shown again.
    Keep,
}

/// What a person can do in couples mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoupleButton {
    /// Accept the invitation (the private check comes next).
    Join,
    /// Not now: the invitation stays as it was.
    Decline,
    /// "Not yet": hold my answer back.
    Hold,
    /// Ready: let both answers be shown.
    Ready,
    /// End the link.
    Unlink,
    /// Keep the link.
    Stay,
    /// Propose a rule to the partner.
    Propose,
    /// Share check-in ratings with the partner (while they do too).
    ShareRatings,
    /// Stop sharing check-in ratings.
    StopRatings,
}

impl CoupleButton {
    const ALL: [CoupleButton; 9] = [
        CoupleButton::ShareRatings,
        CoupleButton::StopRatings,
        CoupleButton::Join,
        CoupleButton::Decline,
        CoupleButton::Hold,
        CoupleButton::Ready,
        CoupleButton::Unlink,
        CoupleButton::Stay,
        CoupleButton::Propose,
    ];

    fn code(self) -> &'static str {
        match self {
            CoupleButton::Join => "join",
            CoupleButton::Decline => "decline",
            CoupleButton::Hold => "hold",
            CoupleButton::Ready => "ready",
            CoupleButton::Unlink => "unlink",
            CoupleButton::Stay => "stay",
            CoupleButton::Propose => "propose",
            CoupleButton::ShareRatings => "rate_on",
            CoupleButton::StopRatings => "rate_off",
        }
    }

    fn from_code(code: &str) -> Option<CoupleButton> {
        CoupleButton::ALL
            .into_iter()
            .find(|button| button.code() == code)
    }
}

/// What a person says about one part of their `/summary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SummaryAnswer {
    Include,
    Leave,
    /// Stop choosing: no summary is made.
    Stop,
}

/// What a person can do with a safety reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SafetyAction {
    /// "Yes": the gentle question guessed right.
    Yes,
    /// A short grounding exercise.
    Grounding,
    /// Help writing a safety plan.
    Plan,
    /// "I'm safe, let's go on": back to where they were.
    Safe,
    /// "That's not what I meant": back to where they were.
    NotMeant,
    /// "No" to the gentle question: as `NotMeant`, unless another reply is waiting behind
    /// the question, which then stays open.
    No,
    /// "Not really", asked after "I'm safe" whether there is someone to reach: a line to
    /// call, and the safety plan offered once more.
    NoOne,
}

impl SafetyAction {
    const ALL: [SafetyAction; 7] = [
        SafetyAction::Yes,
        SafetyAction::No,
        SafetyAction::Grounding,
        SafetyAction::Plan,
        SafetyAction::Safe,
        SafetyAction::NotMeant,
        SafetyAction::NoOne,
    ];

    fn code(self) -> &'static str {
        match self {
            SafetyAction::Yes => "yes",
            SafetyAction::Grounding => "ground",
            SafetyAction::Plan => "plan",
            SafetyAction::Safe => "safe",
            SafetyAction::NotMeant => "not_meant",
            SafetyAction::No => "no",
            SafetyAction::NoOne => "no_one",
        }
    }

    fn from_code(code: &str) -> Option<SafetyAction> {
        SafetyAction::ALL
            .into_iter()
            .find(|action| action.code() == code)
    }
}

/// What a person can do with a check-in reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReminderAction {
    /// Start the check-in now.
    Start,
    /// Remind me again in an hour.
    Hour,
    /// Remind me again tomorrow.
    Tomorrow,
    /// Skip this one.
    Skip,
}

impl ReminderAction {
    fn code(self) -> &'static str {
        match self {
            ReminderAction::Start => "start",
            ReminderAction::Hour => "hour",
            ReminderAction::Tomorrow => "tomorrow",
            ReminderAction::Skip => "skip",
        }
    }

    fn from_code(code: &str) -> Option<ReminderAction> {
        [
            ReminderAction::Start,
            ReminderAction::Hour,
            ReminderAction::Tomorrow,
            ReminderAction::Skip,
        ]
        .into_iter()
        .find(|action| action.code() == code)
    }
}

/// A decoded button press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Press {
    pub seq: u32,
    pub action: Action,
}

/// Encodes a button press for the keyboard numbered `seq`.
pub fn encode(seq: u32, action: &Action) -> String {
    match action {
        Action::Choice(id) => format!("{seq}|c:{id}"),
        Action::OpenFlow(id) => format!("{seq}|f:{id}"),
        Action::Menu => format!("{seq}|m"),
        Action::Question(id) => format!("{seq}|q:{id}"),
        Action::AllQuestions => format!("{seq}|a"),
        Action::Resume => format!("{seq}|b"),
        Action::Reminder(action) => format!("{seq}|r:{}", action.code()),
        Action::Safety(action) => format!("{seq}|s:{}", action.code()),
        Action::Forget(confirmed) => format!("{seq}|x:{}", if *confirmed { "yes" } else { "no" }),
        Action::UseKept => format!("{seq}|k"),
        Action::Couple(button) => format!("{seq}|p:{}", button.code()),
        Action::Rule(RuleButton::Accept, number) => format!("{seq}|u:a{number}"),
        Action::Rule(RuleButton::Withdraw, number) => format!("{seq}|u:w{number}"),
        Action::Rule(RuleButton::Decline, number) => format!("{seq}|u:d{number}"),
        Action::Rule(RuleButton::WithdrawAgreed, number) => format!("{seq}|u:W{number}"),
        Action::Rule(RuleButton::Keep, number) => format!("{seq}|u:k{number}"),
        Action::Summary(answer) => format!(
            "{seq}|y:{}",
            match answer {
                SummaryAnswer::Include => "in",
                SummaryAnswer::Leave => "out",
                SummaryAnswer::Stop => "stop",
            }
        ),
    }
}

/// Decodes button data; `None` for anything this bot did not make.
pub fn decode(data: &str) -> Option<Press> {
    let (seq, action) = data.split_once('|')?;
    let seq = seq.parse().ok()?;
    let action = match action.split_once(':') {
        Some(("c", id)) if !id.is_empty() => Action::Choice(id.to_owned()),
        Some(("f", id)) if !id.is_empty() => Action::OpenFlow(id.to_owned()),
        Some(("q", id)) if !id.is_empty() => Action::Question(id.to_owned()),
        Some(("r", code)) => Action::Reminder(ReminderAction::from_code(code)?),
        Some(("s", code)) => Action::Safety(SafetyAction::from_code(code)?),
        Some(("p", code)) => Action::Couple(CoupleButton::from_code(code)?),
        Some(("u", code)) => match code.split_at_checked(1)? {
            ("a", number) => Action::Rule(RuleButton::Accept, number.parse().ok()?),
            ("w", number) => Action::Rule(RuleButton::Withdraw, number.parse().ok()?),
            ("d", number) => Action::Rule(RuleButton::Decline, number.parse().ok()?),
            ("W", number) => Action::Rule(RuleButton::WithdrawAgreed, number.parse().ok()?),
            ("k", number) => Action::Rule(RuleButton::Keep, number.parse().ok()?),
            _ => return None,
        },
        Some(("x", "yes")) => Action::Forget(true),
        Some(("x", "no")) => Action::Forget(false),
        Some(("y", "in")) => Action::Summary(SummaryAnswer::Include),
        Some(("y", "out")) => Action::Summary(SummaryAnswer::Leave),
        Some(("y", "stop")) => Action::Summary(SummaryAnswer::Stop),
        None if action == "m" => Action::Menu,
        None if action == "a" => Action::AllQuestions,
        None if action == "b" => Action::Resume,
        None if action == "k" => Action::UseKept,
        _ => return None,
    };
    Some(Press { seq, action })
}

/// The longest data a choice button with this id can need.
pub(crate) fn choice_data_len(choice_id: &str) -> usize {
    encode(u32::MAX, &Action::Choice(choice_id.to_owned())).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips() {
        for action in [
            Action::Choice("ready".to_owned()),
            Action::OpenFlow("ground-rules".to_owned()),
            Action::UseKept,
            Action::Summary(SummaryAnswer::Include),
            Action::Summary(SummaryAnswer::Stop),
            Action::Menu,
            Action::Question("how-long".to_owned()),
            Action::Reminder(ReminderAction::Tomorrow),
            Action::Safety(SafetyAction::NotMeant),
            Action::Safety(SafetyAction::Grounding),
            Action::Safety(SafetyAction::NoOne),
            Action::Forget(true),
            Action::Forget(false),
            Action::Couple(CoupleButton::Hold),
            Action::Couple(CoupleButton::Join),
            Action::Couple(CoupleButton::Propose),
            Action::Rule(RuleButton::Accept, 12),
            Action::Rule(RuleButton::Withdraw, 3),
            Action::Rule(RuleButton::Decline, 4),
            Action::Rule(RuleButton::WithdrawAgreed, 5),
            Action::Rule(RuleButton::Keep, 6),
        ] {
            let data = encode(42, &action);
            assert_eq!(decode(&data), Some(Press { seq: 42, action }));
        }
    }

    #[test]
    fn forged_or_foreign_data_is_rejected() {
        for data in [
            "",
            "x|m",
            "12",
            "12|",
            "12|c:",
            "12|z:thing",
            "-1|m",
            "12|m:extra",
            "12|s:jump",
            "12|x:maybe",
        ] {
            assert_eq!(decode(data), None, "{data:?}");
        }
    }

    #[test]
    fn a_32_character_id_fits_telegram_limit() {
        assert!(choice_data_len(&"a".repeat(32)) <= MAX_DATA_LEN);
    }
}
