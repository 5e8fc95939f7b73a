//! The updates the fake hands out and the messages it records, as Telegram's JSON: a text
//! message from a person, the bot's own user, and a sent message read back for the tests.

use serde_json::{Value, json};

use super::{BOT_ID, Request, Sent, SentFile};

/// An update carrying a text message from person `chat`, as Telegram would post it.
pub fn text_update(update_id: i64, chat: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": private_message(chat, update_id, chat, text),
    })
}

pub(super) fn bot_user() -> Value {
    json!({ "id": BOT_ID, "is_bot": true, "first_name": "Kintsugi" })
}

pub(super) fn user(id: i64) -> Value {
    json!({ "id": id, "is_bot": false, "first_name": "Ana" })
}

pub(super) fn private_message(chat: i64, message_id: i64, from: i64, text: &str) -> Value {
    json!({
        "message_id": message_id,
        "date": 1_800_000_000,
        "chat": { "id": chat, "type": "private", "first_name": "Ana" },
        "from": user(from),
        "text": text,
    })
}

pub(super) fn sent(request: &Request) -> Option<Sent> {
    let body = &request.body;
    let buttons = body["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .filter_map(|button| {
            Some((
                button["text"].as_str()?.to_owned(),
                button["callback_data"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let file = ["photo", "document"].into_iter().find_map(|kind| {
        let field = &body[kind];
        Some(SentFile {
            kind: kind.to_owned(),
            name: field["__file"].as_str()?.to_owned(),
            bytes: field["__bytes"]
                .as_array()?
                .iter()
                .filter_map(|byte| u8::try_from(byte.as_u64()?).ok())
                .collect(),
        })
    });
    let text = body["text"]
        .as_str()
        .or_else(|| body["caption"].as_str())
        .or_else(|| file.as_ref().map(|_| ""))?;
    Some(Sent {
        chat: body["chat_id"].as_i64()?,
        message_id: body["__message_id"].as_i64().unwrap_or_default(),
        text: text.to_owned(),
        buttons,
        file,
        at: request.at,
    })
}
