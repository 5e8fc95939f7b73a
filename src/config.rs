//! Settings from the environment (and a `.env` file, loaded by `main`). This is the only
//! module that reads environment variables; everything else receives a `Config`.

use std::path::PathBuf;
use std::time::Duration;

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
    /// `KINTSUGI_SEND_LIMITS`: `off` lifts Telegram's send limits, for load tests against a
    /// local fake only.
    pub send_limits: bool,
    /// `KINTSUGI_REMINDER_TICK_MS`, `KINTSUGI_REMINDER_GRACE_MINUTES` and
    /// `KINTSUGI_REMINDER_RATE`: how often due reminders are looked for, how late one may
    /// still be sent after downtime, and how many are sent a second at most.
    pub reminders: ReminderConfig,
    /// `KINTSUGI_MASTER_KEY`, `KINTSUGI_PREVIOUS_MASTER_KEYS` and
    /// `KINTSUGI_ALLOW_UNENCRYPTED`: how what people write is encrypted at rest.
    pub encryption: Encryption,
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

/// How many messages a chat may send at once, and how fast that allowance comes back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodLimit {
    pub burst: u32,
    pub per_minute: u32,
}

impl Default for FloodLimit {
    fn default() -> FloodLimit {
        FloodLimit {
            burst: 12,
            per_minute: 30,
        }
    }
}

/// Where the webhook server listens unless `KINTSUGI_WEBHOOK_ADDRESS` says otherwise.
pub const DEFAULT_WEBHOOK_ADDRESS: &str = "0.0.0.0:8443";

/// A value that must never reach a log: its `Debug` shows only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be {expected}, but it is {value:?}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
}

/// Days of inactivity after which a person's data expires, unless configured.
pub use crate::dialogue::model::DEFAULT_RETENTION_DAYS;

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the real environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let non_empty = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let retention_days = match non_empty("KINTSUGI_RETENTION_DAYS") {
            None => DEFAULT_RETENTION_DAYS,
            Some(value) => value.trim().parse().map_err(|_| ConfigError::Invalid {
                name: "KINTSUGI_RETENTION_DAYS",
                expected: "a whole number of days (0 keeps data until it is deleted)",
                value,
            })?,
        };
        let whole = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            match non_empty(name) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|number| *number > 0)
                    .ok_or(ConfigError::Invalid {
                        name,
                        expected: "a whole number above 0",
                        value,
                    }),
            }
        };
        let flood = FloodLimit {
            burst: whole("KINTSUGI_FLOOD_BURST", FloodLimit::default().burst)?,
            per_minute: whole(
                "KINTSUGI_FLOOD_PER_MINUTE",
                FloodLimit::default().per_minute,
            )?,
        };
        let reminders = ReminderConfig {
            tick: Duration::from_millis(u64::from(whole("KINTSUGI_REMINDER_TICK_MS", 5000)?)),
            grace: Duration::from_secs(
                60 * u64::from(whole("KINTSUGI_REMINDER_GRACE_MINUTES", 120)?),
            ),
            per_second: whole("KINTSUGI_REMINDER_RATE", 25)?,
        };
        let encryption = match (
            non_empty("KINTSUGI_MASTER_KEY"),
            non_empty("KINTSUGI_ALLOW_UNENCRYPTED"),
        ) {
            (Some(key), _) => Encryption::Key {
                current: Secret(key.trim().to_owned()),
                previous: non_empty("KINTSUGI_PREVIOUS_MASTER_KEYS")
                    .map(|keys| {
                        keys.split(',')
                            .map(str::trim)
                            .filter(|key| !key.is_empty())
                            .map(|key| Secret(key.to_owned()))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            (None, Some(value)) => match value.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Encryption::Off,
                "false" | "no" | "0" => Encryption::Unset,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "KINTSUGI_ALLOW_UNENCRYPTED",
                        expected: "true or false",
                        value,
                    });
                }
            },
            (None, None) => Encryption::Unset,
        };
        let retention = Retention(
            (retention_days > 0).then(|| Duration::from_secs(retention_days * 24 * 60 * 60)),
        );
        Ok(Config {
            redis_url: non_empty("REDIS_URL"),
            redis_prefix: non_empty("KINTSUGI_REDIS_PREFIX")
                .unwrap_or_else(|| "kintsugi".to_owned()),
            data_dir: non_empty("KINTSUGI_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| default_data_dir(&lookup)),
            dialogues: non_empty("KINTSUGI_DIALOGUES")
                .map_or_else(|| PathBuf::from("dialogues"), PathBuf::from),
            retention,
            encryption,
            telegram_token: non_empty("TELOXIDE_TOKEN")
                .map(|token| Secret(token.trim().to_owned())),
            telegram_api_url: non_empty("TELOXIDE_API_URL").map(|url| url.trim().to_owned()),
            flood,
            webhook_url: non_empty("KINTSUGI_WEBHOOK_URL").map(|url| url.trim().to_owned()),
            webhook_address: match non_empty("KINTSUGI_WEBHOOK_ADDRESS") {
                None => DEFAULT_WEBHOOK_ADDRESS
                    .parse()
                    .map_err(|_| ConfigError::Invalid {
                        name: "KINTSUGI_WEBHOOK_ADDRESS",
                        expected: "an address and port such as 0.0.0.0:8443",
                        value: DEFAULT_WEBHOOK_ADDRESS.to_owned(),
                    })?,
                Some(value) => value.trim().parse().map_err(|_| ConfigError::Invalid {
                    name: "KINTSUGI_WEBHOOK_ADDRESS",
                    expected: "an address and port such as 0.0.0.0:8443",
                    value,
                })?,
            },
            webhook_secret: non_empty("KINTSUGI_WEBHOOK_SECRET")
                .map(|secret| Secret(secret.trim().to_owned())),
            reminders,
            send_limits: match non_empty("KINTSUGI_SEND_LIMITS").as_deref().map(str::trim) {
                None | Some("on") => true,
                Some("off") => false,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "KINTSUGI_SEND_LIMITS",
                        expected: "on or off",
                        value: other.to_owned(),
                    });
                }
            },
        })
    }
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
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_use_the_embedded_store_in_the_home_data_dir() {
        let config = config(&[("HOME", "/home/ana")]).unwrap();
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
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let config = config(&[("TELOXIDE_TOKEN", "123:secret-token")]).unwrap();
        assert_eq!(
            config.telegram_token.as_ref().map(Secret::expose),
            Some("123:secret-token")
        );
        assert!(!format!("{config:?}").contains("secret-token"));
    }

    #[test]
    fn an_empty_redis_url_means_no_redis() {
        assert_eq!(config(&[("REDIS_URL", " ")]).unwrap().redis_url, None);
    }

    #[test]
    fn a_bad_retention_is_a_precise_error() {
        let error = config(&[("KINTSUGI_RETENTION_DAYS", "soon")]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("KINTSUGI_RETENTION_DAYS must be a whole number")
        );
    }

    #[test]
    fn encryption_comes_from_a_master_key_or_an_explicit_opt_out() {
        assert_eq!(config(&[]).unwrap().encryption, Encryption::Unset);
        assert_eq!(
            config(&[("KINTSUGI_ALLOW_UNENCRYPTED", "true")])
                .unwrap()
                .encryption,
            Encryption::Off
        );
        assert_eq!(
            config(&[
                ("KINTSUGI_MASTER_KEY", " k2:new "),
                ("KINTSUGI_PREVIOUS_MASTER_KEYS", "k1:old, k0:older"),
                ("KINTSUGI_ALLOW_UNENCRYPTED", "true"),
            ])
            .unwrap()
            .encryption,
            Encryption::Key {
                current: Secret("k2:new".into()),
                previous: vec![Secret("k1:old".into()), Secret("k0:older".into())],
            }
        );
        let error = config(&[("KINTSUGI_ALLOW_UNENCRYPTED", "maybe")]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("KINTSUGI_ALLOW_UNENCRYPTED must be true or false")
        );
    }
}
