//! The `kintsugi` binary: parse the command line, start the logger, hand over to `cli`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A missing .env is normal; the real environment still applies.
    let _ = dotenvy::dotenv();
    let cli = kintsugi::cli::Cli::parse();
    let filters = std::env::var("RUST_LOG").unwrap_or_else(|_| {
        cli.command
            .as_ref()
            .map_or("info", |command| command.default_log_level())
            .to_owned()
    });
    let mut logger = pretty_env_logger::formatted_builder();
    logger.parse_filters(&filters);
    let _ = logger.try_init();
    kintsugi::cli::main(cli)
}
