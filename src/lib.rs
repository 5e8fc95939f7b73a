//! Kintsugi: a companion bot for rebuilding trust after a betrayal.
//!
//! A pure core with rings around it; each ring owns one kind of I/O, and arrows only point
//! inward (no module imports one that imports it back).
//!
//! The pure core:
//! - [`dialogue`]: the flow model, loading and validation, the engine, person state,
//!   transcripts. The engine returns replies and effects as data and never renders or stores.
//! - [`safety`]: the crisis screen (patterns and a learned classifier).
//! - [`calendar`]: check-in schedules and time zones.
//! - [`chart`]: the `/progress` chart drawn as PNG bytes; [`pdf`]: a short document laid out
//!   as a PDF; [`files`]: the files replies carry (chart, export, `/summary`).
//! - [`vault`]: encryption at rest.
//!
//! The rings:
//! - [`storage`]: people's state and the reminder queue, behind two traits, in Redis, the
//!   embedded store or memory; the only code touching any of them.
//! - [`conversation`]: one input for one person: screen, read, advance, compare-and-set
//!   write with the effects in the state's outbox, carry them out, and the files the replies
//!   ask for.
//! - [`reminders`]: the scheduler that claims due reminders and sends them at most once.
//! - [`telegram`]: the bot on Telegram: handler tree, rendering, pacing and the per-chat send
//!   queue, polling (with its lease), webhook.
//! - [`ops`]: metrics, `/healthz` and `/readyz` for operators.
//! - [`shell`]: the terminal player; [`dialogue_dir`]: reads the flow files from disk.
//! - [`config`]: the only reader of environment variables; [`cli`]: the `kintsugi` command.
//! - [`allocator`]: the binaries' memory allocator (mimalloc) and its settings.
//! - `testkit` (with the `testkit` feature only): a real redis-server and a fake Bot API, for
//!   the tests and the load tool (`src/bin/kintsugi-load/`).
//!
//! One update, top to bottom: `telegram::handlers` -> `conversation` -> `dialogue::advance`
//! -> `storage` -> back through `conversation` (files) -> `telegram::render`.

pub mod allocator;
pub mod calendar;
pub mod chart;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod diagnostics;
pub mod dialogue;
pub mod dialogue_dir;
pub mod files;
pub mod flood;
pub mod ops;
pub mod pdf;
pub mod reminders;
pub mod safety;
pub mod shell;
pub mod storage;
pub mod telegram;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod vault;
