//! Kintsugi: a companion bot for rebuilding trust after a betrayal.
//!
//! A pure core with thin rings around it:
//! - [`dialogue`]: the flow model, loading and validation, the engine, transcripts (pure).
//! - [`dialogue_dir`]: reads the flow files from disk.
//! - [`storage`]: per-person state in Redis or the embedded store; the only code touching either.
//! - [`conversation`]: one input for one person: load, advance, compare-and-set save.
//! - [`shell`]: the terminal player.
//! - [`telegram`]: the bot on Telegram: handler tree, rendering, polling, webhook.
//! - [`testkit`]: a real redis-server and a fake Bot API, for tests and the load tool.
//! - [`config`]: the only reader of environment variables.
//! - [`cli`]: the `kintsugi` command and its subcommands.
//! - [`load`]: the load tool (`kintsugi load`).
//! - [`reminders`]: check-in schedules (pure arithmetic on local time and zone).

pub mod chart;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod dialogue;
pub mod dialogue_dir;
pub mod files;
pub mod load;
pub mod reminders;
pub mod safety;
pub mod shell;
pub mod storage;
pub mod telegram;
pub mod testkit;
pub mod vault;
