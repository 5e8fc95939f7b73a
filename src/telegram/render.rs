//! Turns the engine's replies into what Telegram shows: message texts cut to Telegram's limit
//! at sensible boundaries, and inline keyboards. Pure: builds values, sends nothing.
//!
//! Messages go out as plain text (no parse mode), so whatever a person wrote and the bot
//! echoes back (`<`, `>`, `&`, `*`, `_`...) shows exactly as typed and can never break a message.

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::conversation::ReadyReply;
use crate::dialogue::Button;
use crate::files::File;

/// Telegram refuses a longer message text, in UTF-16 code units.
pub(crate) const TELEGRAM_TEXT_LIMIT: usize = 4096;
/// Telegram refuses a longer caption under a photo or file, in UTF-16 code units.
pub(crate) const TELEGRAM_CAPTION_LIMIT: usize = 1024;

/// One message to send: its text and, on the last part of a reply, its buttons and file.
/// With a file, the text is its caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub text: String,
    pub keyboard: Option<InlineKeyboardMarkup>,
    pub file: Option<File>,
}

/// The messages that show `replies`, in order.
pub fn render(replies: &[ReadyReply]) -> Vec<Outgoing> {
    let mut out = Vec::new();
    for ReadyReply { reply, file } in replies {
        let text = if reply.text.trim().is_empty() {
            // Telegram refuses an empty message; a step with buttons always has text, but a
            // zero-width space keeps a reply from being lost if one ever does not.
            "\u{200b}".to_owned()
        } else {
            reply.text.clone()
        };
        let keyboard = (!reply.buttons.is_empty()).then(|| keyboard(&reply.buttons));
        if let Some(file) = file {
            // A short text rides along as the caption; a long one goes first on its own.
            let caption = if utf16_len(&reply.text) <= TELEGRAM_CAPTION_LIMIT {
                reply.text.clone()
            } else {
                out.extend(text_messages(&reply.text));
                String::new()
            };
            out.push(Outgoing {
                text: caption,
                keyboard,
                file: Some(file.clone()),
            });
            continue;
        }
        let mut parts = text_messages(&text);
        if let Some(last) = parts.last_mut() {
            last.keyboard = keyboard;
        }
        out.extend(parts);
    }
    out
}

/// `text` as messages within Telegram's limit, without buttons.
fn text_messages(text: &str) -> Vec<Outgoing> {
    split_text(text, TELEGRAM_TEXT_LIMIT)
        .into_iter()
        .map(|text| Outgoing {
            text,
            keyboard: None,
            file: None,
        })
        .collect()
}

/// One button a row: labels are short, and a list reads best on a phone.
pub fn keyboard(buttons: &[Button]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(buttons.iter().map(|button| {
        [InlineKeyboardButton::callback(
            button.label.clone(),
            button.data.clone(),
        )]
    }))
}

/// Splits `text` into parts of at most `limit` UTF-16 units, preferring to cut between
/// paragraphs, then lines, then sentences, then words; a word longer than a whole part is the
/// only thing ever cut in the middle.
pub(crate) fn split_text(text: &str, limit: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while utf16_len(rest) > limit {
        let window = prefix_within(rest, limit);
        let cut = ["\n\n", "\n", ". ", "! ", "? ", " "]
            .iter()
            .find_map(|separator| {
                window
                    .rfind(separator)
                    .filter(|&at| at > 0)
                    .map(|at| at + separator.len())
            })
            .unwrap_or(window.len());
        let (part, after) = rest.split_at(cut);
        parts.push(part.trim_end().to_owned());
        rest = after.trim_start();
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_owned());
    }
    parts
}

/// The longest prefix of `text` within `limit` UTF-16 units, ending on a char boundary.
fn prefix_within(text: &str, limit: usize) -> &str {
    let mut units = 0;
    for (index, c) in text.char_indices() {
        units += c.len_utf16();
        if units > limit {
            return &text[..index];
        }
    }
    text
}

fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::Reply;
    use proptest::prelude::*;

    #[test]
    fn a_short_text_is_one_part() {
        assert_eq!(split_text("Hello.", 10), ["Hello."]);
        assert_eq!(split_text("", 10), [""]);
    }

    #[test]
    fn a_long_text_is_cut_between_paragraphs_first() {
        let text = "First paragraph here.\n\nSecond one.";
        assert_eq!(
            split_text(text, 25),
            ["First paragraph here.", "Second one."]
        );
    }

    #[test]
    fn without_paragraphs_it_cuts_between_words_never_inside_one() {
        assert_eq!(
            split_text("one two three four", 9),
            ["one two", "three", "four"]
        );
    }

    #[test]
    fn a_word_longer_than_a_part_is_the_only_thing_cut() {
        assert_eq!(split_text("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn the_limit_counts_utf16_units_as_telegram_does() {
        // Each emoji is two UTF-16 units.
        let parts = split_text("😀😀😀 😀😀", 6);
        assert_eq!(parts, ["😀😀😀", "😀😀"]);
    }

    #[test]
    fn buttons_go_under_the_last_part_of_their_reply() {
        let reply = Reply {
            text: format!("{}\n\n{}", "a".repeat(4000), "b".repeat(200)),
            buttons: vec![Button {
                label: "Go on".to_owned(),
                data: "1|c:go".to_owned(),
            }],
            attachment: None,
        };
        let out = render(&[reply.into()]);
        assert_eq!(out.len(), 2);
        assert!(out[0].keyboard.is_none());
        assert_eq!(out[1].text, "b".repeat(200));
        assert!(out[1].keyboard.is_some());
    }

    fn chart() -> File {
        File {
            kind: crate::files::FileKind::Photo,
            name: "progress.png".to_owned(),
            bytes: vec![1, 2, 3],
        }
    }

    fn with_chart(reply: Reply) -> ReadyReply {
        ReadyReply {
            reply,
            file: Some(chart()),
        }
    }

    #[test]
    fn a_short_text_is_the_caption_of_its_file() {
        let reply = with_chart(Reply::text("Three check-ins so far."));
        let out = render(&[reply]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text, "Three check-ins so far.");
        assert_eq!(out[0].file, Some(chart()));
    }

    #[test]
    fn a_text_too_long_for_a_caption_goes_first_on_its_own() {
        let long = "word ".repeat(300);
        let reply = with_chart(Reply::text(long.clone()));
        let out = render(&[reply]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text, long);
        assert_eq!(out[0].file, None);
        assert_eq!(out[1].text, "");
        assert_eq!(out[1].file, Some(chart()));
    }

    proptest! {
        #[test]
        fn parts_fit_the_limit_and_keep_every_word(
            words in proptest::collection::vec("[a-zé😀<>&*_]{1,12}", 0..400),
            limit in 16usize..200,
        ) {
            let text = words.join(" ");
            let parts = split_text(&text, limit);
            for part in &parts {
                prop_assert!(utf16_len(part) <= limit);
            }
            let rejoined: String = parts.concat().split_whitespace().collect();
            let original: String = text.split_whitespace().collect();
            prop_assert_eq!(rejoined, original);
        }
    }
}
