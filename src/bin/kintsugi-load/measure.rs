//! The measuring: it starts a real `redis-server` and the fake Bot API, runs the real bot (the
//! `kintsugi` binary beside this one) as a child process against them, and drives N simulated people through
//! the flows: each presses the buttons the bot shows (or types an answer where it asks) and
//! waits for the bot's replies before the next step. The same run drives a baseline bot (the
//! same stack answering every message at once with no storage), so the figures are ratios
//! that hold on a noisy machine.
//!
//! It measures replies per second, bot-side latency (from `getUpdates` handing out an update
//! to the first reply request arriving) at p50 and p99, Redis commands per update (watched
//! with `MONITOR` for two seconds after the measured window), and the bot's peak memory
//! (VmHWM).
//!
//! A simulated person knows how many replies to wait for by running the same engine on a
//! shadow copy of their state: the bot is deterministic, so the shadow stays in step.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc;

use kintsugi::dialogue::{Input, Library, PersonState, advance};
use kintsugi::testkit::fake_telegram::{FakeEvent, FakeOptions, FakeTelegram, WebhookTargets};
use kintsugi::testkit::redis_server::{RedisServer, redis_server_binary};
use kintsugi::vault::MasterKey;

use crate::baseline::BASELINE_BUTTON;

/// One load scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub people: usize,
    /// How long each person waits between their messages (0: at once, saturation).
    pub pace: Duration,
    pub warmup: Duration,
    pub measure: Duration,
    /// Bot processes on one Redis: one long-polls; several are webhook replicas behind the
    /// fake Bot API's round-robin.
    pub replicas: usize,
}

/// The scenarios the README reports: latency at a realistic pace, throughput at saturation,
/// and memory with many people who have state.
pub fn standard_suite() -> Vec<(&'static str, Scenario)> {
    vec![
        (
            "200 people, one message a second each",
            Scenario {
                people: 200,
                pace: Duration::from_secs(1),
                warmup: Duration::from_secs(3),
                measure: Duration::from_secs(10),
                replicas: 1,
            },
        ),
        (
            "2000 people at saturation",
            Scenario {
                people: 2000,
                pace: Duration::ZERO,
                warmup: Duration::from_secs(3),
                measure: Duration::from_secs(10),
                replicas: 1,
            },
        ),
        (
            "200 people, one message a second each, 3 webhook replicas",
            Scenario {
                people: 200,
                pace: Duration::from_secs(1),
                warmup: Duration::from_secs(3),
                measure: Duration::from_secs(10),
                replicas: 3,
            },
        ),
        (
            "2000 people at saturation, 3 webhook replicas",
            Scenario {
                people: 2000,
                pace: Duration::ZERO,
                warmup: Duration::from_secs(3),
                measure: Duration::from_secs(10),
                replicas: 3,
            },
        ),
        (
            "10000 people with state, one message every ten seconds each",
            Scenario {
                people: 10_000,
                pace: Duration::from_secs(10),
                warmup: Duration::from_secs(10),
                measure: Duration::from_secs(10),
                replicas: 1,
            },
        ),
    ]
}

/// Which bot a run drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bot {
    Baseline,
    Kintsugi,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Updates answered per second: the fair comparison, since Kintsugi may answer one
    /// update with several messages.
    pub updates_per_second: f64,
    pub replies_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub redis_commands_per_update: Option<f64>,
    pub peak_memory_kib: Option<u64>,
    /// Of the resident memory at the end, how much is the process's own (heap, stacks:
    /// RssAnon) rather than pages of files it maps (its binary, libraries: RssFile).
    pub anonymous_memory_kib: Option<u64>,
    /// People whose replies stopped coming (a sign the run is not trustworthy).
    pub stalled: usize,
    /// A Redis round trip on this machine during the measured window (p50, p99): a PING from
    /// a thread of the tool's own every 10 ms. Kintsugi saves a state before its first reply
    /// to it, so its latency is the baseline's plus about one of these.
    pub redis_round_trip: Option<(Duration, Duration)>,
    /// CPU time spent per update answered in the measured window (user and system): by the
    /// bot's processes, by Redis, and by this tool (the fake Bot API and the simulated
    /// people). On a machine the three share, these explain updates a second at saturation
    /// better than the rate itself, which moves with whatever else the machine does.
    pub cpu_per_update: Cpu,
}

/// CPU time (user and system) by whom it was spent: so far, or per update answered (`None`
/// where it could not be read).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub bot: Option<Duration>,
    pub redis: Option<Duration>,
    pub tool: Option<Duration>,
}

impl Cpu {
    /// Spent so far: by the bot's processes and this one, and by Redis by its own account.
    fn now(children: &[std::process::Child], redis: &RedisServer) -> Cpu {
        let bot = children
            .iter()
            .map(|child| process_cpu(&child.id().to_string()))
            .sum::<Option<Duration>>();
        Cpu {
            bot,
            redis: redis_cpu(&redis.url()),
            tool: process_cpu("self"),
        }
    }

    /// What was spent since `before`, per one of `updates`.
    fn per_update_since(self, before: Cpu, updates: u64) -> Cpu {
        let per = |after: Option<Duration>, before: Option<Duration>| {
            let spent = after?.checked_sub(before?)?;
            (updates > 0).then(|| spent / u32::try_from(updates).unwrap_or(u32::MAX))
        };
        Cpu {
            bot: per(self.bot, before.bot),
            redis: per(self.redis, before.redis),
            tool: per(self.tool, before.tool),
        }
    }
}

/// A process's CPU time (user and system) from Linux's /proc (`pid` or "self"), in the
/// kernel's ticks of a hundredth of a second; `None` elsewhere.
fn process_cpu(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid).join("stat")).ok()?;
    // The command name, in parentheses, may hold spaces: fields are counted after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
    // utime and stime are the 14th and 15th fields, the 12th and 13th after the name.
    Some(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

/// Redis's own CPU time (user and system, its `INFO cpu`).
fn redis_cpu(url: &str) -> Option<Duration> {
    let mut connection = redis::Client::open(url).ok()?.get_connection().ok()?;
    let info: String = redis::cmd("INFO").arg("cpu").query(&mut connection).ok()?;
    let seconds = |field: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(field))?
            .trim()
            .parse::<f64>()
            .ok()
    };
    Some(Duration::from_secs_f64(
        seconds("used_cpu_user:")? + seconds("used_cpu_sys:")?,
    ))
}

/// Runs every scenario against both bots and prints a table for each.
pub fn run_suite(scenarios: &[(&str, Scenario)], library: &Library) -> anyhow::Result<()> {
    redis_server_binary().map_err(|hint| anyhow::anyhow!(hint))?;
    // Read and screened once, for every run of every scenario.
    let script = Arc::new(Script {
        typed: typed_answers(library)?,
        library: library.clone(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the load tool's runtime")?;
    for (name, scenario) in scenarios {
        println!(
            "\n{name} (warm-up {:?}, measured {:?})",
            scenario.warmup, scenario.measure
        );
        println!(
            "{:<10} {:>10} {:>10} {:>9} {:>9} {:>15} {:>9} {:>9} {:>8} {:>16} {:>26}",
            "bot",
            "updates/s",
            "replies/s",
            "p50 ms",
            "p99 ms",
            "redis cmd/upd",
            "peak MB",
            "anon MB",
            "stalled",
            "redis rtt p50/99",
            "cpu µs/upd bot/redis/tool"
        );
        let mut results = Vec::new();
        for bot in [Bot::Baseline, Bot::Kintsugi] {
            let figures = runtime.block_on(run_once(bot, *scenario, &script))?;
            println!(
                "{:<10} {:>10.0} {:>10.0} {:>9.2} {:>9.2} {:>15} {:>9} {:>9} {:>8} {:>16} {:>26}",
                match bot {
                    Bot::Baseline => "baseline",
                    Bot::Kintsugi => "kintsugi",
                },
                figures.updates_per_second,
                figures.replies_per_second,
                figures.p50.as_secs_f64() * 1000.0,
                figures.p99.as_secs_f64() * 1000.0,
                figures
                    .redis_commands_per_update
                    .map_or("-".to_owned(), |commands| format!("{commands:.2}")),
                figures
                    .peak_memory_kib
                    .map_or("-".to_owned(), |kib| format!("{:.1}", kib as f64 / 1024.0)),
                figures
                    .anonymous_memory_kib
                    .map_or("-".to_owned(), |kib| format!("{:.1}", kib as f64 / 1024.0)),
                figures.stalled,
                figures
                    .redis_round_trip
                    .map_or("-".to_owned(), |(p50, p99)| format!(
                        "{:.2}/{:.2}",
                        p50.as_secs_f64() * 1000.0,
                        p99.as_secs_f64() * 1000.0
                    )),
                {
                    let micros = |spent: Option<Duration>| {
                        spent.map_or("-".to_owned(), |spent| spent.as_micros().to_string())
                    };
                    let cpu = figures.cpu_per_update;
                    format!(
                        "{}/{}/{}",
                        micros(cpu.bot),
                        micros(cpu.redis),
                        micros(cpu.tool)
                    )
                },
            );
            results.push(figures);
        }
        if let [baseline, kintsugi] = results.as_slice()
            && baseline.updates_per_second > 0.0
        {
            println!(
                "kintsugi answers {:.0} % of the baseline's updates per second",
                100.0 * kintsugi.updates_per_second / baseline.updates_per_second
            );
        }
    }
    Ok(())
}

/// What the simulated people know: the flows (to foresee the bot's replies on a shadow copy
/// of their state) and the words they type.
struct Script {
    library: Library,
    typed: Vec<String>,
}

/// What simulated people type where the bot asks for words: varied everyday messages (the
/// crisis corpus's training messages labelled `none`, which the shipped screen passes, so the
/// shadow engine foresees the replies), so the bot reads many words, as it does for real.
/// Without them the people would all type one sentence, which flatters speed and memory
/// alike: a tool built in a checkout that is gone says so rather than measure that.
fn typed_answers(library: &Library) -> anyhow::Result<Vec<String>> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/safety/train");
    let read = kintsugi::testkit::corpus::read_corpus(&folder).map_err(|problem| {
        anyhow::anyhow!(
            "cannot read the everyday messages people type: {problem} (build the tool in the \
             checkout you run it from)"
        )
    })?;
    let typed = read
        .examples
        .into_iter()
        .filter(|example| example.label.is_none())
        .map(|example| example.text)
        .filter(|text| {
            (20..=200).contains(&text.len())
                && !text.starts_with('/')
                && library
                    .screen
                    .as_ref()
                    .is_none_or(|screen| screen.check(text).is_none())
        })
        .collect::<Vec<_>>();
    anyhow::ensure!(
        !typed.is_empty(),
        "no everyday messages to type in {}",
        folder.display()
    );
    Ok(typed)
}

/// Events of the measured window, routed to the people and the clocks.
struct Meter {
    measuring: AtomicBool,
    replies: AtomicU64,
    /// Updates handed out while measuring.
    updates: AtomicU64,
    /// Updates handed out at any time, for the Redis count that follows the measurement.
    all_updates: AtomicU64,
    /// Bot processes that have asked for updates (or set their webhook): started.
    started: AtomicU64,
}

async fn run_once(bot: Bot, scenario: Scenario, script: &Arc<Script>) -> anyhow::Result<Figures> {
    let redis = RedisServer::start();
    let (events, mut event_stream) = mpsc::unbounded_channel();
    let addresses: Vec<String> = (0..scenario.replicas)
        .map(|_| format!("127.0.0.1:{}", kintsugi::testkit::free_port()))
        .collect();
    let fake = Arc::new(FakeTelegram::start_with(FakeOptions {
        record: false,
        observer: Some(Arc::new(move |event| {
            let _ = events.send(event);
        })),
        // The bot under load runs without send limits, so the fake enforces none.
        limits: false,
        webhook: (scenario.replicas > 1).then(|| WebhookTargets {
            urls: addresses
                .iter()
                .map(|address| format!("http://{address}{WEBHOOK_PATH}"))
                .collect(),
            secret: WEBHOOK_SECRET.to_owned(),
        }),
    }));
    // One master key for every replica of the run, as an operator's replicas share theirs.
    let master_key = MasterKey::generate("load");
    let mut children = Vec::new();
    for address in &addresses {
        let webhook = (scenario.replicas > 1).then_some(address.as_str());
        children.push(spawn_bot(bot, &fake, &redis, &master_key, webhook)?);
    }

    // Routes each reply to its person, and times each update to its first reply.
    let meter = Arc::new(Meter {
        measuring: AtomicBool::new(false),
        replies: AtomicU64::new(0),
        updates: AtomicU64::new(0),
        all_updates: AtomicU64::new(0),
        started: AtomicU64::new(0),
    });
    let mut inboxes = HashMap::new();
    let mut people = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    for index in 0..scenario.people {
        let chat = 1_000_000 + index as i64;
        let (sender, inbox) = mpsc::unbounded_channel();
        inboxes.insert(chat, sender);
        people.push(tokio::spawn(person(
            bot,
            chat,
            Arc::clone(&fake),
            Arc::clone(script),
            inbox,
            scenario.pace,
            Arc::clone(&stop),
        )));
    }
    let router_meter = Arc::clone(&meter);
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let router_latencies = Arc::clone(&latencies);
    let router = tokio::spawn(async move {
        let mut handed_out: HashMap<i64, Instant> = HashMap::new();
        while let Some(event) = event_stream.recv().await {
            let measuring = router_meter.measuring.load(Ordering::Relaxed);
            match event {
                FakeEvent::HandedOut { chat, at } => {
                    handed_out.insert(chat, at);
                    router_meter.all_updates.fetch_add(1, Ordering::Relaxed);
                    if measuring {
                        router_meter.updates.fetch_add(1, Ordering::Relaxed);
                    }
                }
                FakeEvent::Sent { chat, at } => {
                    if let Some(start) = handed_out.remove(&chat)
                        && measuring
                    {
                        router_latencies
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(at.saturating_duration_since(start));
                    }
                    if measuring {
                        router_meter.replies.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(inbox) = inboxes.get(&chat) {
                        let _ = inbox.send(());
                    }
                }
                // A poller asks again and again; each webhook replica sets its webhook once.
                FakeEvent::Asked { webhook } => {
                    if webhook || router_meter.started.load(Ordering::Relaxed) == 0 {
                        router_meter.started.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    });

    // The warm-up starts once every bot takes updates: a bot still starting (a debug build
    // fits the FAQ's order for seconds) would otherwise eat into it, or into the measurement.
    let deadline = Instant::now() + STARTUP_PATIENCE;
    while meter.started.load(Ordering::Relaxed) < children.len() as u64 {
        none_stopped(&mut children, "while starting")?;
        anyhow::ensure!(
            Instant::now() < deadline,
            "{bot:?} did not start taking updates within {STARTUP_PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(scenario.warmup).await;
    none_stopped(&mut children, "during the warm-up")?;
    meter.measuring.store(true, Ordering::Relaxed);
    let probe_stop = Arc::new(AtomicBool::new(false));
    let probe = probe_round_trips(redis.url(), Arc::clone(&probe_stop));
    let updates_before = meter.updates.load(Ordering::Relaxed);
    let cpu_before = Cpu::now(&children, &redis);
    let started = Instant::now();
    tokio::time::sleep(scenario.measure).await;
    meter.measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let cpu_per_update = Cpu::now(&children, &redis).per_update_since(
        cpu_before,
        meter.updates.load(Ordering::Relaxed) - updates_before,
    );
    probe_stop.store(true, Ordering::Relaxed);
    let redis_round_trip = probe
        .join()
        .ok()
        .map(|mut trips| {
            trips.sort_unstable();
            trips
        })
        .filter(|trips| !trips.is_empty())
        .map(|trips| (percentile(&trips, 0.50), percentile(&trips, 0.99)));
    // Counted after the measured window: MONITOR slows Redis down.
    let redis_commands_per_update = match bot {
        Bot::Kintsugi => redis_commands_per_update(&redis, &meter).await,
        Bot::Baseline => None,
    };
    // The largest replica's: each is a process of its own.
    // The largest figure among the bot's processes (one, or one per replica).
    let largest = |field: &str| {
        children
            .iter()
            .filter_map(|child| status_kib(child.id(), field))
            .max()
    };
    let peak_memory_kib = largest("VmHWM:");
    let anonymous_memory_kib = largest("RssAnon:");

    stop.store(true, Ordering::Relaxed);
    let mut stalled = 0;
    for person in people {
        if matches!(person.await, Ok(false)) {
            stalled += 1;
        }
    }
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(fake);
    router.abort();
    let mut latencies = std::mem::take(
        &mut *latencies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    latencies.sort_unstable();

    let replies = meter.replies.load(Ordering::Relaxed);
    let updates = meter.updates.load(Ordering::Relaxed);
    Ok(Figures {
        updates_per_second: updates as f64 / elapsed.as_secs_f64(),
        replies_per_second: replies as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        redis_commands_per_update,
        peak_memory_kib,
        anonymous_memory_kib,
        stalled,
        redis_round_trip,
        cpu_per_update,
    })
}

/// Times Redis round trips until `stop`: a PING every 10 ms from a thread of its own, on a
/// connection of its own, so the figure is the machine's (two processes waking on loopback),
/// not the tool's busy runtime's.
fn probe_round_trips(url: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let mut trips = Vec::new();
        let Ok(mut connection) =
            redis::Client::open(url).and_then(|client| client.get_connection())
        else {
            return trips;
        };
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
            let sent = Instant::now();
            if redis::cmd("PING").query::<String>(&mut connection).is_err() {
                break;
            }
            trips.push(sent.elapsed());
        }
        trips
    })
}

/// The path and secret of the replicas' webhook.
const WEBHOOK_PATH: &str = "/telegram";
const WEBHOOK_SECRET: &str = "load-test-secret";
/// How long a bot may take to start (a debug build's start takes seconds).
const STARTUP_PATIENCE: Duration = Duration::from_secs(120);

/// An error if one of the bot processes has stopped (`when`: while starting, ...).
fn none_stopped(children: &mut [Child], when: &str) -> anyhow::Result<()> {
    for child in children {
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("a bot stopped {when} ({status}); its error is above");
        }
    }
    Ok(())
}

/// Starts `bot`, long-polling, or in webhook mode listening on `webhook`.
fn spawn_bot(
    bot: Bot,
    fake: &FakeTelegram,
    redis: &RedisServer,
    master_key: &str,
    webhook: Option<&str>,
) -> anyhow::Result<Child> {
    let this = std::env::current_exe().context("cannot find the load tool's own binary")?;
    let mut command = match bot {
        // The baseline is served by this binary; Kintsugi is the real bot beside it.
        Bot::Baseline => {
            let mut command = Command::new(&this);
            command.arg("--serve-baseline");
            command
        }
        Bot::Kintsugi => {
            let kintsugi = this.with_file_name("kintsugi");
            anyhow::ensure!(
                kintsugi.exists(),
                "the kintsugi binary is not at {}: build both first (cargo build --release --features testkit)",
                kintsugi.display()
            );
            let mut command = Command::new(kintsugi);
            command.arg("run");
            command
        }
    };
    command
        .env("TELOXIDE_TOKEN", "424242:LOAD-TEST")
        .env("TELOXIDE_API_URL", fake.url())
        .env("REDIS_URL", redis.url())
        .env("KINTSUGI_REDIS_PREFIX", "load")
        // Measured as it runs for real: with every state encrypted.
        .env("KINTSUGI_MASTER_KEY", master_key)
        // Against a local fake the bot's own cost is what is measured, not Telegram's caps:
        // its pacing does all its work (each chat's schedule, and the bot's shared through
        // Redis) a thousand times faster than Telegram allows, and flood control checks every
        // message (in the same script as the write) with room to spare.
        .env("KINTSUGI_SEND_LIMITS", "scaled")
        .env("KINTSUGI_FLOOD_BURST", "1000000")
        .env("KINTSUGI_FLOOD_PER_MINUTE", "1000000")
        .env("RUST_LOG", "error")
        .env_remove("KINTSUGI_WEBHOOK_ADDRESS");
    if let Some(address) = webhook {
        if bot == Bot::Kintsugi {
            command.arg("--webhook");
        }
        command
            .env("KINTSUGI_WEBHOOK_ADDRESS", address)
            .env(
                "KINTSUGI_WEBHOOK_URL",
                format!("https://load.example{WEBHOOK_PATH}"),
            )
            .env("KINTSUGI_WEBHOOK_SECRET", WEBHOOK_SECRET);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command.spawn().context("cannot start the bot")
}

/// One simulated person: sends, waits for every reply, thinks for `pace`, and again.
/// Returns false when the bot stopped answering them.
async fn person(
    bot: Bot,
    chat: i64,
    fake: Arc<FakeTelegram>,
    script: Arc<Script>,
    mut inbox: mpsc::UnboundedReceiver<()>,
    pace: Duration,
    stop: Arc<AtomicBool>,
) -> bool {
    let mut shadow = PersonState::default();
    let mut buttons: Vec<String> = Vec::new();
    let mut rng = fastrand::Rng::with_seed(chat as u64);
    // Spread the first messages over one pace, as people do not all arrive at once.
    if !pace.is_zero() {
        tokio::time::sleep(pace.mul_f64(rng.f64())).await;
    }
    let mut text = "/start".to_owned();
    while !stop.load(Ordering::Relaxed) {
        let (input, expected) = match bot {
            // The baseline answers everything with one message and one button.
            Bot::Baseline if text == "/start" => {
                text.clear();
                (Input::from_text("/start"), 1)
            }
            Bot::Baseline => (Input::Press(BASELINE_BUTTON.to_owned()), 1),
            Bot::Kintsugi => {
                let input = match buttons.len() {
                    0 => Input::from_text(&text),
                    count => Input::Press(buttons[rng.usize(..count)].clone()),
                };
                let outcome = advance(&script.library, &shadow, &input, 0);
                shadow = outcome.state;
                buttons = outcome
                    .replies
                    .iter()
                    .flat_map(|reply| reply.buttons.iter().map(|button| button.data.clone()))
                    .collect();
                // After a question the next input is a typed answer, in words people use.
                text = match script.typed.len() {
                    0 => "A few honest words, written slowly.".to_owned(),
                    count => script.typed[rng.usize(..count)].clone(),
                };
                (input, outcome.replies.len())
            }
        };
        match &input {
            Input::Press(data) => fake.press(chat, 1, data),
            Input::Text(words) | Input::Concern { text: words, .. } => {
                fake.send_text(chat, words);
            }
            Input::Command { name, argument } => {
                fake.send_text(chat, format!("/{name} {argument}").trim_end());
            }
            // Never a person's: the engine's own, after a couples-mode action.
            Input::Unsupported | Input::Couple(_) => {}
        }
        for _ in 0..expected {
            match tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await {
                Ok(Some(())) => {}
                _ => return stop.load(Ordering::Relaxed),
            }
        }
        if !pace.is_zero() {
            tokio::time::sleep(pace.mul_f64(0.5 + rng.f64())).await;
        }
    }
    true
}

/// The commands the bot sent Redis per update, watched with MONITOR for two seconds. The
/// commands a Lua script runs inside Redis show as `[0 lua]` and are not round trips.
async fn redis_commands_per_update(redis: &RedisServer, meter: &Meter) -> Option<f64> {
    use futures::StreamExt;
    let client = redis::Client::open(redis.url()).ok()?;
    let monitor = client.get_async_monitor().await.ok()?;
    let mut lines = monitor.into_on_message::<String>();
    let updates_before = meter.all_updates.load(Ordering::Relaxed);
    let mut commands = 0_u64;
    let window = tokio::time::sleep(Duration::from_secs(2));
    tokio::pin!(window);
    loop {
        tokio::select! {
            () = &mut window => break,
            line = lines.next() => match line {
                Some(line) if !line.contains(" lua]") => commands += 1,
                Some(_) => {}
                None => break,
            },
        }
    }
    let updates = meter.all_updates.load(Ordering::Relaxed) - updates_before;
    (updates > 0).then(|| commands as f64 / updates as f64)
}

/// One kibibyte figure (`field`, such as "VmHWM:", the peak resident memory) of process
/// `pid`'s status, from Linux's /proc; `None` elsewhere.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_sample_at_or_above_the_share() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
