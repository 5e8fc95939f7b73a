//! Replies kept to short runs: at most [`MAX_MESSAGES_BEFORE_BUTTONS`] messages in a row, the
//! one with the buttons included. A step is written within that (`kintsugi check` warns of
//! one that is not), but a note said first ("Thank you. That one is yours.") and the next
//! step together can send one more; two short messages of such a run are then joined into one.

use crate::dialogue::model::{LONG_MESSAGE, MAX_MESSAGES_BEFORE_BUTTONS};

use super::Reply;

/// Two joined messages may together be this long: a little over one long message, so a
/// short note always fits beside a step's message, and two long ones are never joined.
const JOINED_AT_MOST: usize = LONG_MESSAGE + LONG_MESSAGE / 3;

/// `replies` with runs longer than [`MAX_MESSAGES_BEFORE_BUTTONS`] shortened, by joining the
/// first two neighbours of the run that fit together in [`JOINED_AT_MOST`] (the first without
/// buttons, neither with an attachment): a note said first joins the step's first message.
pub(super) fn in_short_runs(replies: Vec<Reply>) -> Vec<Reply> {
    let mut out: Vec<Reply> = Vec::with_capacity(replies.len());
    // Where the run that `out` ends with starts.
    let mut run_start = 0;
    for reply in replies {
        let ends_run = !reply.buttons.is_empty();
        out.push(reply);
        while out.len() - run_start > MAX_MESSAGES_BEFORE_BUTTONS {
            if !join_first_pair(&mut out, run_start) {
                break;
            }
        }
        if ends_run {
            run_start = out.len();
        }
    }
    out
}

/// Joins the first pair of neighbours in `replies[from..]` that may be joined; false when
/// none may.
fn join_first_pair(replies: &mut Vec<Reply>, from: usize) -> bool {
    let length = |reply: &Reply| reply.text.chars().count();
    let first = (from..replies.len().saturating_sub(1))
        .filter(|&at| {
            let (first, second) = (&replies[at], &replies[at + 1]);
            first.buttons.is_empty()
                && first.attachment.is_none()
                && second.attachment.is_none()
                && !first.text.trim().is_empty()
                && !second.text.trim().is_empty()
        })
        .find(|&at| length(&replies[at]) + length(&replies[at + 1]) <= JOINED_AT_MOST);
    let Some(at) = first else {
        return false;
    };
    let second = replies.remove(at + 1);
    let first = &mut replies[at];
    first.text = format!("{}\n\n{}", first.text.trim_end(), second.text.trim_start());
    first.buttons = second.buttons;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::engine::Button;

    fn said(text: &str) -> Reply {
        Reply::text(text)
    }

    fn asked(text: &str) -> Reply {
        Reply {
            buttons: vec![Button {
                label: "Go on".into(),
                data: "x".into(),
            }],
            ..Reply::text(text)
        }
    }

    fn texts(replies: &[Reply]) -> Vec<&str> {
        replies.iter().map(|reply| reply.text.as_str()).collect()
    }

    #[test]
    fn a_note_before_a_full_step_is_joined_to_the_step_s_first_message() {
        let replies = in_short_runs(vec![
            said("Thank you."),
            said("A longer message that teaches something."),
            said("Another one, also teaching."),
            asked("What will you try?"),
        ]);
        assert_eq!(
            texts(&replies),
            [
                "Thank you.\n\nA longer message that teaches something.",
                "Another one, also teaching.",
                "What will you try?"
            ]
        );
        assert_eq!(replies[2].buttons.len(), 1);
    }

    #[test]
    fn runs_of_three_or_fewer_are_left_alone_and_buttons_end_a_run() {
        let replies = vec![
            said("One."),
            said("Two."),
            asked("Three?"),
            said("Four."),
            said("Five."),
            asked("Six?"),
        ];
        assert_eq!(in_short_runs(replies.clone()), replies);
    }

    #[test]
    fn the_buttons_stay_on_the_last_message_when_it_is_joined() {
        let long = "a".repeat(700);
        let replies = in_short_runs(vec![said(&long), said(&long), said(&long), asked("Ready?")]);
        assert_eq!(replies.len(), 3);
        assert_eq!(replies[2].text, format!("{long}\n\nReady?"));
        assert_eq!(replies[2].buttons.len(), 1);
    }

    #[test]
    fn long_messages_are_never_joined() {
        let long: Vec<Reply> = (0..4).map(|_| said(&"a".repeat(500))).collect();
        assert_eq!(in_short_runs(long.clone()), long);
    }
}
