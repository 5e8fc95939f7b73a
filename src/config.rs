//! Settings from the command line and the environment (and a `.env` file, loaded by `main`),
//! declared once with clap so `--help` lists every one with its variable and default. This is
//! the only module that reads environment variables; everything else receives a `Config`, and
//! the settings types (`ReminderConfig`, `Encryption`) live here.

use std::path::PathBuf;
use std::time::Duration;

use crate::flood::FloodLimit;
use crate::storage::Retention;

/// Every setting Kintsugi reads. `.env.example` lists them all.
#[derive(Debug, Clone)]
pub struct Config {
    /// `REDIS_URL`: use Redis when set, the embedded store otherwise.
    pub redis_url: Option<String>,
    /// `KINTSUGI_REDIS_PREFIX`: the first part of every Redis key.
    pub redis_prefix: String,
    /// `KINTSUGI_DATA_DIR`: where the embedded store keeps its file.
    pub data_dir: PathBuf,
    /// `KINTSUGI_DIALOGUES`: the folder of flow files.
    pub dialogues: PathBuf,
    /// `KINTSUGI_RETENTION_DAYS`: how long a person's data lives after their last visit.
    pub retention: Retention,
    /// `TELOXIDE_TOKEN`: the bot's token from @BotFather (Telegram mode only).
    pub telegram_token: Option<Secret>,
    /// `TELOXIDE_API_URL`: a self-hosted or local Bot API server instead of Telegram's.
    pub telegram_api_url: Option<String>,
    /// `KINTSUGI_FLOOD_BURST` and `KINTSUGI_FLOOD_PER_MINUTE`: how many messages one person
    /// may send at once, and how fast that allowance comes back.
    pub flood: FloodLimit,
    /// `KINTSUGI_WEBHOOK_URL`: the public HTTPS address Telegram posts updates to.
    pub webhook_url: Option<String>,
    /// `KINTSUGI_WEBHOOK_ADDRESS`: where the webhook server listens.
    pub webhook_address: std::net::SocketAddr,
    /// `KINTSUGI_WEBHOOK_SECRET`: the secret Telegram sends with every update.
    pub webhook_secret: Option<Secret>,
    /// Where operators scrape metrics and check health; `None`: no listener.
    pub metrics_address: Option<std::net::SocketAddr>,
    /// `KINTSUGI_SEND_LIMITS`: how what the bot sends is paced.
    pub send_pacing: SendPacing,
    /// `KINTSUGI_REMINDER_TICK_MS`, `KINTSUGI_REMINDER_GRACE_MINUTES` and
    /// `KINTSUGI_REMINDER_RATE`: how often due reminders are looked for, how late one may
    /// still be sent after downtime, and how many are sent a second at most.
    pub reminders: ReminderConfig,
    /// `KINTSUGI_MASTER_KEY`, `KINTSUGI_PREVIOUS_MASTER_KEYS` and
    /// `KINTSUGI_ALLOW_UNENCRYPTED`: how what people write is encrypted at rest.
    pub encryption: Encryption,
}

/// How what the bot sends is paced (`KINTSUGI_SEND_LIMITS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendPacing {
    /// `on`: within Telegram's limits. The bot's setting.
    Telegram,
    /// `scaled`: the same pacing a thousand times faster, so every message does the same work
    /// (the bot's overall schedule shared through Redis included): for load tests against a
    /// local fake only.
    Scaled,
    /// `off`: no pacing at all: for load tests against a local fake only.
    Off,
}

/// How states are encrypted at rest, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// A master key (`<id>:<base64>`) and older keys that still open what they wrapped.
    Key {
        current: Secret,
        previous: Vec<Secret>,
    },
    /// The operator chose to store states in the clear (`KINTSUGI_ALLOW_UNENCRYPTED=true`).
    Off,
    /// Nothing configured: the shell makes a local key, Telegram mode refuses to start.
    Unset,
}

/// How the reminder worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderConfig {
    pub tick: Duration,
    pub grace: Duration,
    pub per_second: u32,
}

/// Where the webhook server listens unless `KINTSUGI_WEBHOOK_ADDRESS` says otherwise.
pub(crate) const DEFAULT_WEBHOOK_ADDRESS: &str = "0.0.0.0:8443";

/// A value that must never reach a log: its `Debug` shows only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Keeps `value` as a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Days of inactivity after which a person's data expires, unless configured.
pub use crate::dialogue::model::DEFAULT_RETENTION_DAYS;

/// Every setting, each from its command-line option or its environment variable (or `.env`,
/// loaded by `main`); `kintsugi <command> --help` lists them all with their defaults, and
/// `.env.example` explains each. An empty variable counts as unset.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Keep state in Redis at this URL (redis://host:port/); without it, the embedded store.
    #[arg(long, env = "REDIS_URL", global = true, value_name = "URL")]
    pub redis_url: Option<String>,
    /// The first part of every Redis key, so several bots can share one Redis.
    #[arg(
        long,
        env = "KINTSUGI_REDIS_PREFIX",
        global = true,
        default_value = "kintsugi"
    )]
    pub redis_prefix: String,
    /// Where the embedded store keeps its file [default: $XDG_DATA_HOME/kintsugi or
    /// ~/.local/share/kintsugi].
    #[arg(long, env = "KINTSUGI_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The folder of flow files.
    #[arg(
        long,
        env = "KINTSUGI_DIALOGUES",
        global = true,
        default_value = "dialogues"
    )]
    pub dialogues: PathBuf,
    /// Days without a visit after which a person's data expires (0 keeps it until deleted).
    #[arg(long, env = "KINTSUGI_RETENTION_DAYS", global = true, default_value_t = DEFAULT_RETENTION_DAYS, value_name = "DAYS")]
    pub retention_days: u64,
    /// The bot's token from @BotFather (Telegram mode only).
    #[arg(long, env = "TELOXIDE_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// A self-hosted or local Bot API server instead of Telegram's.
    #[arg(long, env = "TELOXIDE_API_URL", global = true, value_name = "URL")]
    pub api_url: Option<String>,
    /// How many messages one person may send at once.
    #[arg(long, env = "KINTSUGI_FLOOD_BURST", global = true, default_value_t = FloodLimit::default().burst, value_parser = clap::value_parser!(u32).range(1..))]
    pub flood_burst: u32,
    /// How many messages a minute one person may send after a burst.
    #[arg(long, env = "KINTSUGI_FLOOD_PER_MINUTE", global = true, default_value_t = FloodLimit::default().per_minute, value_parser = clap::value_parser!(u32).range(1..))]
    pub flood_per_minute: u32,
    /// Webhook mode: the public HTTPS address Telegram posts updates to.
    #[arg(long, env = "KINTSUGI_WEBHOOK_URL", global = true, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Webhook mode: where this process listens.
    #[arg(long, env = "KINTSUGI_WEBHOOK_ADDRESS", global = true, default_value = DEFAULT_WEBHOOK_ADDRESS, value_name = "ADDRESS:PORT")]
    pub webhook_address: std::net::SocketAddr,
    /// Where to serve Prometheus metrics (/metrics) and health checks (/healthz, /readyz) for
    /// operators, as ADDRESS:PORT; unset, there is no such listener.
    #[arg(
        long,
        env = "KINTSUGI_METRICS_ADDRESS",
        global = true,
        value_name = "ADDRESS:PORT"
    )]
    pub metrics_address: Option<std::net::SocketAddr>,
    /// Webhook mode: the secret Telegram sends with every update (1 to 256 of A-Z, a-z, 0-9,
    /// _ and -; the same on every replica).
    #[arg(
        long,
        env = "KINTSUGI_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
    /// How log lines look: `text` (a timestamp, the level, the event), or `json` (one object
    /// a line, for log collectors). Either way no message text, answer, id or token.
    #[arg(long, env = "KINTSUGI_LOG_FORMAT", global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Telegram's send limits: `on`; `scaled` (the same pacing a thousand times faster) and
    /// `off` only for load tests against a local fake.
    #[arg(long, env = "KINTSUGI_SEND_LIMITS", global = true, default_value = "on", value_parser = ["on", "scaled", "off"])]
    pub send_limits: String,
    /// How often the scheduler looks for due reminders, in milliseconds.
    #[arg(long, env = "KINTSUGI_REMINDER_TICK_MS", global = true, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..))]
    pub reminder_tick_ms: u32,
    /// How late a reminder may still be sent after downtime, in minutes.
    #[arg(long, env = "KINTSUGI_REMINDER_GRACE_MINUTES", global = true, default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..))]
    pub reminder_grace_minutes: u32,
    /// How many reminders are sent a second at most.
    #[arg(long, env = "KINTSUGI_REMINDER_RATE", global = true, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..))]
    pub reminder_rate: u32,
    /// The master key that wraps each person's data key (`kintsugi keygen` makes one).
    #[arg(
        long,
        env = "KINTSUGI_MASTER_KEY",
        global = true,
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub master_key: Option<String>,
    /// Older master keys, comma-separated, that still open what they wrapped (for rotation).
    #[arg(
        long,
        env = "KINTSUGI_PREVIOUS_MASTER_KEYS",
        global = true,
        hide_env_values = true,
        value_delimiter = ',',
        value_name = "KEYS"
    )]
    pub previous_master_keys: Vec<String>,
    /// Store states in the clear (not recommended): true or false.
    #[arg(long, env = "KINTSUGI_ALLOW_UNENCRYPTED", global = true, default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), value_name = "BOOL")]
    pub allow_unencrypted: bool,
}

impl Settings {
    /// The configuration these settings describe; `home` looks up `XDG_DATA_HOME` and `HOME`
    /// for the default data folder.
    pub fn config(&self, home: impl Fn(&str) -> Option<String>) -> Config {
        let trimmed = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let secret = |value: &Option<String>| trimmed(value).map(Secret);
        let encryption = match (secret(&self.master_key), self.allow_unencrypted) {
            (Some(current), _) => Encryption::Key {
                current,
                previous: self
                    .previous_master_keys
                    .iter()
                    .map(|key| key.trim())
                    .filter(|key| !key.is_empty())
                    .map(|key| Secret(key.to_owned()))
                    .collect(),
            },
            (None, true) => Encryption::Off,
            (None, false) => Encryption::Unset,
        };
        Config {
            redis_url: trimmed(&self.redis_url),
            redis_prefix: self.redis_prefix.clone(),
            data_dir: self
                .data_dir
                .clone()
                .unwrap_or_else(|| default_data_dir(&home)),
            dialogues: self.dialogues.clone(),
            retention: Retention(
                (self.retention_days > 0)
                    .then(|| Duration::from_secs(self.retention_days * 24 * 60 * 60)),
            ),
            telegram_token: secret(&self.token),
            telegram_api_url: trimmed(&self.api_url),
            flood: FloodLimit {
                burst: self.flood_burst,
                per_minute: self.flood_per_minute,
            },
            webhook_url: trimmed(&self.webhook_url),
            webhook_address: self.webhook_address,
            webhook_secret: secret(&self.webhook_secret),
            metrics_address: self.metrics_address,
            send_pacing: match self.send_limits.as_str() {
                "off" => SendPacing::Off,
                "scaled" => SendPacing::Scaled,
                _ => SendPacing::Telegram,
            },
            reminders: ReminderConfig {
                tick: Duration::from_millis(u64::from(self.reminder_tick_ms)),
                grace: Duration::from_secs(60 * u64::from(self.reminder_grace_minutes)),
                per_second: self.reminder_rate,
            },
            encryption,
        }
    }

    /// The configuration, with the default data folder found from the real environment.
    pub(crate) fn config_from_env(&self) -> Config {
        self.config(|name| std::env::var(name).ok())
    }
}

/// Whether `name` is one of Kintsugi's settings variables.
fn is_setting(name: &str) -> bool {
    name == "REDIS_URL" || name.starts_with("KINTSUGI_") || name.starts_with("TELOXIDE_")
}

/// The settings variables that are set but blank (`KINTSUGI_DATA_DIR=` in a copied
/// `.env.example`): `main` unsets them before parsing, so a blank one means its default.
pub fn blank_settings() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            (is_setting(&name) && value.to_string_lossy().trim().is_empty()).then_some(name)
        })
        .collect()
}

/// `$XDG_DATA_HOME/kintsugi`, else `~/.local/share/kintsugi`, else `./kintsugi-data`.
fn default_data_dir(lookup: &impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(data_home) = lookup("XDG_DATA_HOME").filter(|value| !value.is_empty()) {
        return PathBuf::from(data_home).join("kintsugi");
    }
    if let Some(home) = lookup("HOME").filter(|value| !value.is_empty()) {
        return PathBuf::from(home).join(".local/share/kintsugi");
    }
    PathBuf::from("kintsugi-data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The settings' command line alone, as `kintsugi` parses it.
    #[derive(Debug, Parser)]
    struct Line {
        #[command(flatten)]
        settings: Settings,
    }

    fn config(args: &[&str]) -> Result<Config, clap::Error> {
        let line = Line::try_parse_from(std::iter::once("kintsugi").chain(args.iter().copied()))?;
        Ok(line.settings.config(|name| match name {
            "HOME" => Some("/home/ana".to_owned()),
            _ => None,
        }))
    }

    #[test]
    fn defaults_use_the_embedded_store_in_the_home_data_dir() {
        let config = config(&[]).unwrap();
        assert_eq!(config.redis_url, None);
        assert_eq!(config.redis_prefix, "kintsugi");
        assert_eq!(
            config.data_dir,
            PathBuf::from("/home/ana/.local/share/kintsugi")
        );
        assert_eq!(
            config.retention,
            Retention(Some(Duration::from_secs(180 * 86_400)))
        );
        assert_eq!(config.flood, FloodLimit::default());
        assert_eq!(config.send_pacing, SendPacing::Telegram);
        let scaled = self::config(&["--send-limits", "scaled"]).unwrap();
        assert_eq!(scaled.send_pacing, SendPacing::Scaled);
        assert_eq!(config.reminders.tick, Duration::from_secs(5));
        assert_eq!(config.webhook_address.to_string(), DEFAULT_WEBHOOK_ADDRESS);
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let config = config(&["--token", "123:secret-token"]).unwrap();
        assert_eq!(
            config.telegram_token.as_ref().map(Secret::expose),
            Some("123:secret-token")
        );
        assert!(!format!("{config:?}").contains("secret-token"));
    }

    #[test]
    fn a_blank_redis_url_means_no_redis() {
        assert_eq!(config(&["--redis-url", " "]).unwrap().redis_url, None);
    }

    #[test]
    fn bad_values_are_precise_errors() {
        let error = config(&["--retention-days", "soon"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("invalid value 'soon' for '--retention-days <DAYS>'"),
            "{error}"
        );
        let error = config(&["--flood-burst", "0"]).unwrap_err().to_string();
        assert!(error.contains("0 is not in 1.."), "{error}");
        let error = config(&["--send-limits", "maybe"]).unwrap_err().to_string();
        assert!(
            error.contains("[possible values: on, scaled, off]"),
            "{error}"
        );
    }

    #[test]
    fn encryption_comes_from_a_master_key_or_an_explicit_opt_out() {
        assert_eq!(config(&[]).unwrap().encryption, Encryption::Unset);
        assert_eq!(
            config(&["--allow-unencrypted", "true"]).unwrap().encryption,
            Encryption::Off
        );
        assert_eq!(
            config(&[
                "--master-key",
                " k2:new ",
                "--previous-master-keys",
                "k1:old, k0:older",
                "--allow-unencrypted",
                "true",
            ])
            .unwrap()
            .encryption,
            Encryption::Key {
                current: Secret("k2:new".into()),
                previous: vec![Secret("k1:old".into()), Secret("k0:older".into())],
            }
        );
        let error = config(&["--allow-unencrypted", "maybe"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid value 'maybe'"), "{error}");
    }
}
