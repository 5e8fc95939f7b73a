//! Conversation transcripts: a plain-text record of what a person sent and what the bot
//! answered, which coaches can read and write and the tests replay. Pure.
//!
//! ```text
//! # Comments at the top describe the transcript.
//! > /start
//! < Hi, I'm Kintsugi.
//!
//!   Who are you in this story?
//!   [1] I was the one hurt
//!   [2] I broke the trust
//! > [I was the one hurt]
//! < ...
//! ```
//! A line starting with `> ` is what the person sends: text, a `/command`, or `[Label]` for a
//! button press. A bot message starts with `< `; its further lines are indented two spaces,
//! and its buttons follow as `[n] Label`.

use super::engine::{Attachment, Input, Reply, advance};
use super::model::Library;
use super::state::PersonState;

/// Renders the bot's replies as transcript lines (also what the shell prints). Buttons are
/// numbered across the replies of one turn, so FAQ answers offered above a step's buttons
/// never share a number with them.
pub(crate) fn render_replies(replies: &[Reply]) -> String {
    let mut out = String::new();
    let mut number = 0;
    for reply in replies {
        for (index, line) in reply.text.lines().enumerate() {
            out.push_str(if index == 0 { "< " } else { "  " });
            out.push_str(line);
            out.push('\n');
        }
        if reply.text.is_empty() {
            out.push_str("<\n");
        }
        match &reply.attachment {
            Some(Attachment::Chart(_)) => out.push_str("  (photo: progress.png)\n"),
            Some(Attachment::Export) => out.push_str("  (file: kintsugi-export.json)\n"),
            Some(Attachment::Summary(_)) => out.push_str("  (file: kintsugi-summary.pdf)\n"),
            None => {}
        }
        for button in &reply.buttons {
            number += 1;
            out.push_str(&format!("  [{number}] {}\n", button.label));
        }
    }
    out
}

/// Turns a line the person typed into an input, given the buttons last shown: a number or a
/// `[Label]` presses a button.
pub(crate) fn read_line(line: &str, last_buttons: &[super::engine::Button]) -> Input {
    let trimmed = line.trim();
    if let Ok(number) = trimmed.parse::<usize>()
        && let Some(button) = number
            .checked_sub(1)
            .and_then(|index| last_buttons.get(index))
    {
        return Input::Press(button.data.clone());
    }
    if let Some(label) = trimmed
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        && let Some(button) = last_buttons.iter().find(|button| button.label == label)
    {
        return Input::Press(button.data.clone());
    }
    Input::from_text(line)
}

/// How a line the person sent is written in a transcript: presses by their label.
pub(crate) fn describe_line(line: &str, last_buttons: &[super::engine::Button]) -> String {
    match read_line(line, last_buttons) {
        Input::Press(data) => last_buttons
            .iter()
            .find(|button| button.data == data)
            .map_or_else(
                || line.trim().to_owned(),
                |button| format!("[{}]", button.label),
            ),
        _ => line.trim_end().to_owned(),
    }
}

/// The clock a replayed transcript runs on: one minute between inputs from a fixed start.
pub(crate) const REPLAY_START: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// Replays the inputs of `transcript` against a fresh person and returns the transcript the
/// engine actually produces, to compare with the original.
pub fn replay(library: &Library, transcript: &str) -> String {
    let mut out = String::new();
    let mut state = PersonState::default();
    let mut last_buttons = Vec::new();
    let mut seen_input = false;
    for (index, line) in transcript.lines().enumerate() {
        if let Some(sent) = line
            .strip_prefix("> ")
            .or_else(|| (line == ">").then_some(""))
        {
            seen_input = true;
            let input = read_line(sent, &last_buttons).screened(library);
            out.push_str(&format!("> {sent}\n"));
            let outcome = advance(library, &state, &input, replay_time(index));
            last_buttons = live_buttons(&outcome.replies);
            out.push_str(&render_replies(&outcome.replies));
            state = outcome.state;
        } else if !seen_input {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Trailing spaces and trailing blank lines do not count when comparing transcripts.
/// The clock of a replay: the input on line `index` (from 0) of a transcript happens a minute
/// per line after [`REPLAY_START`]. `shell --record` records on the same clock.
pub(crate) fn replay_time(index: usize) -> i64 {
    REPLAY_START + 60 * index as i64
}

/// The buttons a typed number presses: all those of the latest turn, numbered as
/// [`render_replies`] shows them, when its last reply has buttons. After a question (no
/// buttons) a typed number is an answer, not a press of some older button.
pub(crate) fn live_buttons(replies: &[Reply]) -> Vec<super::engine::Button> {
    if replies.last().is_none_or(|reply| reply.buttons.is_empty()) {
        return Vec::new();
    }
    replies
        .iter()
        .flat_map(|reply| reply.buttons.iter().cloned())
        .collect()
}

pub fn normalize(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    while lines.last().is_some_and(|line| line.is_empty()) {
        lines.pop();
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}
