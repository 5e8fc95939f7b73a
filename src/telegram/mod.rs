//! Kintsugi on Telegram: the bot, its command list, and the dispatcher that feeds updates to
//! the handler tree, by long polling or a webhook, with a graceful stop when the caller's
//! shutdown future completes. The only module that talks to the Bot API. It reaches people's
//! state only through `conversation` (never a store directly, except to record a blocked
//! person), and never decides what to say: that is the engine's.

pub mod handlers;
pub mod pace;
pub mod queue;
pub mod render;
pub mod unread;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, BotCommand};
use teloxide::update_listeners::Polling;

pub use self::handlers::{App, schema};
use crate::config::ReminderConfig;
use crate::dialogue::Library;
use crate::dialogue::model::CommandAction;

/// What to tell an operator who starts the bot without a token.
pub(crate) const NO_TOKEN_HELP: &str = "\
TELOXIDE_TOKEN is not set, so Kintsugi cannot talk to Telegram.
  1. In Telegram, message @BotFather, send /newbot and follow its questions; it replies with a token.
  2. Put it in a .env file beside Kintsugi: TELOXIDE_TOKEN=<the token> (see .env.example).
To talk to Kintsugi without Telegram, run `kintsugi shell`: it needs no token.";

/// The update kinds the bot uses; Telegram sends no others.
pub fn allowed_updates() -> Vec<AllowedUpdate> {
    vec![
        AllowedUpdate::Message,
        AllowedUpdate::EditedMessage,
        AllowedUpdate::CallbackQuery,
        AllowedUpdate::MyChatMember,
    ]
}

/// The command list shown in Telegram's menu: the engine's own and `bot.toml`'s.
pub(crate) fn command_list(library: &Library) -> Vec<BotCommand> {
    let mut commands = vec![
        BotCommand::new("start", "Begin, or begin again"),
        BotCommand::new("menu", "What we can work on"),
        BotCommand::new("continue", "Pick up where you left off"),
        BotCommand::new("cancel", "Step out of this conversation (answers are kept)"),
        BotCommand::new("faq", "Questions people often ask"),
        BotCommand::new("takeaways", "The key ideas in one message"),
        BotCommand::new("help", "What I can do"),
    ];
    if library.bot.checkin_flows.is_some() {
        commands.push(BotCommand::new("checkin", "Set up check-in reminders"));
        commands.push(BotCommand::new("progress", "How your check-ins are going"));
    }
    commands.extend([
        BotCommand::new("invite", "Link with your partner, by invitation"),
        BotCommand::new("together", "What you and your partner share"),
        BotCommand::new("unlink", "End the link with your partner"),
        BotCommand::new("privacy", "What I keep, and how to delete it"),
        BotCommand::new("summary", "A summary to bring to a therapist, as a PDF"),
        BotCommand::new("export", "Everything I keep about you, as a file"),
        BotCommand::new("forget", "Delete everything I keep about you"),
    ]);
    // Opening commands (such as /safety) go first: they matter most when needed.
    let (opening, showing): (Vec<_>, Vec<_>) = library
        .bot
        .commands
        .iter()
        .partition(|(_, command)| matches!(command.action, CommandAction::Open(_)));
    for (index, (name, command)) in opening.into_iter().enumerate() {
        commands.insert(1 + index, BotCommand::new(name, &command.about));
    }
    commands.extend(
        showing
            .into_iter()
            .map(|(name, command)| BotCommand::new(name, &command.about)),
    );
    commands
}

/// Builds the bot: Telegram's servers, or `api_url` when set.
pub fn bot(token: &str, api_url: Option<&str>) -> anyhow::Result<Bot> {
    // teloxide's client gives up on a request after 17 s, shorter than a long poll.
    let client = teloxide::net::default_reqwest_settings()
        .timeout(HTTP_TIMEOUT)
        .build()
        .map_err(|error| anyhow::anyhow!("cannot build the HTTP client: {error}"))?;
    let bot = Bot::with_client(token, client);
    Ok(match api_url {
        Some(url) => {
            bot.set_api_url(url.parse().map_err(|error| {
                anyhow::anyhow!("TELOXIDE_API_URL {url:?} is not a URL: {error}")
            })?)
        }
        None => bot,
    })
}

/// How long one `getUpdates` waits for an update before answering empty (long polling): an
/// idle bot asks Telegram about twice a minute.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(25);
/// How long any Bot API request may take: longer than a long poll.
const HTTP_TIMEOUT: Duration = Duration::from_secs(35);

/// How the bot hears about updates.
#[derive(Debug, Clone)]
pub enum Listen {
    /// Long polling: the bot asks Telegram.
    Polling,
    /// Telegram posts updates to this server; see [`webhook::Webhook`].
    Webhook(webhook::Webhook),
}

/// Runs the bot until `shutdown` completes (the command line passes SIGINT or SIGTERM); updates
/// in flight finish first, then the messages they queued. The app's send queue keeps within
/// Telegram's limits (except against a local fake under load).
pub async fn run(
    bot: Bot,
    mut app: App,
    listen: Listen,
    reminders: ReminderConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let me = bot
        .get_me()
        .await
        .map_err(|error| anyhow::anyhow!("cannot reach the Bot API: {error}"))?;
    app.invite_link = Some(format!("https://t.me/{}?start=", me.username()));
    log::info!(
        "kintsugi telegram version={} bot_id={} flows={} store={} listen={}",
        env!("CARGO_PKG_VERSION"),
        me.id,
        app.library.flows.len(),
        app.storage.kind(),
        match listen {
            Listen::Polling => "polling",
            Listen::Webhook(_) => "webhook",
        }
    );
    if let Err(error) = bot.set_my_commands(command_list(&app.library)).await {
        log::warn!(
            "could not register the command list: {}",
            handlers::error_kind(&error)
        );
    }
    let lease = match listen {
        Listen::Polling => Some(PollerLease::take(&app.storage).await?),
        Listen::Webhook(_) => None,
    };
    let tree = schema();
    let ran = dispatch(bot, app, listen, tree, Some(reminders), shutdown).await;
    if let Some(lease) = lease {
        lease.release().await;
    }
    ran
}

/// Telegram serves one long poller per bot (a second gets 409 Conflict and steals updates
/// from the first), so the process that polls holds a lease in shared storage, renewed while
/// it runs.
struct PollerLease {
    storage: crate::storage::Storage,
    holder: String,
    renewer: tokio::task::JoinHandle<()>,
}

/// How long the poller lease lasts unless renewed, and how often it is renewed. A poller
/// that was killed (not stopped) leaves its lease behind: a restart waits this long at most.
const POLLER_LEASE_MS: u64 = 15_000;
const POLLER_RENEW: Duration = Duration::from_secs(5);
/// How often a starting poller asks again for a lease held by someone else.
const POLLER_RETRY: Duration = Duration::from_secs(1);

impl PollerLease {
    async fn take(storage: &crate::storage::Storage) -> anyhow::Result<PollerLease> {
        let holder = pace::process_tag();
        // A lease left by a poller that was killed ends within its time: wait that long (a
        // restart after a crash), and no longer (a second poller really is running).
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(POLLER_LEASE_MS) + POLLER_RENEW;
        let mut waiting = false;
        loop {
            match storage.hold_lease("poller", &holder, POLLER_LEASE_MS).await {
                Ok(true) => break,
                Ok(false) if tokio::time::Instant::now() < deadline => {
                    if !waiting {
                        log::warn!(
                            "event=poller_lease_held_elsewhere wait_s={}",
                            POLLER_LEASE_MS / 1000
                        );
                        waiting = true;
                    }
                    tokio::time::sleep(POLLER_RETRY).await;
                }
                Ok(false) => anyhow::bail!(
                    "another Kintsugi is already long-polling this bot on the same storage, and \
                     Telegram serves one poller per bot. To run several replicas, use webhook \
                     mode (`kintsugi run --webhook`, see KINTSUGI_WEBHOOK_URL); otherwise stop \
                     the other one."
                ),
                // Storage may be back soon; the renewer takes the lease then.
                Err(error) => {
                    log::warn!("event=poller_lease_deferred error={error}");
                    break;
                }
            }
        }
        let (renew_storage, renew_holder) = (storage.clone(), holder.clone());
        let renewer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(POLLER_RENEW).await;
                match renew_storage
                    .hold_lease("poller", &renew_holder, POLLER_LEASE_MS)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => log::error!("event=poller_lease_lost"),
                    Err(error) => log::warn!("event=poller_lease_not_renewed error={error}"),
                }
            }
        });
        Ok(PollerLease {
            storage: storage.clone(),
            holder,
            renewer,
        })
    }

    async fn release(self) {
        self.renewer.abort();
        if let Err(error) = self.storage.release_lease("poller", &self.holder).await {
            log::warn!("event=poller_lease_not_released error={error}");
        }
    }
}

/// Serves `tree` instead of Kintsugi's handlers, with no send limits and no reminders, until
/// `shutdown` completes: the same dispatcher, workers and listener as `run`, for the load
/// tool's baseline bot.
pub async fn serve(
    bot: Bot,
    app: App,
    listen: Listen,
    tree: UpdateHandler<handlers::HandlerError>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    bot.get_me()
        .await
        .map_err(|error| anyhow::anyhow!("cannot reach the Bot API: {error}"))?;
    dispatch(bot, app, listen, tree, None, shutdown).await
}

/// How many workers handle updates at once. teloxide gives each key its own worker, which
/// handles that key's updates in order; keying by chat would make a worker (and, under load,
/// a request in flight) per person. A chat always maps to the same worker, so each person's
/// messages are still handled in order, while memory and concurrency stay bounded. Each
/// worker's queue holds its updates in blocks of 32 (about 62 KB a block with teloxide's
/// `Update`), two of them once it has been used: with 64 workers the bot took 7-8 MB more
/// resident memory with 10,000 people than with 32 (the baseline of the load tool 8 MB), at
/// the same updates a second and latency; 32 handle far more Redis round trips at once than
/// two cores can keep busy.
pub(crate) const WORKERS: i64 = 32;

fn worker_of(update: &Update) -> Option<i64> {
    update.chat().map(|chat| chat.id.0.rem_euclid(WORKERS))
}

/// How long queued messages may still take to go out once the bot is stopping.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

async fn dispatch(
    bot: Bot,
    app: App,
    listen: Listen,
    tree: UpdateHandler<handlers::HandlerError>,
    reminders: Option<ReminderConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = Arc::new(app);
    let requester = bot.clone();
    let (stop_reminders, reminders_stop) = tokio::sync::watch::channel(false);
    let worker = reminders.map(|reminders| {
        let deliver = handlers::TelegramReminders {
            bot: requester.clone(),
            app: Arc::clone(&app),
        };
        tokio::spawn(crate::reminders::run(
            app.storage.clone(),
            deliver,
            reminders,
            app.clock,
            reminders_stop,
        ))
    });
    let sweeper = tokio::spawn(crate::storage::sweep_daily(app.storage.clone(), app.clock));
    // Whether the bot's send schedule is this process's own or shared with other replicas.
    let pacer = app.sends.pacer();
    pacer.count_company(pace::COUNT_EVERY).await;
    let company = tokio::spawn(pacer.keep_company(pace::COUNT_EVERY));
    let stopping = async move {
        shutdown.await;
        log::info!("event=stopping");
    };
    match listen {
        Listen::Polling => {
            let mut dispatcher = Dispatcher::builder(requester.clone(), tree)
                .dependencies(dptree::deps![Arc::clone(&app)])
                .default_handler(|update| async move {
                    log::debug!("event=update_ignored id={}", update.id.0);
                })
                .error_handler(Arc::new(|error: handlers::HandlerError| {
                    log::warn!(
                        "event=request_failed error={}",
                        handlers::error_kind(&error)
                    );
                    futures::future::ready(())
                }))
                .distribution_function(worker_of)
                .build();
            let token = dispatcher.shutdown_token();
            tokio::spawn(async move {
                stopping.await;
                // Fails only if the dispatcher is not running (yet, or any more): then try
                // again until it has started, or stop trying once it has stopped.
                loop {
                    match token.shutdown() {
                        Ok(stopped) => return stopped.await,
                        Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                    }
                }
            });
            let listener = Polling::builder(requester)
                .timeout(POLL_TIMEOUT)
                .allowed_updates(allowed_updates())
                .build();
            // Logged by kind only: teloxide's own handler would print a response it could not
            // parse whole, and a getUpdates response holds what people wrote.
            let polling_failed = Arc::new(|error: teloxide::RequestError| {
                log::warn!(
                    "event=polling_failed error={}",
                    handlers::error_kind(&error)
                );
                futures::future::ready(())
            });
            dispatcher
                .dispatch_with_listener(listener, polling_failed)
                .await;
        }
        Listen::Webhook(webhook) => {
            webhook::serve(bot, &webhook, tree, Arc::clone(&app), stopping).await?;
        }
    }
    // The reminder worker finishes the reminder it is sending and hands the rest of its
    // batch back (due at once, for another replica), within the deadline.
    let _ = stop_reminders.send(true);
    if let Some(mut worker) = worker
        && tokio::time::timeout(STOP_DEADLINE, &mut worker)
            .await
            .is_err()
    {
        log::warn!("event=reminders_stop_deadline_passed");
        worker.abort();
    }
    sweeper.abort();
    let queued = app.sends.pending();
    if tokio::time::timeout(STOP_DEADLINE, app.sends.idle())
        .await
        .is_err()
    {
        log::warn!(
            "event=stop_deadline_passed unsent={} queued_at_stop={queued}",
            app.sends.pending()
        );
    }
    company.abort();
    log::info!("event=stopped");
    Ok(())
}
