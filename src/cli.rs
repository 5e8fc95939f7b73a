//! The `kintsugi` command line: `run` (the default), `shell`, `check`, `graph`, `screen` and
//! `keygen`. Reads configuration, builds the storage and hands over; errors for
//! operators are precise and end with a non-zero exit.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Config, Encryption, Settings};
use crate::dialogue::Library;
use crate::dialogue::compile::Options;
use crate::dialogue::graph::mermaid;
use crate::dialogue_dir;
use crate::storage::{EmbeddedStore, PersonId, RedisStore, Storage};
use crate::telegram::Listen;
use crate::telegram::webhook::{Webhook, is_usable_secret};
use crate::vault::{MasterKey, Vault};

#[derive(Debug, Parser)]
#[command(
    name = "kintsugi",
    version,
    about = "A companion for rebuilding trust after a betrayal"
)]
pub struct Cli {
    /// Without a subcommand, `run`.
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot on Telegram (needs TELOXIDE_TOKEN); long polling unless --webhook.
    Run {
        /// Receive updates on a webhook (KINTSUGI_WEBHOOK_URL, KINTSUGI_WEBHOOK_SECRET,
        /// KINTSUGI_WEBHOOK_ADDRESS) instead of long polling.
        #[arg(long)]
        webhook: bool,
    },
    /// Talk to Kintsugi in this terminal (embedded store, or Redis when REDIS_URL is set).
    Shell {
        /// Write the conversation to FILE as a transcript that the tests can replay.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// Who you are in this shell: a number of your choosing. Two shells side by side with
        /// two numbers are two people (partners can link, see "Couples mode" in the README).
        #[arg(long = "as", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..))]
        person: i64,
    },
    /// Check every flow file and report all problems with their line and column.
    Check {
        /// The dialogue folder (default: KINTSUGI_DIALOGUES, or ./dialogues).
        dir: Option<PathBuf>,
    },
    /// Screen messages for crisis language: one message per line on stdin, one verdict per
    /// line on stdout (`ok`, or the kind found: `self-harm`, `violence`, `abuse`, followed by
    /// ` (unsure)` when the bot would ask a gentle question first).
    Screen {
        /// Also say, on each line, which layer decided (patterns or classifier), what each
        /// layer found alone, and the classifier's score for each kind.
        #[arg(long)]
        explain: bool,
    },
    /// Print a new random master key for KINTSUGI_MASTER_KEY.
    Keygen {
        /// The key's id, written in front of everything it wraps (change it at each rotation).
        #[arg(long, default_value = "k1")]
        id: String,
    },
    /// Print a flow as a Mermaid diagram.
    Graph {
        /// The flow's id, for example `forgiveness`.
        flow: String,
    },
}

impl Command {
    /// The log level when RUST_LOG is not set: the shell keeps the terminal for the talk.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Shell { .. } => "warn",
            _ => "info",
        }
    }
}

/// Runs a parsed command line.
pub fn main(cli: Cli) -> ExitCode {
    let config = cli.settings.config_from_env();
    let result = match cli.command.unwrap_or(Command::Run { webhook: false }) {
        Command::Run { webhook } => run(&config, webhook),
        Command::Check { dir } => return check(dir.unwrap_or(config.dialogues)),
        Command::Graph { flow } => graph(&config, &flow),
        Command::Keygen { id } => keygen(&id),
        Command::Screen { explain } => screen(&config, explain),
        Command::Shell { record, person } => shell(&config, record, person),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(dir: PathBuf) -> ExitCode {
    match dialogue_dir::compile_dir(&dir) {
        Ok(library) => {
            for warning in &library.warnings {
                eprintln!("{warning}");
            }
            let (steps, prompts) = library.counts();
            let verdict = match library.warnings.len() {
                0 => "all good".to_owned(),
                1 => "no errors, 1 warning".to_owned(),
                count => format!("no errors, {count} warnings"),
            };
            println!(
                "{}: {} flows, {steps} steps, {prompts} prompts: {verdict}",
                dir.display(),
                library.flows.len()
            );
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            ExitCode::FAILURE
        }
    }
}

/// Compiles the configured dialogue folder, refusing an invalid one with every problem listed.
fn compile_library(config: &Config) -> anyhow::Result<Library> {
    // `/privacy` tells people how long their data is kept, as configured.
    let options = Options {
        retention_days: config
            .retention
            .0
            .map(|period| period.as_secs() / (24 * 60 * 60)),
    };
    dialogue_dir::compile_dir_with(&config.dialogues, options).map_err(|diagnostics| {
        anyhow::anyhow!(
            "the dialogue folder {} has problems:\n{diagnostics}",
            config.dialogues.display()
        )
    })
}

fn graph(config: &Config, flow_id: &str) -> anyhow::Result<()> {
    let library = compile_library(config)?;
    let Some(flow) = library.flow(flow_id) else {
        let known: Vec<&str> = library
            .flows
            .iter()
            .map(|flow| flow.id.0.as_str())
            .collect();
        anyhow::bail!(
            "there is no flow \"{flow_id}\"; flows: {}",
            known.join(", ")
        );
    };
    print!("{}", mermaid(flow));
    Ok(())
}

fn screen(config: &Config, explain: bool) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let library = compile_library(config)?;
    let stdout = std::io::stdout();
    let Some(screen) = &library.screen else {
        anyhow::bail!("the dialogue folder has no crisis-language.toml");
    };
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().lines() {
        let line = line.context("cannot read standard input")?;
        let explanation = screen.explain(&line);
        if explain {
            let scores = crate::safety::ConcernKind::ALL
                .iter()
                .map(|&kind| format!("{} {:.3}", kind.as_str(), explanation.scores.of(kind)))
                .collect::<Vec<_>>()
                .join(", ");
            writeln!(
                out,
                "{}\tdecided by: {}\tpatterns: {}\tclassifier: {}\tscores: {scores}",
                verdict(explanation.concern),
                explanation.decided_by.map_or("-", |layer| layer.as_str()),
                verdict(explanation.patterns),
                verdict(explanation.classifier),
            )?;
        } else {
            writeln!(out, "{}", verdict(explanation.concern))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A verdict as `kintsugi screen` prints it.
fn verdict(concern: Option<crate::safety::Concern>) -> String {
    match concern {
        None => "ok".to_owned(),
        Some(concern) => match concern.certainty {
            crate::safety::Certainty::Clear => concern.kind.as_str().to_owned(),
            crate::safety::Certainty::Unsure => format!("{} (unsure)", concern.kind.as_str()),
        },
    }
}

fn keygen(id: &str) -> anyhow::Result<()> {
    let key = MasterKey::generate(id);
    // Checks the id the same way start-up will.
    MasterKey::parse(&key)?;
    println!("{key}");
    Ok(())
}

/// Where the shell keeps the master key it makes when none is configured.
const LOCAL_KEY_FILE: &str = "master.key";

/// The vault for the configured keys. In Telegram mode a master key is required unless the
/// operator opted out; the shell makes (once) and reuses a local key in the data folder.
pub fn vault(config: &Config, telegram: bool) -> anyhow::Result<Vault> {
    let parse = |name: &str, text: &str| {
        MasterKey::parse(text).with_context(|| format!("{name} cannot be used"))
    };
    match &config.encryption {
        Encryption::Key { current, previous } => {
            let current = parse("KINTSUGI_MASTER_KEY", current.expose())?;
            let previous = previous
                .iter()
                .map(|key| parse("KINTSUGI_PREVIOUS_MASTER_KEYS", key.expose()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(Vault::new(current, previous)?)
        }
        Encryption::Off => {
            log::warn!(
                "event=encryption_off what people write is stored unencrypted (KINTSUGI_ALLOW_UNENCRYPTED)"
            );
            Ok(Vault::plaintext())
        }
        Encryption::Unset if telegram => anyhow::bail!(
            "KINTSUGI_MASTER_KEY is not set. What people write must be encrypted at rest: run \
             `kintsugi keygen` and put its output in KINTSUGI_MASTER_KEY (keep it apart from \
             the data, and never lose it), or set KINTSUGI_ALLOW_UNENCRYPTED=true to store it \
             in the clear"
        ),
        Encryption::Unset => {
            let path = config.data_dir.join(LOCAL_KEY_FILE);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    let key = MasterKey::generate("local");
                    write_private(&path, &key).with_context(|| {
                        format!("cannot write a local master key to {}", path.display())
                    })?;
                    key
                }
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("cannot read the master key {}", path.display()));
                }
            };
            let key = MasterKey::parse(&text)
                .with_context(|| format!("the local master key {} is damaged", path.display()))?;
            Ok(Vault::new(key, Vec::new())?)
        }
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

/// Opens the configured store with its vault, and checks the master key against it. A store
/// out of reach is not an error here (the bot starts and waits for it); a wrong key is.
pub(crate) async fn open_checked_storage(
    config: &Config,
    telegram: bool,
) -> anyhow::Result<Storage> {
    // The shell lets go of the embedded store's file between operations, so shells side by
    // side (two partners on one machine) can share it; the bot holds it.
    let storage = open_storage(config, !telegram)?.with_vault(vault(config, telegram)?);
    match storage.check_vault().await {
        Ok(()) => {}
        Err(crate::storage::StorageError::Vault(error)) => {
            anyhow::bail!("the master key does not fit the store: {error}")
        }
        Err(error) => log::warn!("event=vault_check_deferred error={error}"),
    }
    match storage.upgrade_layout().await {
        Ok(0) => {}
        Ok(moved) => log::info!("event=layout_upgraded entries={moved}"),
        Err(error) => log::warn!("event=layout_upgrade_failed error={error}"),
    }
    Ok(storage)
}

/// Opens Redis when configured, the embedded store otherwise (in plaintext mode until given a
/// vault); `shared`: the embedded store is opened for each operation, so that several
/// processes can take turns with it.
pub(crate) fn open_storage(config: &Config, shared: bool) -> anyhow::Result<Storage> {
    Ok(match &config.redis_url {
        Some(url) => Storage::new(
            RedisStore::connect(url, &config.redis_prefix, config.retention)
                .context("REDIS_URL is not a usable Redis address")?,
        ),
        None => {
            let open = if shared {
                EmbeddedStore::open_shared
            } else {
                EmbeddedStore::open_swept
            };
            let (store, swept) = open(&config.data_dir, config.retention, unix_now())
                    .with_context(|| {
                        format!(
                            "cannot open the embedded store in {} (set KINTSUGI_DATA_DIR to another folder)",
                            config.data_dir.display()
                        )
                    })?;
            if swept > 0 {
                log::info!("event=retention_sweep people={swept}");
            }
            Storage::new(store)
        }
    })
}

fn run(config: &Config, webhook: bool) -> anyhow::Result<()> {
    let Some(token) = config.telegram_token.clone() else {
        anyhow::bail!("{}", crate::telegram::NO_TOKEN_HELP);
    };
    let listen = if webhook {
        Listen::Webhook(webhook_settings(config)?)
    } else {
        Listen::Polling
    };
    let library = compile_library(config)?;
    // The FAQ's learned order is fitted now (about 0.2 s), before anyone is waiting.
    library.faq.prepare();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let bot = crate::telegram::bot(token.expose(), config.telegram_api_url.as_deref())?;
        let storage = open_checked_storage(config, true).await?;
        // A long poller is the only process handling the bot's updates: it remembers the
        // states it wrote, and writes over them without reading first.
        let storage = if webhook {
            storage
        } else {
            storage.remembering()
        };
        // The bot's overall send rate is kept with the other replicas through the store.
        let limits = crate::telegram::pace::SendLimits::TELEGRAM;
        let pacer = crate::telegram::pace::Pacer::new(match config.send_pacing {
            crate::config::SendPacing::Telegram => Some(limits),
            crate::config::SendPacing::Scaled => Some(limits.faster(1000)),
            crate::config::SendPacing::Off => None,
        })
        .sharing(storage.clone());
        let app = crate::telegram::App {
            library: std::sync::Arc::new(library),
            storage,
            clock: unix_now,
            flood: crate::flood::FloodGate::new(config.flood),
            sends: crate::telegram::queue::SendQueue::with_pacer(pacer),
            // Webhook replicas share the bot's updates; a long poller is the only one.
            replicas: webhook,
            invite_link: None,
        };
        let metrics = crate::ops::install();
        let ops = match config.metrics_address {
            Some(address) => Some(crate::ops::serve(address, metrics, app.storage.clone()).await?),
            None => None,
        };
        let ran = crate::telegram::run(bot, app, listen, config.reminders, stop_signal()).await;
        if let Some(ops) = ops {
            ops.abort();
        }
        ran
    })
}

/// The webhook settings, or a precise error naming what is missing or wrong.
fn webhook_settings(config: &Config) -> anyhow::Result<Webhook> {
    let Some(url) = &config.webhook_url else {
        anyhow::bail!(
            "--webhook needs KINTSUGI_WEBHOOK_URL: the public https:// address Telegram posts updates to"
        );
    };
    let url: url::Url = url
        .parse()
        .map_err(|error| anyhow::anyhow!("KINTSUGI_WEBHOOK_URL {url:?} is not a URL: {error}"))?;
    let Some(secret) = config.webhook_secret.clone() else {
        anyhow::bail!(
            "--webhook needs KINTSUGI_WEBHOOK_SECRET: 1 to 256 letters, digits, _ or -, the same on every replica"
        );
    };
    if !is_usable_secret(secret.expose()) {
        anyhow::bail!("KINTSUGI_WEBHOOK_SECRET must be 1 to 256 letters, digits, _ or -");
    }
    Ok(Webhook {
        address: config.webhook_address,
        url,
        secret,
    })
}

fn shell(config: &Config, record: Option<PathBuf>, person: i64) -> anyhow::Result<()> {
    let library = compile_library(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let storage = open_checked_storage(config, false).await?;
        log::info!(
            "kintsugi shell version={} flows={} store={}",
            env!("CARGO_PKG_VERSION"),
            library.flows.len(),
            storage.kind()
        );
        crate::shell::run(&library, &storage, PersonId(person), record, unix_now).await?;
        Ok(())
    })
}

/// Completes at the first SIGINT (Ctrl-C) or SIGTERM.
async fn stop_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => log::info!("event=signal name=SIGINT"),
        () = terminate => log::info!("event=signal name=SIGTERM"),
    }
}

/// The wall clock, in seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}
