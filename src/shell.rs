//! The local shell: talk to Kintsugi in a terminal, on the same engine and storage as the bot.
//! Buttons are numbered; type a number (or `[Label]`) to press one, anything else is sent as
//! text. With stdin a pipe it echoes each input, so a scripted run reads like a transcript.
//! It owns the terminal only; state goes through `conversation` like the bot's.

use std::io::IsTerminal;
use std::path::PathBuf;

use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::conversation::{self, ConversationError, ReadyReply};
use crate::dialogue::transcript::{
    describe_line, live_buttons, read_line, render_replies, replay_time,
};
use crate::dialogue::{Button, Input, Library, Reply};
use crate::storage::{PersonId, Storage};

/// The person a recording session talks as; their state is wiped first so that the recorded
/// transcript replays from a fresh start. Never one `--as` can name.
pub(crate) const RECORDING_PERSON: PersonId = PersonId(-1);
/// How often the shell looks for notices from a partner's shell.
const INBOX_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error("cannot write the transcript {path}: {source}")]
    Record {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("terminal input or output failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the shell as `person` until end of input. `now` is the clock.
pub async fn run(
    library: &Library,
    storage: &Storage,
    person: PersonId,
    record: Option<PathBuf>,
    now: impl Fn() -> i64,
) -> Result<(), ShellError> {
    let interactive = std::io::stdin().is_terminal();
    let mut out = tokio::io::stdout();
    let person = if record.is_some() {
        storage
            .delete_person(RECORDING_PERSON)
            .await
            .map_err(ConversationError::from)?;
        RECORDING_PERSON
    } else {
        person
    };
    let mut transcript = record.as_ref().map(|_| {
        String::from("# Recorded with `kintsugi shell --record`. Replayed by `cargo test --test transcripts`.\n")
    });

    if interactive {
        out.write_all(b"Kintsugi shell: type a number to press a button, /help for help, Ctrl-D to leave.\n\n").await?;
    }
    let mut last_buttons = Vec::new();
    // A recording starts from its first typed line, so that a transcript of one flow does
    // not carry (and break with every edit of) the welcome.
    if record.is_none() {
        let fresh = storage
            .read(person, now())
            .await
            .map_err(ConversationError::from)?
            .version
            == 0;
        let opening = if fresh { "/start" } else { "/continue" };
        let replies = send(library, storage, person, opening, &last_buttons, now()).await?;
        show(&mut out, &replies, &mut last_buttons).await?;
    }

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut inbox = tokio::time::interval(INBOX_EVERY);
    let mut prompt = true;
    loop {
        if interactive && prompt {
            out.write_all(b"> ").await?;
            out.flush().await?;
        }
        prompt = true;
        // Notices from a partner's shell show as they come (a recording has no partner).
        let line = tokio::select! {
            line = lines.next_line() => line?,
            _ = inbox.tick(), if transcript.is_none() => {
                let notices = storage
                    .take_notices(person, now())
                    .await
                    .map_err(ConversationError::from)?;
                for notice in &notices {
                    out.write_all(format!("\n(from Kintsugi, about your partner) {notice}\n").as_bytes()).await?;
                }
                prompt = !notices.is_empty();
                continue;
            }
        };
        let Some(line) = line else {
            break;
        };
        if line.trim().is_empty() {
            continue;
        }
        if !interactive {
            out.write_all(format!("> {line}\n").as_bytes()).await?;
        }
        let described = describe_line(&line, &last_buttons);
        // A recording runs on the clock its replay will use, so times it shows match.
        let at = match &transcript {
            Some(transcript) => replay_time(transcript.lines().count()),
            None => now(),
        };
        let replies = send(library, storage, person, &line, &last_buttons, at).await?;
        if let Some(transcript) = &mut transcript {
            let shown: Vec<Reply> = replies.iter().map(|ready| ready.reply.clone()).collect();
            transcript.push_str(&format!("> {described}\n{}", render_replies(&shown)));
        }
        show(&mut out, &replies, &mut last_buttons).await?;
    }
    if let (Some(path), Some(transcript)) = (record, transcript) {
        std::fs::write(&path, transcript).map_err(|source| ShellError::Record { path, source })?;
    }
    out.flush().await?;
    Ok(())
}

/// Sends one line as `person`; notices for a partner wait in the partner's inbox for their
/// shell to show.
async fn send(
    library: &Library,
    storage: &Storage,
    person: PersonId,
    line: &str,
    last_buttons: &[Button],
    now: i64,
) -> Result<Vec<ReadyReply>, ShellError> {
    let input: Input = read_line(line, last_buttons);
    let response = conversation::respond(storage, library, person, &input, now, None).await?;
    for notice in response.notices {
        let texts: Vec<String> = notice.replies.into_iter().map(|reply| reply.text).collect();
        if let Err(error) = storage.post_notice(notice.to, &texts, now).await {
            log::warn!("event=notice_not_left error={error}");
        }
    }
    Ok(response.replies)
}

async fn show(
    out: &mut (impl AsyncWrite + Unpin),
    ready: &[ReadyReply],
    last_buttons: &mut Vec<Button>,
) -> Result<(), ShellError> {
    let replies: Vec<Reply> = ready.iter().map(|ready| ready.reply.clone()).collect();
    *last_buttons = live_buttons(&replies);
    out.write_all(render_replies(&replies).as_bytes()).await?;
    for file in ready.iter().filter_map(|ready| ready.file.as_ref()) {
        let line = match save_attachment(&file.name, &file.bytes) {
            Ok(path) => format!("  (saved as {})\n", path.display()),
            Err(error) => format!("  (could not save {}: {error})\n", file.name),
        };
        out.write_all(line.as_bytes()).await?;
    }
    out.flush().await?;
    Ok(())
}

/// Where the shell puts a picture or file a reply carries: a folder of the system's
/// temporary directory that only this user can read.
fn save_attachment(name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let folder = std::env::temp_dir().join("kintsugi-shell");
    std::fs::create_dir_all(&folder)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700))?;
    }
    let path = folder.join(name);
    std::fs::write(&path, bytes)?;
    Ok(path)
}
