//! `kintsugi-load`: measures the bot under load beside a baseline bot, each a child process
//! against a real `redis-server` and the fake Bot API that this tool starts on loopback. A
//! workplace tool, not part of the bot: it is built only with the `testkit` feature.
//!
//!     cargo build --release --features testkit
//!     target/release/kintsugi-load             # the README's five scenarios
//!     target/release/kintsugi-load --people 500 --pace-ms 0 --seconds 10

mod baseline;
mod measure;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "kintsugi-load",
    version,
    about = "Measure Kintsugi under load beside a baseline bot (starts its own redis-server and a fake Bot API)"
)]
struct Line {
    /// Simulated people talking at once; without it, the README's five scenarios.
    #[arg(long)]
    people: Option<usize>,
    /// Milliseconds each person waits between messages (0: saturation).
    #[arg(long, default_value_t = 1000)]
    pace_ms: u64,
    /// Seconds measured per bot, after a few seconds of warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Replicas of each bot on one Redis, in webhook mode behind the fake's round-robin
    /// (1: one bot long-polling).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    replicas: u16,
    /// The folder of flow files.
    #[arg(long, env = "KINTSUGI_DIALOGUES", default_value = "dialogues")]
    dialogues: PathBuf,
    /// Serve the baseline bot (the tool starts itself this way).
    #[arg(long, hide = true)]
    serve_baseline: bool,
}

// The bot's allocator, for the baseline this binary serves too.
kintsugi::use_mimalloc!();

fn main() -> ExitCode {
    let line = Line::parse();
    let result = if line.serve_baseline {
        baseline::serve()
    } else {
        measure_all(&line)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn measure_all(line: &Line) -> anyhow::Result<()> {
    let library = kintsugi::dialogue_dir::compile_dir(&line.dialogues).map_err(|problems| {
        anyhow::anyhow!(
            "the dialogue folder {} has problems:\n{problems}",
            line.dialogues.display()
        )
    })?;
    let scenarios = match line.people {
        None => measure::standard_suite(),
        Some(people) => vec![(
            "custom",
            measure::Scenario {
                people,
                pace: std::time::Duration::from_millis(line.pace_ms),
                warmup: std::time::Duration::from_secs(3),
                measure: std::time::Duration::from_secs(line.seconds),
                replicas: usize::from(line.replicas),
            },
        )],
    };
    measure::run_suite(&scenarios, &library)
}
