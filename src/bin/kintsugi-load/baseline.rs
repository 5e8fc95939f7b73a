//! The baseline bot: the same Telegram stack as Kintsugi (teloxide's dispatcher, its workers
//! and long polling, through `kintsugi::telegram::serve`) answering every update at once with
//! no engine and no storage. Kintsugi's figures divided by its are the cost of the engine and
//! the store.

use std::sync::Arc;

use kintsugi::dialogue::Button;
use kintsugi::storage::{MemoryStore, Retention, Storage};
use kintsugi::telegram::handlers::HandlerError;
use kintsugi::telegram::{App, Listen};
use teloxide::RequestError;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::MaybeInaccessibleMessage;

/// The data of the baseline's one button.
pub const BASELINE_BUTTON: &str = "next";

/// The load tool's baseline: the same Telegram work as Kintsugi for every update (a press is
/// answered and its keyboard removed; every update gets a message with a button back), at
/// once, with no engine and no storage. Kintsugi's figures divided by its are the cost of the
/// engine and the store.
pub fn baseline_schema<B>() -> UpdateHandler<HandlerError>
where
    B: Requester<Err = RequestError> + Clone + Send + Sync + 'static,
{
    async fn reply<B: Requester<Err = RequestError>>(
        bot: &B,
        chat: ChatId,
    ) -> Result<(), HandlerError> {
        let button = Button {
            label: "Next".to_owned(),
            data: BASELINE_BUTTON.to_owned(),
        };
        bot.send_message(chat, "ok")
            .reply_markup(kintsugi::telegram::render::keyboard(&[button]))
            .await?;
        Ok(())
    }
    dptree::entry()
        .branch(
            Update::filter_message().endpoint(|bot: B, message: Message| async move {
                reply(&bot, message.chat.id).await
            }),
        )
        .branch(Update::filter_callback_query().endpoint(
            |bot: B, query: CallbackQuery| async move {
                let Some(MaybeInaccessibleMessage::Regular(shown)) = &query.message else {
                    return Ok(());
                };
                let (answered, edited, replied) = tokio::join!(
                    bot.answer_callback_query(query.id.clone()),
                    bot.edit_message_reply_markup(shown.chat.id, shown.id),
                    reply(&bot, shown.chat.id)
                );
                answered?;
                edited?;
                replied
            },
        ))
}

/// Serves the baseline until SIGTERM, with the token and Bot API address from the environment
/// (as the load tool sets them).
pub fn serve() -> anyhow::Result<()> {
    let token = std::env::var("TELOXIDE_TOKEN")?;
    let api_url = std::env::var("TELOXIDE_API_URL").ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let bot = kintsugi::telegram::bot(&token, api_url.as_deref())?;
        let dialogues = std::env::var("KINTSUGI_DIALOGUES").unwrap_or_else(|_| "dialogues".into());
        let library = kintsugi::dialogue_dir::compile_dir(std::path::Path::new(&dialogues))
            .map_err(|problems| anyhow::anyhow!("{problems}"))?;
        let app = App {
            library: Arc::new(library),
            storage: Storage::new(MemoryStore::new(Retention(None))),
            clock: || 0,
            flood: kintsugi::flood::FloodGate::new(kintsugi::flood::FloodLimit {
                burst: u32::MAX,
                per_minute: u32::MAX,
            }),
            sends: kintsugi::telegram::queue::SendQueue::new(None),
            replicas: false,
            invite_link: None,
        };
        let stop = async {
            if let Ok(mut terminate) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                terminate.recv().await;
            }
        };
        // Webhook mode when the load tool runs replicas, as it does Kintsugi.
        let listen = match std::env::var("KINTSUGI_WEBHOOK_ADDRESS") {
            Ok(address) => Listen::Webhook(kintsugi::telegram::webhook::Webhook {
                address: address.parse()?,
                url: std::env::var("KINTSUGI_WEBHOOK_URL")?.parse()?,
                secret: kintsugi::config::Secret::new(std::env::var("KINTSUGI_WEBHOOK_SECRET")?),
            }),
            Err(_) => Listen::Polling,
        };
        kintsugi::telegram::serve(bot, app, listen, baseline_schema::<Bot>(), stop).await
    })
}
