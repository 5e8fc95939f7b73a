//! The `kintsugi` binary: parse the command line, start the logger, hand over to `cli`.

use std::process::ExitCode;

use clap::Parser;

kintsugi::use_mimalloc!();

fn main() -> ExitCode {
    // A missing .env is normal; the real environment still applies.
    let _ = dotenvy::dotenv();
    for name in kintsugi::config::blank_settings() {
        // SAFETY: nothing else runs yet (no other thread exists to read the environment).
        unsafe { std::env::remove_var(name) };
    }
    let cli = kintsugi::cli::Cli::parse();
    let filters = std::env::var("RUST_LOG").unwrap_or_else(|_| {
        cli.command
            .as_ref()
            .map_or("info", |command| command.default_log_level())
            .to_owned()
    });
    let mut logger = pretty_env_logger::formatted_timed_builder();
    if cli.settings.log_format == "json" {
        logger.format(|out, record| {
            use std::io::Write;
            let line = serde_json::json!({
                "ts": out.timestamp_millis().to_string(),
                "level": record.level().as_str(),
                "target": record.target(),
                "msg": record.args().to_string(),
            });
            writeln!(out, "{line}")
        });
    }
    // teloxide's webhook server logs a whole update, text included, when it cannot parse one;
    // nothing a person writes may reach a log, so that module stays silent.
    logger.parse_filters(&format!(
        "{filters},teloxide::update_listeners::webhooks=off"
    ));
    let _ = logger.try_init();
    kintsugi::cli::main(cli)
}
