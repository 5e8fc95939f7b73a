//! End to end: the real `kintsugi` binary, long polling a fake Bot API server on loopback
//! (through `TELOXIDE_API_URL`), with its state in a real `redis-server`.
//!
//! ```text
//! Person:   /start ground-rules
//! Kintsugi: Hard talks tend to go better when ...       [Let's begin] [Not right now]
//! Person:   [Let's begin]  ...  (kill -9, start again)  ...
//! Kintsugi: the same step, and on to the card
//! ```

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use kintsugi::testkit::fake_telegram::{self, FakeTelegram};
use kintsugi::testkit::{RedisServer, free_port};

const BINARY: &str = env!("CARGO_BIN_EXE_kintsugi");
/// The master key every bot in these tests runs with (a test may override it).
const MASTER_KEY: &str = "e2e:kGLDZhkHuZA6ZUhLYRvy57zBG+HoDxGHngcwATfil+c=";
/// How long a reply may take to arrive before a test fails (generous: CI machines are slow).
const PATIENCE: Duration = Duration::from_secs(20);

/// The tests that load the machine (three replicas and thousands of updates) or time the
/// replies run alone; the others run side by side. So a test's patience is never spent
/// waiting for another test's CPU.
static MACHINE: RwLock<()> = RwLock::new(());

fn alone() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().unwrap_or_else(PoisonError::into_inner)
}

fn beside_others() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(PoisonError::into_inner)
}
const ANA: i64 = 4242;
/// The hash tag of Ana's shard of the reminder index (her id modulo 16).
const _ANA_SHARD: () = assert!(ANA % 16 == 2);
const BEN: i64 = 5353;

/// The bot as a child process, with everything it logs kept for assertions.
struct Bot {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Bot {
    fn start(fake: &FakeTelegram, redis: &RedisServer) -> Bot {
        Bot::start_with(fake, redis, "123456:FAKE-TOKEN", "info")
    }

    fn start_with(fake: &FakeTelegram, redis: &RedisServer, token: &str, log_level: &str) -> Bot {
        Bot::spawn(fake, redis, token, log_level, &[], &[])
    }

    fn spawn(
        fake: &FakeTelegram,
        redis: &RedisServer,
        token: &str,
        log_level: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Bot {
        let mut child = Command::new(BINARY)
            .arg("run")
            .args(args)
            .env("KINTSUGI_MASTER_KEY", MASTER_KEY)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("TELOXIDE_TOKEN", token)
            .env("TELOXIDE_API_URL", fake.url())
            .env("REDIS_URL", redis.url())
            .env("KINTSUGI_REDIS_PREFIX", "e2e")
            .env("KINTSUGI_REMINDER_TICK_MS", "200")
            .env_remove("KINTSUGI_DIALOGUES")
            .env("RUST_LOG", log_level)
            // Last, so a test can set any of the above its own way.
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the kintsugi binary starts");
        let log = Arc::new(Mutex::new(String::new()));
        for mut pipe in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut buffer = [0; 4096];
                while let Ok(read) = pipe.read(&mut buffer) {
                    if read == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buffer[..read]).into_owned();
                    log.lock().expect("the log").push_str(&text);
                }
            });
        }
        Bot { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().expect("the log").clone()
    }

    /// SIGKILL: no chance to tidy up.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ana starts ground-rules, writes `time_place` as her time and place and picks 30 minutes,
/// which brings the question about a pause signal.
fn ground_rules_to_the_pause_signal(fake: &FakeTelegram, time_place: &str) {
    fake.send_text(ANA, "/start ground-rules");
    fake.press_when_shown(ANA, "Let's begin", PATIENCE);
    fake.wait_for_text(ANA, 0, "When and where could that be", PATIENCE);
    fake.send_text(ANA, time_place);
    fake.press_when_shown(ANA, "30 minutes", PATIENCE);
}

fn texts(sent: &[fake_telegram::Sent]) -> Vec<&str> {
    sent.iter().map(|message| message.text.as_str()).collect()
}

#[test]
fn a_person_walks_a_whole_flow_and_gets_their_card() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    ground_rules_to_the_pause_signal(&fake, "Sunday morning <by the river> & no phones");
    let asked = fake.sent_to(ANA).len();
    fake.wait_for_text(ANA, asked - 1, "What will your pause signal be?", PATIENCE);
    fake.send_text(ANA, "A hand on the heart");
    let asked = fake.sent_to(ANA).len();
    fake.wait_for_text(ANA, asked - 1, "Write one promise", PATIENCE);
    fake.send_text(ANA, "I'll speak about how I feel, not what you did");
    fake.press_when_shown(ANA, "Skip to my card", PATIENCE);
    let card = fake.wait_for_text(ANA, 0, "Here's your ground-rules card:", PATIENCE);
    assert!(
        card.text
            .contains("When and where: Sunday morning <by the river> & no phones")
    );
    assert!(card.text.contains("How long: 30 minutes"));
    assert!(card.text.contains("Pause signal: A hand on the heart"));
    // Every press was answered, and its keyboard taken away.
    let requests = fake.requests();
    let answered = requests
        .iter()
        .filter(|r| r.method == "answercallbackquery")
        .count();
    let unbuttoned = requests
        .iter()
        .filter(|r| r.method == "editmessagereplymarkup")
        .count();
    assert_eq!((answered, unbuttoned), (3, 3));
}

/// Labels a walker avoids, so the walk goes deeper instead of stepping out.
const WAY_OUT: [&str; 6] = [
    "not now",
    "not right now",
    "menu",
    "later",
    "stop",
    "rather not",
];

/// What a person types at a typed question.
fn typed_answer(question: &str) -> &'static str {
    let question = question.to_lowercase();
    if question.contains("1 to 10") || question.contains("from 1") || question.contains("1-10") {
        "6"
    } else {
        "I haven't slept properly in days and I keep going over it"
    }
}

#[test]
fn a_person_walking_at_human_speed_is_answered_within_three_seconds_at_the_shipped_limits() {
    let _machine = alone();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    // Timed from the bot's first poll: its start-up (a test build fits the FAQ's learned order
    // in seconds, longer beside other tests' bots) is not the pacing under test.
    fake.wait_for_requests("getUpdates", 1, PATIENCE);
    let mut waits = Vec::new();
    let mut presses = Vec::new();
    let mut input = String::from("/start");
    for step in 0..30_u64 {
        let before = fake.sent_to(ANA).len();
        let sent_at = Instant::now();
        match input.strip_prefix("press:") {
            Some(label) => {
                presses.push(Instant::now());
                fake.press_label(ANA, label);
            }
            None => fake.send_text(ANA, &input),
        }
        let first = fake.wait_for_messages(ANA, before + 1, PATIENCE)[before].at;
        waits.push(first.saturating_duration_since(sent_at));
        // Read until the step offers buttons, or nothing more comes (a typed question).
        let mut quiet_since = Instant::now();
        let mut seen = before + 1;
        let shown = loop {
            let sent = fake.sent_to(ANA);
            if sent.len() > seen {
                (seen, quiet_since) = (sent.len(), Instant::now());
            }
            let last = sent.last().expect("a message").clone();
            if !last.buttons.is_empty() || quiet_since.elapsed() > Duration::from_millis(2500) {
                break last;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // A person thinks for one to two seconds before answering.
        std::thread::sleep(Duration::from_millis(1000 + step * 373 % 1000));
        input = match shown.buttons.iter().find(|(label, _)| {
            let label = label.to_lowercase();
            !WAY_OUT.iter().any(|word| label.contains(word))
        }) {
            Some((label, _)) => format!("press:{label}"),
            None if shown.buttons.is_empty() => typed_answer(&shown.text).to_owned(),
            None => format!("press:{}", shown.buttons[0].0),
        };
    }
    let slow: Vec<_> = waits
        .iter()
        .enumerate()
        .filter(|(_, wait)| **wait > Duration::from_secs(3))
        .collect();
    assert!(
        slow.is_empty(),
        "inputs waiting over 3 s: {slow:?} of {waits:?}"
    );
    assert_eq!(fake.rejected(), 0, "requests Telegram would have refused");
    assert!(
        presses.len() >= 15,
        "the walk pressed {} buttons",
        presses.len()
    );
    // Each press was answered at once, however much was still being sent.
    let answers: Vec<Instant> = fake
        .requests()
        .iter()
        .filter(|request| request.method == "answercallbackquery")
        .map(|request| request.at)
        .collect();
    assert_eq!(answers.len(), presses.len());
    for (pressed, answered) in presses.iter().zip(&answers) {
        assert!(answered.saturating_duration_since(*pressed) < Duration::from_secs(1));
    }
    let texts = fake.sent_to(ANA);
    assert!(
        !texts
            .iter()
            .any(|message| message.text.contains("belongs to an earlier message")),
        "a press met a stale keyboard"
    );
}

#[test]
fn summary_sends_a_pdf_of_only_the_parts_picked() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    ground_rules_to_the_pause_signal(&fake, "Sunday by the river");
    let asked = fake.sent_to(ANA).len();
    fake.wait_for_text(ANA, asked - 1, "What will your pause signal be?", PATIENCE);
    fake.send_text(ANA, "A hand on the heart");
    let asked = fake.sent_to(ANA).len();
    fake.wait_for_text(ANA, asked - 1, "Write one promise", PATIENCE);
    fake.send_text(ANA, "I'll speak about how I feel");
    fake.press_when_shown(ANA, "Skip to my card", PATIENCE);
    fake.wait_for_text(ANA, 0, "Here's your ground-rules card:", PATIENCE);
    let before = fake.sent_to(ANA).len();
    fake.send_text(ANA, "/summary");
    // Put in the first part offered, leave out every other.
    let first = fake.wait_for_message(ANA, before, PATIENCE, |text| text.starts_with("Put in"));
    fake.press_label(ANA, "Put it in");
    let mut seen = before + 2;
    let document = loop {
        let sent = fake.wait_for_messages(ANA, seen + 1, PATIENCE);
        let last = sent.last().expect("a message").clone();
        seen = sent.len();
        if last.file.is_some() {
            break last;
        }
        if last
            .buttons
            .iter()
            .any(|(label, _)| label == "Leave it out")
        {
            fake.press_label(ANA, "Leave it out");
        }
    };
    let file = document.file.expect("the summary is a file");
    assert_eq!(
        (file.kind.as_str(), file.name.as_str()),
        ("document", "kintsugi-summary.pdf")
    );
    assert!(file.bytes.starts_with(b"%PDF-"), "a PDF");
    assert!(
        document.text.starts_with("Here's your summary"),
        "{}",
        document.text
    );
    assert!(first.text.len() > "Put in ".len());
}

/// A plain HTTP GET on loopback: the status code and the body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("a request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn operators_scrape_metrics_and_see_health_and_readiness() {
    let _machine = beside_others();
    let (fake, mut redis) = (FakeTelegram::start(), RedisServer::start());
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let _bot = Bot::spawn(
        &fake,
        &redis,
        "123456:FAKE-TOKEN",
        "info",
        &[],
        &[("KINTSUGI_METRICS_ADDRESS", address.as_str())],
    );
    fake.send_text(ANA, "/start");
    fake.wait_for_messages(ANA, 3, PATIENCE);
    fake.send_text(ANA, "I want to end my life tonight");
    fake.wait_for_message(ANA, 3, PATIENCE, |text| text.contains("safe"));
    assert_eq!(http_get(port, "/healthz").0, 200);
    assert_eq!(http_get(port, "/readyz").0, 200);
    let (status, metrics) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    for expected in [
        "kintsugi_updates_total{kind=\"message\"} 2",
        "kintsugi_update_seconds_bucket",
        "kintsugi_replies_sent_total",
        "kintsugi_screen_verdicts_total{kind=\"self-harm\",certainty=\"clear\"} 1",
    ] {
        assert!(metrics.contains(expected), "no {expected} in:\n{metrics}");
    }
    assert!(!metrics.contains("end my life") && !metrics.contains(&ANA.to_string()));
    // With Redis gone the bot is alive but not ready.
    redis.stop();
    assert_eq!(http_get(port, "/healthz").0, 200);
    assert_eq!(http_get(port, "/readyz").0, 503);
}

#[test]
fn a_second_poller_on_the_same_redis_refuses_to_start_and_names_webhook_mode() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let first = Bot::start(&fake, &redis);
    fake.send_text(ANA, "/start");
    fake.wait_for_messages(ANA, 1, PATIENCE);
    let mut second = Bot::start(&fake, &redis);
    // It waits out a lease a killed poller may have left (15 s, and one renewal), then stops.
    let deadline = std::time::Instant::now() + PATIENCE + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = second.child.try_wait().expect("the second bot") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second poller kept running"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let log = second.log();
    assert!(log.contains("webhook"), "{log}");
    // The first carries on serving.
    let before = fake.sent_to(ANA).len();
    fake.send_text(ANA, "/help");
    fake.wait_for_messages(ANA, before + 1, PATIENCE);
    // Stopped gracefully, it hands the lease back: a new poller starts at once.
    let mut first = first;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &first.child.id().to_string()])
        .status();
    let _ = first.child.wait();
    let third = Bot::start(&fake, &redis);
    let before = fake.sent_to(BEN).len();
    fake.send_text(BEN, "/help");
    fake.wait_for_messages(BEN, before + 1, PATIENCE);
    drop(third);
}

#[test]
fn an_idle_bot_long_polls_instead_of_asking_again_and_again() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    fake.wait_for_requests("getUpdates", 1, PATIENCE);
    let polls = || {
        fake.requests()
            .iter()
            .filter(|request| request.method == "getupdates")
            .map(|request| request.body["timeout"].as_u64())
            .collect::<Vec<_>>()
    };
    let before = polls();
    std::thread::sleep(std::time::Duration::from_secs(6));
    let after = polls();
    assert_eq!(
        after.last().copied().flatten(),
        Some(kintsugi::telegram::POLL_TIMEOUT.as_secs()),
        "each poll waits on Telegram's side"
    );
    assert!(
        after.len() - before.len() <= 1,
        "{} polls in 6 idle seconds",
        after.len() - before.len()
    );
    // An update still arrives at once, mid-poll.
    fake.send_text(ANA, "/help");
    fake.wait_for_messages(ANA, 1, PATIENCE);
}

#[test]
fn at_start_the_bot_registers_its_commands_and_asks_only_for_the_updates_it_uses() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    fake.wait_for_requests("setMyCommands", 1, PATIENCE);
    fake.wait_for_requests("getUpdates", 1, PATIENCE);
    let requests = fake.requests();
    let commands = &requests
        .iter()
        .find(|r| r.method == "setmycommands")
        .expect("setMyCommands")
        .body["commands"];
    let names: Vec<&str> = commands
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|command| command["command"].as_str())
        .collect();
    for expected in ["start", "menu", "safety", "faq", "help", "rules"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let polling = &requests
        .iter()
        .find(|r| r.method == "getupdates")
        .expect("getUpdates")
        .body["allowed_updates"];
    let mut asked: Vec<&str> = polling
        .as_array()
        .expect("allowed_updates is a list")
        .iter()
        .filter_map(|kind| kind.as_str())
        .collect();
    asked.sort_unstable();
    assert_eq!(
        asked,
        [
            "callback_query",
            "edited_message",
            "message",
            "my_chat_member"
        ]
    );
}

#[test]
fn a_bot_killed_mid_flow_carries_on_from_the_same_step_after_a_restart() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let bot = Bot::start(&fake, &redis);
    fake.send_text(ANA, "/start ground-rules");
    fake.wait_for_messages(ANA, 2, PATIENCE);
    fake.press_label(ANA, "Let's begin");
    fake.wait_for_messages(ANA, 4, PATIENCE);
    fake.send_text(ANA, "Sunday morning, phones away");
    fake.wait_for_messages(ANA, 6, PATIENCE);
    fake.wait_until_acknowledged(PATIENCE);
    bot.kill();

    let _bot = Bot::start(&fake, &redis);
    fake.press_label(ANA, "30 minutes");
    let sent = fake.wait_for_messages(ANA, 7, PATIENCE);
    assert!(
        sent[6].text.starts_with("Now a way to pause."),
        "{:#?}",
        texts(&sent)
    );
}

#[test]
fn while_redis_is_down_people_hear_so_and_once_it_is_back_nothing_saved_is_lost() {
    let _machine = beside_others();
    let (fake, mut redis) = (FakeTelegram::start(), RedisServer::start_persistent());
    let bot = Bot::start(&fake, &redis);
    fake.send_text(ANA, "/start ground-rules");
    fake.wait_for_messages(ANA, 2, PATIENCE);

    redis.stop();
    fake.press_label(ANA, "Let's begin");
    let sent = fake.wait_for_messages(ANA, 3, PATIENCE);
    assert!(
        sent[2]
            .text
            .starts_with("I can't reach my memory right now"),
        "{:#?}\nbot log:\n{}",
        texts(&sent),
        bot.log()
    );

    redis.restart();
    // The first request after Redis is back may still meet the broken connection; the bot
    // heals by itself, with no restart, by the next one.
    let mut seen = 3;
    let resumed = (0..5).any(|_| {
        fake.send_text(ANA, "/continue");
        let sent = fake.wait_for_messages(ANA, seen + 1, PATIENCE);
        seen = sent.len();
        sent.last().is_some_and(|message| {
            message
                .text
                .starts_with("Let's make a small ground-rules card")
        })
    });
    assert!(
        resumed,
        "the saved step survived: {:#?}",
        texts(&fake.sent_to(ANA))
    );
}

#[test]
fn an_update_telegram_delivers_twice_is_handled_once() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    fake.send_text(ANA, "/start ground-rules");
    fake.press_when_shown(ANA, "Let's begin", PATIENCE);
    fake.wait_for_text(ANA, 0, "When and where could that be", PATIENCE);
    let before = fake.sent_to(ANA).len();
    fake.redeliver_last();
    // Something after it shows that the redelivered press was read and passed over.
    fake.send_text(ANA, "/faq 1");
    fake.wait_for_messages(ANA, before + 1, PATIENCE);
    let after: Vec<String> = fake
        .sent_to(ANA)
        .into_iter()
        .skip(before)
        .map(|message| message.text)
        .collect();
    assert_eq!(after.len(), 1, "only the FAQ answer is new: {after:#?}");
    assert!(after[0].contains('?'), "{after:#?}");
}

#[test]
fn telegram_saying_too_many_requests_is_waited_out_for_that_chat_only() {
    let _machine = beside_others();
    // The bot's 64 update workers are picked by chat id modulo 64: this person shares Ana's.
    const NEIGHBOUR: i64 = ANA + 64;
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    fake.fail_next(
        "sendMessage",
        429,
        "Too Many Requests: retry after 4",
        Some(4),
    );
    fake.send_text(ANA, "/faq 1");
    fake.wait_for_requests("failed:sendMessage", 1, PATIENCE);
    let asked = Instant::now();
    fake.send_text(NEIGHBOUR, "/faq 1");
    let neighbour = fake.wait_for_messages(NEIGHBOUR, 1, PATIENCE);
    let ana = fake.wait_for_messages(ANA, 1, PATIENCE);
    assert!(ana[0].text.contains('?'), "{:#?}", texts(&ana));
    // Ana's neighbour shares her update worker, and still waits for nothing of hers.
    let waited = neighbour[0].at.saturating_duration_since(asked);
    assert!(
        waited < Duration::from_secs(2),
        "the neighbour waited {waited:?}"
    );
    assert!(
        ana[0].at > neighbour[0].at,
        "Ana's reply waited out the 429"
    );
    let failed = fake
        .requests()
        .iter()
        .filter(|r| r.method == "failed:sendmessage")
        .count();
    assert_eq!(failed, 1, "the first try met the 429");
}

#[test]
fn server_errors_and_a_broken_connection_are_retried_until_the_reply_arrives() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    fake.fail_next("sendMessage", 500, "Internal Server Error", None);
    fake.fail_next("sendMessage", 502, "Bad Gateway", None);
    fake.break_next("sendMessage");
    fake.send_text(ANA, "/takeaways");
    // teloxide itself pauses ten seconds after each server error before it reports it.
    let sent = fake.wait_for_messages(ANA, 1, PATIENCE + Duration::from_secs(30));
    assert_eq!(
        sent.len(),
        1,
        "sent once, after the failures: {:#?}",
        texts(&sent)
    );
    fake.wait_for_requests("failed:sendMessage", 3, PATIENCE);
}

#[test]
fn a_person_who_blocked_the_bot_does_not_stop_it_serving_others() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let bot = Bot::start(&fake, &redis);
    fake.fail_next(
        "sendMessage",
        403,
        "Forbidden: bot was blocked by the user",
        None,
    );
    fake.send_text(BEN, "/start");
    fake.wait_for_requests("failed:sendMessage", 1, PATIENCE);
    fake.send_text(ANA, "/faq 2");
    let sent = fake.wait_for_messages(ANA, 1, PATIENCE);
    assert_eq!(sent.len(), 1);
    assert!(
        fake.sent_to(BEN).is_empty(),
        "nothing more is sent to a person who blocked the bot"
    );
    assert!(
        bot.log().contains("event=blocked_by_person"),
        "{}",
        bot.log()
    );
    let marked: bool = redis.query(&["HEXISTS", &format!("e2e:{{u:{BEN}}}:meta"), "blocked"]);
    assert!(marked, "the person is marked as unreachable");
}

#[test]
fn telegram_saying_a_person_blocked_or_unblocked_the_bot_is_recorded() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    let key = format!("e2e:{{u:{BEN}}}:meta");
    fake.member_status(BEN, "kicked");
    let deadline = std::time::Instant::now() + PATIENCE;
    while !redis.query::<bool>(&["HEXISTS", &key, "blocked"]) {
        assert!(
            std::time::Instant::now() < deadline,
            "never marked as blocked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    fake.member_status(BEN, "member");
    while redis.query::<bool>(&["HEXISTS", &key, "blocked"]) {
        assert!(
            std::time::Instant::now() < deadline,
            "never marked as unblocked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn json_logs_are_one_object_a_line_with_a_timestamp_and_nothing_anyone_wrote() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let bot = Bot::spawn(
        &fake,
        &redis,
        "123456:FAKE-TOKEN",
        "debug",
        &[],
        &[("KINTSUGI_LOG_FORMAT", "json")],
    );
    fake.send_text(ANA, "/start");
    fake.wait_for_messages(ANA, 1, PATIENCE);
    fake.send_text(ANA, "some-private-words-4711");
    fake.wait_for_messages(ANA, 4, PATIENCE);
    let log = bot.log();
    let lines: Vec<&str> = log.lines().filter(|line| !line.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{log}");
    for line in &lines {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        for field in ["ts", "level", "target", "msg"] {
            assert!(object[field].is_string(), "no {field} in {line}");
        }
    }
    assert!(
        log.contains("\"msg\":\"kintsugi telegram version="),
        "{log}"
    );
    assert!(!log.contains("private-words") && !log.contains(&ANA.to_string()));
}

#[test]
fn neither_the_token_nor_what_people_write_reaches_the_log_even_at_trace_level() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let token = "987654:UNIQUE-TOKEN-e2e-31415";
    let typed = [
        "my-private-words-27182",
        "a-pause-signal-31415",
        "a-promise-16180",
        "i-want-to-kill-myself-14142",
    ];
    let bot = Bot::start_with(&fake, &redis, token, "trace");
    // The whole ground-rules flow, every answer typed, a crisis message and /export on the way.
    ground_rules_to_the_pause_signal(&fake, typed[0]);
    let asked = fake.sent_to(ANA).len();
    fake.wait_for_text(ANA, asked - 1, "What will your pause signal be?", PATIENCE);
    fake.send_text(ANA, typed[1]);
    let asked = fake.sent_to(ANA).len();
    fake.wait_for_text(ANA, asked - 1, "Write one promise", PATIENCE);
    fake.send_text(ANA, typed[3]);
    fake.press_when_shown(ANA, "I'm safe, let's go on", PATIENCE);
    fake.press_when_shown(ANA, "Yes, there is someone", PATIENCE);
    let asked = fake.sent_to(ANA).len();
    fake.wait_for_text(ANA, asked - 1, "Write one promise", PATIENCE);
    fake.send_text(ANA, typed[2]);
    fake.press_when_shown(ANA, "Skip to my card", PATIENCE);
    fake.wait_for_text(ANA, 0, "Here's your ground-rules card:", PATIENCE);
    let asked = fake.sent_to(ANA).len();
    fake.send_text(ANA, "/export");
    fake.wait_for_messages(ANA, asked + 1, PATIENCE);
    let log = bot.log();
    assert!(
        log.contains("kintsugi telegram version="),
        "the bot did log: {log}"
    );
    assert!(
        !log.contains("UNIQUE-TOKEN"),
        "the token leaked into the log"
    );
    for text in typed {
        assert!(!log.contains(text), "{text:?} leaked into the log");
    }
    assert!(
        !log.contains(&ANA.to_string()),
        "a person's Telegram id reached the log"
    );
}

#[test]
fn in_webhook_mode_only_requests_with_the_secret_are_heard() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let url = format!("http://{address}/telegram/updates");
    let secret = "e2e-secret_0123456789";
    let bot = Bot::spawn(
        &fake,
        &redis,
        "123456:FAKE-TOKEN",
        "info",
        &["--webhook"],
        &[
            ("KINTSUGI_WEBHOOK_URL", url.as_str()),
            ("KINTSUGI_WEBHOOK_ADDRESS", address.as_str()),
            ("KINTSUGI_WEBHOOK_SECRET", secret),
        ],
    );
    fake.wait_for_requests("setWebhook", 1, PATIENCE);
    let requests = fake.requests();
    let registered = &requests
        .iter()
        .find(|r| r.method == "setwebhook")
        .expect("setWebhook")
        .body;
    assert_eq!(registered["url"], url.as_str());
    assert_eq!(registered["secret_token"], secret);
    assert!(
        registered["allowed_updates"]
            .as_array()
            .is_some_and(|kinds| kinds.len() == 4)
    );

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let post = |secret: Option<&str>, update_id: i64| {
        let body = fake_telegram::text_update(update_id, ANA, "/faq 1").to_string();
        runtime.block_on(async {
            let client = reqwest::Client::new();
            // The server may still be starting: connection refusals are retried briefly.
            for _ in 0..100 {
                let mut request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                if let Some(secret) = secret {
                    request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
                }
                match request.send().await {
                    Ok(response) => return response.status().as_u16(),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            panic!("the webhook server never answered; bot log:\n{}", bot.log());
        })
    };
    assert_eq!(post(None, 1), 401);
    assert_eq!(post(Some("e2e-secret_0123456780"), 2), 401);
    assert_eq!(post(Some("short"), 3), 401);
    assert_eq!(post(Some(secret), 4), 200);
    let sent = fake.wait_for_messages(ANA, 1, PATIENCE);
    assert_eq!(
        sent.len(),
        1,
        "only the update with the secret was answered"
    );
    assert!(bot.log().contains("event=webhook_refused"), "{}", bot.log());
}

#[test]
fn webhook_mode_without_a_secret_refuses_to_start_and_says_what_is_missing() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let mut bot = Bot::spawn(
        &fake,
        &redis,
        "123456:FAKE-TOKEN",
        "info",
        &["--webhook"],
        &[("KINTSUGI_WEBHOOK_URL", "https://example.org/hook")],
    );
    let status = bot.child.wait().expect("the bot exits");
    assert!(!status.success());
    // The log threads may lag a moment behind the exit.
    let deadline = std::time::Instant::now() + PATIENCE;
    while !bot.log().contains("KINTSUGI_WEBHOOK_SECRET") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        bot.log()
            .contains("--webhook needs KINTSUGI_WEBHOOK_SECRET"),
        "{}",
        bot.log()
    );
}

#[test]
fn sigterm_stops_the_bot_gracefully() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let mut bot = Bot::start(&fake, &redis);
    fake.send_text(ANA, "/faq 1");
    fake.wait_for_messages(ANA, 1, PATIENCE);
    let terminated = Command::new("kill")
        .args(["-TERM", &bot.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let status = bot.child.wait().expect("the bot exits");
    assert!(status.success(), "{status:?}\n{}", bot.log());
    let deadline = std::time::Instant::now() + PATIENCE;
    while !bot.log().contains("event=stopped") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(bot.log().contains("event=stopped"), "{}", bot.log());
}

#[test]
fn added_to_a_group_the_bot_says_one_line_leaves_and_keeps_nothing() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    let group = -100_200_300;
    fake.send_group_text(group, ANA, "/start");
    fake.wait_for_requests("leaveChat", 1, PATIENCE);
    let sent = fake.sent_to(group);
    assert_eq!(sent.len(), 1, "{:#?}", texts(&sent));
    assert!(
        sent[0].text.contains("only talk one to one"),
        "{}",
        sent[0].text
    );
    let keys: Vec<String> = redis.query(&["KEYS", "*{u:*"]);
    assert!(
        keys.is_empty(),
        "no state for a group or its members: {keys:?}"
    );
}

/// Seconds since the epoch, now.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

#[test]
fn a_check_in_is_set_up_reminded_answered_and_shown_in_progress() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    fake.send_text(ANA, "/checkin");
    fake.press_when_shown(ANA, "Set it up", PATIENCE);
    fake.press_when_shown(ANA, "Every day", PATIENCE);
    fake.wait_for_text(ANA, 0, "What time", PATIENCE);
    fake.send_text(ANA, "9:00");
    fake.press_when_shown(ANA, "Berlin / Paris / Madrid", PATIENCE);
    fake.press_when_shown(ANA, "Yes, that's right", PATIENCE);
    let set = fake.wait_for_message(ANA, 0, PATIENCE, |text| text.contains("/checkin off"));
    assert!(set.text.contains("09:00"), "{}", set.text);
    let before = fake.sent_to(ANA).len();
    let due: Option<i64> = redis.query(&["HGET", "e2e:{reminders:2}:occurrence", &ANA.to_string()]);
    assert!(
        due.is_some_and(|due| due > unix_now()),
        "the first reminder is scheduled ahead"
    );

    // Make it due now, as the clock would at nine.
    let now = unix_now().to_string();
    let _: i64 = redis.query(&["ZADD", "e2e:{reminders:2}:due", &now, &ANA.to_string()]);
    let _: i64 = redis.query(&[
        "HSET",
        "e2e:{reminders:2}:occurrence",
        &ANA.to_string(),
        &now,
    ]);
    let reminder = fake.wait_for_text(ANA, before, "Time for your check-in", PATIENCE);
    let first_line = reminder
        .text
        .lines()
        .next()
        .unwrap_or_default()
        .to_lowercase();
    for private in ["trust", "betray", "affair", "cheat"] {
        assert!(
            !first_line.contains(private),
            "a lock screen could show {first_line:?}"
        );
    }
    let labels: Vec<&str> = reminder
        .buttons
        .iter()
        .map(|(label, _)| label.as_str())
        .collect();
    assert_eq!(
        labels,
        ["Start now", "In an hour", "Tomorrow", "Skip this one"]
    );
    // Sent once, and the next one is then scheduled for tomorrow.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let next: Option<i64> =
            redis.query(&["HGET", "e2e:{reminders:2}:occurrence", &ANA.to_string()]);
        if next.is_some_and(|next| next > unix_now() + 3600) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never rescheduled: {next:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    fake.press_when_shown(ANA, "Start now", PATIENCE);
    fake.press_when_shown(ANA, "Let's start", PATIENCE);
    fake.wait_for_text(ANA, before, "From 1 to 10", PATIENCE);
    fake.send_text(ANA, "6");
    fake.wait_for_text(ANA, before, "What's one thing that went well", PATIENCE);
    fake.send_text(ANA, "We cooked dinner together.");
    fake.wait_for_text(ANA, before, "And one worry", PATIENCE);
    fake.send_text(ANA, "That an old message turns up.");
    fake.press_when_shown(ANA, "That's all", PATIENCE);
    let asked = fake.sent_to(ANA).len();
    fake.send_text(ANA, "/progress");
    let progress = fake.wait_for_text(ANA, asked, "Check-ins so far: 1.", PATIENCE);
    assert!(progress.text.contains("6 out of 10"), "{}", progress.text);
    // The words are the caption of the chart, a PNG that decodes to a picture.
    let chart = progress.file.expect("the chart is sent as a photo");
    assert_eq!(
        (chart.kind.as_str(), chart.name.as_str()),
        ("photo", "progress.png")
    );
    assert!(chart.bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let info = png::Decoder::new(std::io::Cursor::new(chart.bytes))
        .read_info()
        .expect("the PNG decodes");
    assert_eq!((info.info().width, info.info().height), (800, 450));
    let sent_reminders = fake
        .sent_to(ANA)
        .iter()
        .filter(|message| message.text.starts_with("Time for your check-in"))
        .count();
    assert_eq!(sent_reminders, 1, "the reminder came once");
}

#[test]
fn crisis_words_are_answered_at_once_even_past_the_flood_gate_and_with_redis_down() {
    let _machine = beside_others();
    let (fake, mut redis) = (FakeTelegram::start(), RedisServer::start());
    let bot = Bot::spawn(
        &fake,
        &redis,
        "424242:E2E",
        "info",
        &[],
        &[
            ("KINTSUGI_FLOOD_BURST", "2"),
            ("KINTSUGI_FLOOD_PER_MINUTE", "1"),
        ],
    );
    fake.send_text(ANA, "/start ground-rules");
    fake.wait_for_messages(ANA, 2, PATIENCE);
    fake.send_text(ANA, "/help");
    fake.send_text(ANA, "/help");
    fake.send_text(ANA, "/help");
    let flooded = fake.wait_for_message(ANA, 2, PATIENCE, |text| {
        text.starts_with("That's a lot of messages at once")
    });
    let seen = fake.sent_to(ANA).len();
    fake.send_text(ANA, "i want to kill myself");
    let safety = fake.wait_for_text(ANA, seen, "Thank you for telling me.", PATIENCE);
    assert!(safety.text.contains("findahelpline.com"), "{}", safety.text);
    assert!(safety.text.contains("local emergency number"));
    assert!(!flooded.text.is_empty());

    redis.stop();
    let seen = fake.sent_to(ANA).len();
    fake.send_text(ANA, "he hits me when he drinks");
    let safety = fake.wait_for_message(ANA, seen, PATIENCE, |text| {
        text.contains("hotpeachpages.net")
    });
    assert!(
        safety
            .text
            .starts_with("Thank you for trusting me with this."),
        "{}\n{}",
        safety.text,
        bot.log()
    );
}

#[test]
fn export_sends_every_answer_and_forget_leaves_nothing_of_the_person_in_redis() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    let words = "Sunday-walks-by-the-canal-1618";
    ground_rules_to_the_pause_signal(&fake, words);
    // Someone else's data must stay.
    fake.send_text(BEN, "/start ground-rules");
    fake.wait_for_messages(BEN, 2, PATIENCE);
    // A reminder is pending for Ana.
    let later = (unix_now() + 86_400).to_string();
    let _: i64 = redis.query(&["ZADD", "e2e:{reminders:2}:due", &later, &ANA.to_string()]);
    let _: i64 = redis.query(&[
        "HSET",
        "e2e:{reminders:2}:occurrence",
        &ANA.to_string(),
        &later,
    ]);

    // At rest, nothing she wrote can be read.
    redis.command(&["CONFIG", "SET", "rdbcompression", "no"]);
    redis.command(&["SAVE"]);
    let dump = std::fs::read(redis.dir().join("dump.rdb")).expect("the dump");
    assert!(
        !dump
            .windows(words.len())
            .any(|window| window == words.as_bytes()),
        "the Redis dump holds what she wrote"
    );

    let seen = fake.sent_to(ANA).len();
    fake.send_text(ANA, "/export");
    let export = fake.wait_for_message(ANA, seen, PATIENCE, |text| {
        text.starts_with("Here's everything I keep about you")
    });
    let file = export.file.expect("the export is a file");
    assert_eq!(
        (file.kind.as_str(), file.name.as_str()),
        ("document", "kintsugi-export.json")
    );
    let json: serde_json::Value = serde_json::from_slice(&file.bytes).expect("JSON");
    assert_eq!(
        json["answers"]["ground-rules"]["time_place"]["value"],
        words
    );

    let seen = fake.sent_to(ANA).len();
    fake.send_text(ANA, "/forget");
    fake.press_when_shown(ANA, "Yes, delete everything", PATIENCE);
    fake.wait_for_message(ANA, seen, PATIENCE, |text| {
        text.starts_with("Done. Everything I kept about you is deleted.")
    });
    let ana = ANA.to_string();
    let keys: Vec<String> = redis.query(&["KEYS", "*"]);
    assert!(
        keys.iter()
            .all(|key| !key.contains(&format!("{{u:{ana}}}"))),
        "{keys:?}"
    );
    assert!(keys.iter().any(|key| key.contains(&format!("{{u:{BEN}}}"))));
    for (kind, key) in [
        ("ZSCORE", "e2e:{reminders:2}:due"),
        ("HGET", "e2e:{reminders:2}:occurrence"),
        ("HGET", "e2e:{reminders:2}:sent"),
    ] {
        let left: Option<String> = redis.query(&[kind, key, &ana]);
        assert_eq!(left, None, "{key} still holds her");
    }
}

#[test]
fn an_edited_message_or_a_photo_caption_with_crisis_words_gets_the_safety_reply() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    fake.send_text(ANA, "/help");
    fake.wait_for_messages(ANA, 1, PATIENCE);
    // An ordinary edit is left alone.
    fake.edit_text(ANA, "/help please");
    fake.send_photo(ANA, "the two of us at my sister's wedding");
    let unreadable = fake.wait_for_text(ANA, 1, "I can only read words", PATIENCE);
    assert!(!unreadable.text.is_empty());
    let seen = fake.sent_to(ANA).len();
    fake.edit_text(ANA, "I want to kill myself");
    fake.wait_for_text(ANA, seen, "Thank you for telling me.", PATIENCE);
    let seen = fake.sent_to(ANA).len();
    fake.send_photo(ANA, "this is where he hits me when he drinks");
    let safety = fake.wait_for_message(ANA, seen, PATIENCE, |text| {
        text.contains("hotpeachpages.net")
    });
    assert!(!safety.text.is_empty());
    let texts = texts(&fake.sent_to(ANA)).join("\n---\n");
    assert_eq!(
        texts.matches("I can only read words").count(),
        1,
        "the edit of /help got no reply: {texts}"
    );
}

/// A flow of ten notes, each saved as written, for the replica tests: what a person's state
/// holds at the end shows which of their updates were applied, and in what order.
fn dialogues_with_ten_notes() -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("a folder");
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues");
    for entry in std::fs::read_dir(&shipped).expect("the dialogues") {
        let path = entry.expect("an entry").path();
        std::fs::copy(&path, folder.path().join(path.file_name().expect("a name")))
            .expect("a copy");
    }
    let mut flow = String::from(
        "id = \"ten-notes\"\nversion = 1\ntitle = \"Ten notes\"\nsummary = \"Ten short notes.\"\n\
         audience = [\"hurt\", \"broke_trust\", \"together\"]\nentry = \"n1\"\nstage = \"first_days\"\n",
    );
    for note in 1..=10 {
        let next = if note == 10 {
            "done".to_owned()
        } else {
            format!("n{}", note + 1)
        };
        flow.push_str(&format!(
            "\n[steps.n{note}]\nsay = \"Note {note}?\"\nask = {{ save = \"n{note}\", max_length = 100 }}\nnext = \"{next}\"\n"
        ));
    }
    flow.push_str("\n[steps.done]\nsay = \"All ten noted: {n10}.\"\nend = true\n");
    std::fs::write(folder.path().join("ten-notes.toml"), flow).expect("the flow");
    folder
}

/// A runtime for the test's own async work, and storage as the bots see it (same Redis,
/// prefix and master key) to read what they saved.
fn runtime_and_storage_of_the_bots(
    redis: &RedisServer,
) -> (tokio::runtime::Runtime, kintsugi::storage::Storage) {
    use kintsugi::storage::{RedisStore, Retention, Storage};
    use kintsugi::vault::{MasterKey, Vault};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let key = MasterKey::parse(MASTER_KEY).expect("the key");
    // The Redis client needs a runtime about it as it is made.
    let storage = {
        let _inside = runtime.enter();
        Storage::new(RedisStore::connect(&redis.url(), "e2e", Retention(None)).expect("a client"))
            .with_vault(Vault::new(key, Vec::new()).expect("a vault"))
    };
    (runtime, storage)
}

/// Replicas in webhook mode behind a round-robin poster that, like Telegram, posts an update
/// again (to the next replica) until one answers 200.
struct Replicas {
    bots: Mutex<Vec<Option<Bot>>>,
    targets: fake_telegram::WebhookTargets,
    next: std::sync::atomic::AtomicUsize,
    /// Updates a replica has answered 200 for.
    delivered: std::sync::atomic::AtomicUsize,
}

impl Replicas {
    fn start(
        count: usize,
        fake: &FakeTelegram,
        redis: &RedisServer,
        dialogues: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Replicas {
        let secret = "replica-secret_42";
        let mut bots = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..count {
            let address = format!("127.0.0.1:{}", free_port());
            let mut all_env = vec![
                ("KINTSUGI_WEBHOOK_URL", "https://bot.example/telegram"),
                ("KINTSUGI_WEBHOOK_ADDRESS", address.as_str()),
                ("KINTSUGI_WEBHOOK_SECRET", secret),
            ];
            all_env.extend_from_slice(env);
            let dialogues = dialogues.to_str().expect("a path");
            bots.push(Some(Bot::spawn(
                fake,
                redis,
                "123456:FAKE-TOKEN",
                "info",
                &["--webhook", "--dialogues", dialogues],
                &all_env,
            )));
            urls.push(format!("http://{address}/telegram"));
        }
        Replicas {
            bots: Mutex::new(bots),
            targets: fake_telegram::WebhookTargets {
                urls,
                secret: secret.to_owned(),
            },
            next: std::sync::atomic::AtomicUsize::new(0),
            delivered: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Posts `update` to the next replica, and to the next again until one has handled it.
    async fn deliver(&self, client: &reqwest::Client, update: &serde_json::Value) {
        let posted = self.targets.post_until_taken(client, &self.next, update);
        tokio::time::timeout(Duration::from_secs(60), posted)
            .await
            .expect("no replica took an update");
        self.delivered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// SIGKILLs replica `index`.
    fn kill(&self, index: usize) {
        let killed = self.bots.lock().expect("the replicas")[index].take();
        if let Some(bot) = killed {
            bot.kill();
        }
    }

    fn logs(&self) -> String {
        self.bots
            .lock()
            .expect("the replicas")
            .iter()
            .flatten()
            .map(Bot::log)
            .collect::<Vec<_>>()
            .join("\n---\n")
    }
}

/// Person `person`'s update `step` (0: opening the flow; 1 to 10: the notes), with an id that
/// grows with the step as Telegram's do.
fn note_update(person: i64, step: i64) -> serde_json::Value {
    let text = match step {
        0 => "/start ten-notes".to_owned(),
        _ => format!("p{person}-{step}"),
    };
    fake_telegram::text_update(step * 1_000_000 + person, person, &text)
}

/// People who each open the ten-notes flow and write its ten notes through `replicas`, one
/// update after the other (`pause` apart, give or take half) except notes 5 and 6, sent back
/// to back; `in_flight` posts at most.
async fn walk_ten_notes(
    replicas: &Arc<Replicas>,
    people: std::ops::Range<i64>,
    in_flight: usize,
    pause: Duration,
) {
    let client = reqwest::Client::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut walkers = tokio::task::JoinSet::new();
    for person in people {
        let (client, gate, replicas) = (client.clone(), Arc::clone(&gate), Arc::clone(replicas));
        walkers.spawn(async move {
            let mut step = 0;
            while step <= 10 {
                if step > 0 && !pause.is_zero() {
                    tokio::time::sleep(pause.mul_f64(0.5 + fastrand::f64())).await;
                }
                let _slot = gate.acquire().await.expect("the gate");
                if step == 5 {
                    let (fifth, sixth) = (note_update(person, 5), note_update(person, 6));
                    tokio::join!(
                        replicas.deliver(&client, &fifth),
                        replicas.deliver(&client, &sixth)
                    );
                    step += 2;
                } else {
                    replicas.deliver(&client, &note_update(person, step)).await;
                    step += 1;
                }
            }
        });
    }
    while let Some(walked) = walkers.join_next().await {
        walked.expect("a walker");
    }
}

/// Checks that each of `people` saved their ten notes once each and in order, and got the
/// flow's questions in order with none twice (a reply queued on a replica that was killed
/// may be missing). Returns how many of the pairs posted at once were applied the other way
/// round.
fn assert_ten_notes_applied_once_in_order(
    fake: &FakeTelegram,
    storage: &kintsugi::storage::Storage,
    runtime: &tokio::runtime::Runtime,
    people: std::ops::Range<i64>,
) -> usize {
    use kintsugi::dialogue::FlowId;
    use kintsugi::storage::PersonId;
    let flow = FlowId("ten-notes".to_owned());
    let mut swapped = 0;
    for person in people {
        let stored = runtime
            .block_on(storage.read(PersonId(person), unix_now()))
            .expect("a state");
        let notes = stored.state.answers.get(&flow).cloned().unwrap_or_default();
        let saved = |step: i64| {
            notes
                .get(&format!("n{step}"))
                .map(|answer| answer.value.clone())
        };
        let written = |step: i64| Some(format!("p{person}-{step}"));
        // Notes 5 and 6 were posted at the same moment to two replicas: each is saved once,
        // in whichever order they reached storage; every other note in its own place.
        if saved(5) == written(6) && saved(6) == written(5) {
            swapped += 1;
        } else {
            for step in [5, 6] {
                assert_eq!(saved(step), written(step), "person {person}: {notes:?}");
            }
        }
        for step in [1, 2, 3, 4, 7, 8, 9, 10] {
            assert_eq!(saved(step), written(step), "person {person}: {notes:?}");
        }
        let asked: Vec<i64> = fake
            .sent_to(person)
            .iter()
            .filter_map(|sent| {
                sent.text
                    .strip_prefix("Note ")?
                    .strip_suffix('?')?
                    .parse()
                    .ok()
            })
            .collect();
        assert!(
            asked.windows(2).all(|pair| pair[0] < pair[1]),
            "person {person} was asked {asked:?}: {:?}",
            fake.sent_to(person)
                .iter()
                .map(|sent| (sent.text.clone(), sent.at))
                .collect::<Vec<_>>()
        );
    }
    swapped
}

/// 200 people whose check-in is due now, from `first` on.
fn reminders_due_now(
    storage: &kintsugi::storage::Storage,
    runtime: &tokio::runtime::Runtime,
    first: i64,
) {
    use kintsugi::calendar::{Frequency, Schedule};
    use kintsugi::dialogue::PersonState;
    use kintsugi::storage::PersonId;
    let now = unix_now();
    let state = PersonState {
        checkin: Some(Schedule {
            frequency: Frequency::Daily,
            time: chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("a time"),
            zone: chrono_tz::Europe::Berlin,
            start: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date"),
        }),
        ..PersonState::default()
    };
    runtime.block_on(async {
        for person in first..first + 200 {
            storage
                .write(PersonId(person), &state, 0, now)
                .await
                .expect("a state");
            storage
                .reminders()
                .schedule(PersonId(person), now)
                .await
                .expect("a reminder");
        }
    });
}

/// How many check-in reminders each of the 200 people from `first` on got.
fn reminders_sent(fake: &FakeTelegram, first: i64) -> Vec<usize> {
    (first..first + 200)
        .map(|person| {
            fake.sent_to(person)
                .iter()
                .filter(|sent| sent.text.starts_with("Time for your check-in"))
                .count()
        })
        .collect()
}

#[test]
fn three_replicas_lose_no_update_and_apply_none_twice_when_one_is_killed() {
    let _machine = alone();
    // A thousand people and eleven thousand updates: a load test, so Telegram's send limits
    // are lifted on both sides (the next test keeps them).
    let fake = FakeTelegram::start_with(fake_telegram::FakeOptions {
        limits: false,
        ..fake_telegram::FakeOptions::default()
    });
    let redis = RedisServer::start();
    let dialogues = dialogues_with_ten_notes();
    let (runtime, storage) = runtime_and_storage_of_the_bots(&redis);
    const REMINDED: i64 = 100_000;
    reminders_due_now(&storage, &runtime, REMINDED);
    let replicas = Arc::new(Replicas::start(
        3,
        &fake,
        &redis,
        dialogues.path(),
        &[("KINTSUGI_SEND_LIMITS", "off")],
    ));
    let killer = {
        let replicas = Arc::clone(&replicas);
        std::thread::spawn(move || {
            while replicas.delivered.load(std::sync::atomic::Ordering::SeqCst) < 3_000 {
                std::thread::sleep(Duration::from_millis(5));
            }
            replicas.kill(1);
        })
    };
    let started = Instant::now();
    runtime.block_on(walk_ten_notes(&replicas, 1..1_001, 60, Duration::ZERO));
    let walked = started.elapsed();
    killer.join().expect("the killer");
    assert_eq!(
        replicas.delivered.load(std::sync::atomic::Ordering::SeqCst),
        11_000,
        "every update answered once by a replica"
    );
    let swapped = assert_ten_notes_applied_once_in_order(&fake, &storage, &runtime, 1..1_001);
    eprintln!("pairs posted at once that were applied the other way round: {swapped} of 1,000");
    // The reminders went out from the replicas left, each at most once.
    let deadline = Instant::now() + PATIENCE;
    while reminders_sent(&fake, REMINDED)
        .iter()
        .filter(|&&sent| sent > 0)
        .count()
        < 150
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = reminders_sent(&fake, REMINDED);
    assert!(
        sent.iter().all(|&count| count <= 1),
        "a reminder went twice: {sent:?}"
    );
    assert!(
        sent.iter().filter(|&&count| count == 1).count() >= 150,
        "{sent:?}\n{}",
        replicas.logs()
    );
    eprintln!("11,000 updates through 3 replicas (one killed) in {walked:?}");
}

#[test]
fn three_replicas_at_the_shipped_limits_keep_the_bots_send_rate_between_them() {
    let _machine = alone();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let dialogues = dialogues_with_ten_notes();
    let (runtime, storage) = runtime_and_storage_of_the_bots(&redis);
    let replicas = Arc::new(Replicas::start(3, &fake, &redis, dialogues.path(), &[]));
    // 60 people at human speed (a message every 1.5 s or so): about 40 replies a second
    // wanted, more than Telegram's 30; three replicas each keeping 25 a second would send
    // 40 and be refused; sharing one schedule, they send 25 and the rest waits its turn.
    runtime.block_on(walk_ten_notes(
        &replicas,
        1..61,
        60,
        Duration::from_millis(1500),
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    let asked = |person: i64| {
        fake.sent_to(person)
            .iter()
            .filter(|sent| sent.text.starts_with("All ten noted"))
            .count()
    };
    while (1..61).any(|person| asked(person) == 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(fake.rejected(), 0, "{}", replicas.logs());
    let swapped = assert_ten_notes_applied_once_in_order(&fake, &storage, &runtime, 1..61);
    eprintln!("pairs posted at once that were applied the other way round: {swapped} of 60");
    for person in 1..61 {
        assert_eq!(asked(person), 1, "person {person} did not get the end");
        assert_eq!(
            fake.sent_to(person).len(),
            11,
            "person {person}: one reply an update"
        );
    }
}

#[test]
fn on_a_redis_cluster_the_bot_walks_a_person_through_a_flow_and_works_her_reminder_shard() {
    let _machine = beside_others();
    let fake = FakeTelegram::start();
    // The bot's own Redis is a three-master cluster; `redis` only completes the set-up.
    let (cluster, redis) = (
        kintsugi::testkit::RedisCluster::start(),
        RedisServer::start(),
    );
    let url = cluster.url();
    let bot = Bot::spawn(
        &fake,
        &redis,
        "123456:FAKE-TOKEN",
        "info",
        &[],
        &[("REDIS_URL", url.as_str())],
    );
    ground_rules_to_the_pause_signal(&fake, "Sunday on the bench");
    let asked = fake.sent_to(ANA).len();
    fake.wait_for_text(ANA, asked - 1, "What will your pause signal be?", PATIENCE);
    // Her state lives on the node of her hash tag, sealed.
    let key = format!("e2e:{{u:{ANA}}}:state");
    let node = cluster.node_of(&key);
    let sealed: String = node.query(&["HGET", &key, "d"]);
    assert!(!sealed.contains("Sunday on the bench"));
    // A reminder due now in her shard is picked up by the scheduler.
    let now = unix_now().to_string();
    let due = "e2e:{reminders:2}:due";
    let _: i64 = cluster
        .node_of(due)
        .query(&["ZADD", due, &now, &ANA.to_string()]);
    let occurrence = "e2e:{reminders:2}:occurrence";
    let _: i64 = cluster
        .node_of(occurrence)
        .query(&["HSET", occurrence, &ANA.to_string(), &now]);
    // She has no check-in set, so the scheduler cancels it rather than send it.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left: Option<f64> = cluster
            .node_of(due)
            .query(&["ZSCORE", due, &ANA.to_string()]);
        if left.is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reminder stayed; log:\n{}",
            bot.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !fake
            .sent_to(ANA)
            .iter()
            .any(|sent| sent.text.starts_with("Time for your check-in"))
    );
    assert!(bot.log().contains("store=redis"), "{}", bot.log());
}

/// Waits for a message to `chat` containing `words` after the first `skip`, then presses
/// `label` on it.
fn press_on(fake: &FakeTelegram, chat: i64, skip: usize, words: &str, label: &str) {
    fake.wait_for_message(chat, skip, PATIENCE, |text| text.contains(words));
    fake.press_label(chat, label);
}

/// `chat` opens the shared exercise "What I need to feel safe" and reaches its question
/// (asked after the first `seen` messages).
fn to_the_shared_question(fake: &FakeTelegram, chat: i64, seen: usize) {
    fake.send_text(chat, "/start safe-this-week");
    press_on(
        fake,
        chat,
        seen,
        "You'll each answer on your own",
        "Let's begin",
    );
    fake.wait_for_message(chat, seen, PATIENCE, |text| {
        text.starts_with("What would help you feel a little safer")
    });
}

/// Walks the private check before linking with the answers that let it go ahead.
fn pass_the_private_check(fake: &FakeTelegram, chat: i64) {
    let skip = fake.sent_to(chat).len().saturating_sub(1);
    pass_the_private_check_after(fake, chat, skip);
}

/// Couples mode on Telegram, at the shipped limits:
///
/// ```text
/// Ana: /invite ... (private check) ... "open this link: https://t.me/kintsugi_test_bot?start=<token>"
/// Ben: /start <token>   [Yes, link us] ... (private check) ... "You're linked."
/// Ana gets: "Your invitation was accepted."
/// Both answer "What would help you feel a little safer" in turn; both see both answers.
/// Ben: /unlink [Yes, end the link]      Ana gets: "Your link in Kintsugi has ended."
/// ```
#[test]
fn two_partners_link_by_invitation_see_a_shared_answer_only_when_both_answered_and_unlink() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    fake.send_text(ANA, "/invite");
    pass_the_private_check(&fake, ANA);
    let card = fake.wait_for_message(ANA, 0, PATIENCE, |text| text.contains("open this link"));
    let link = card
        .text
        .split("open this link: ")
        .nth(1)
        .expect("a link")
        .trim()
        .to_owned();
    let token = link
        .strip_prefix("https://t.me/kintsugi_test_bot?start=")
        .unwrap_or_else(|| panic!("a t.me deep link: {link}"));
    assert_eq!(token.len(), 32);
    assert!(
        token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    );

    // Ben opens the deep link: Telegram sends "/start <token>".
    fake.send_text(BEN, &format!("/start {token}"));
    press_on(&fake, BEN, 0, "Never shared", "Yes, link us");
    pass_the_private_check(&fake, BEN);
    fake.wait_for_message(BEN, 0, PATIENCE, |text| text.starts_with("You're linked"));
    fake.wait_for_message(ANA, 0, PATIENCE, |text| {
        text.starts_with("Your invitation was accepted")
    });

    // Ana answers first: Ben sees nothing of her words until he has written his.
    let anas = "A text when plans change, please";
    let bens = "One evening a week with our phones away";
    let seen = fake.sent_to(ANA).len();
    to_the_shared_question(&fake, ANA, seen);
    // Her first words have a hard one for Ben in them: the notes come before anything is
    // shared, and Ben hears nothing until she has written it again.
    let bens_before = fake.sent_to(BEN).len();
    let seen = fake.sent_to(ANA).len();
    fake.send_text(ANA, "You're selfish. A text when plans change, please");
    fake.wait_for_message(ANA, seen, PATIENCE, |text| {
        text.starts_with("Before your partner reads this")
    });
    assert_eq!(
        fake.sent_to(BEN).len(),
        bens_before,
        "Ben was told something"
    );
    let seen = fake.sent_to(ANA).len();
    fake.send_text(ANA, anas);
    fake.wait_for_message(ANA, seen, PATIENCE, |text| {
        text.starts_with("Saved, privately")
    });
    let notice = fake.wait_for_message(BEN, 0, PATIENCE, |text| {
        text.starts_with("Something is waiting for you")
    });
    assert!(!notice.text.contains(anas));
    let seen_by_ben = fake.sent_to(BEN).len();
    to_the_shared_question(&fake, BEN, seen_by_ben);
    assert!(
        fake.sent_to(BEN)
            .iter()
            .all(|message| !message.text.contains(anas)),
        "Ben saw Ana's answer before writing his"
    );
    fake.send_text(BEN, bens);
    let reveal = fake.wait_for_message(BEN, seen_by_ben, PATIENCE, |text| {
        text.starts_with("You've both answered")
    });
    assert!(reveal.text.contains(&format!("Your partner wrote: {anas}")));
    assert!(reveal.text.contains(&format!("You wrote: {bens}")));
    let seen = fake.sent_to(ANA).len();
    fake.wait_for_message(ANA, seen - 1, PATIENCE, |text| {
        text.starts_with("Something is waiting for you")
    });
    fake.send_text(ANA, "/continue");
    let reveal = fake.wait_for_message(ANA, seen, PATIENCE, |text| {
        text.starts_with("You've both answered")
    });
    assert!(reveal.text.contains(&format!("Your partner wrote: {bens}")));

    // At rest, neither answer can be read.
    redis.command(&["CONFIG", "SET", "rdbcompression", "no"]);
    redis.command(&["SAVE"]);
    let dump = std::fs::read(redis.dir().join("dump.rdb")).expect("the dump");
    for words in [anas, bens, token] {
        assert!(
            !dump
                .windows(words.len())
                .any(|window| window == words.as_bytes()),
            "{words:?} is readable in the Redis dump"
        );
    }
    let pairs: Vec<String> = redis.query(&["KEYS", "e2e:{pair:*"]);
    assert_eq!(pairs.len(), 1, "{pairs:?}");

    let seen = fake.sent_to(ANA).len();
    fake.send_text(BEN, "/unlink");
    press_on(
        &fake,
        BEN,
        seen_by_ben,
        "end the link?",
        "Yes, end the link",
    );
    fake.wait_for_message(BEN, seen_by_ben, PATIENCE, |text| {
        text.starts_with("Done. The link is ended")
    });
    fake.wait_for_message(ANA, seen, PATIENCE, |text| {
        text.starts_with("Your link in Kintsugi has ended")
    });
    let pairs: Vec<String> = redis.query(&["KEYS", "e2e:{pair:*"]);
    assert!(pairs.is_empty(), "{pairs:?}");
    let invitations: Vec<String> = redis.query(&["KEYS", "e2e:{invitation:*"]);
    assert!(invitations.is_empty(), "used once: {invitations:?}");
    // Every press was answered, and nothing was refused at the shipped limits.
    assert_eq!(fake.rejected(), 0, "requests Telegram would have refused");
    let requests = fake.requests();
    let presses = requests
        .iter()
        .filter(|request| request.method == "answercallbackquery")
        .count();
    // Ana pressed 6 buttons (the check's 5, "Let's begin"), Ben 8 (also "Yes, link us" and
    // "Yes, end the link").
    assert_eq!(presses, 14, "every press answered");
}

const CAL: i64 = 6464;
const DAN: i64 = 7575;

/// Words that must never reach a partner when linking stops for someone's safety.
const REVEALING: [&str; 8] = [
    "safe", "safety", "afraid", "concern", "abuse", "hurt", "danger", "worr",
];

/// `chat` sends /invite and passes the private check; returns the invitation's token.
fn invitation_of(fake: &FakeTelegram, chat: i64) -> String {
    let skip = fake.sent_to(chat).len();
    fake.send_text(chat, "/invite");
    pass_the_private_check_after(fake, chat, skip);
    let card = fake.wait_for_message(chat, skip, PATIENCE, |text| text.contains("open this link"));
    card.text
        .rsplit('=')
        .next()
        .expect("a deep link")
        .trim()
        .to_owned()
}

/// Walks the private check (asked after the first `skip` messages) with the answers that let
/// linking go ahead: each question, or, for someone who answered them all within the day, the
/// one question whether all of it still holds.
fn pass_the_private_check_after(fake: &FakeTelegram, chat: i64, skip: usize) {
    if on_my_own_asks_again(fake, chat, skip) {
        fake.press_label(chat, "Yes, all still true");
        return;
    }
    fake.press_label(chat, "Yes");
    press_on(fake, chat, skip, "hurt you physically", "No");
    press_on(fake, chat, skip, "forced or pressured", "No");
    press_on(fake, chat, skip, "money or your phone", "No");
}

/// Answers "on my own" in the private check; returns whether the one question whether the
/// day's answers still hold came next (else "Do you feel safe" did).
fn on_my_own_asks_again(fake: &FakeTelegram, chat: i64, skip: usize) -> bool {
    press_on(
        fake,
        chat,
        skip,
        "Are you on your own",
        "Yes, I'm on my own",
    );
    let next = fake.wait_for_message(chat, skip, PATIENCE, |text| {
        text.contains("Do you feel safe") || text.contains("still true today")
    });
    next.text.contains("still true today")
}

/// `chat` opens `token`'s link, consents and passes the private check.
fn accept(fake: &FakeTelegram, chat: i64, token: &str) {
    let skip = fake.sent_to(chat).len();
    fake.send_text(chat, &format!("/start {token}"));
    press_on(fake, chat, skip, "Never shared", "Yes, link us");
    pass_the_private_check_after(fake, chat, skip);
    fake.wait_for_message(chat, skip, PATIENCE, |text| {
        text.starts_with("You're linked")
    });
}

/// What `chat` was sent after the first `skip` messages, as one text.
fn told_since(fake: &FakeTelegram, chat: i64, skip: usize) -> String {
    fake.sent_to(chat)
        .iter()
        .skip(skip)
        .map(|message| message.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Couples mode on Telegram when something is wrong:
///
/// ```text
/// Ben: /start <forged>                 -> "This invitation can't be used ..."
/// Ben: /start <a day-old invitation>   -> the same
/// Ben: (Ana's link) ... "Do you feel safe with your partner right now?" [No]
/// Ana gets: "The link couldn't be completed this time." (and not a word about why)
/// Cal: (Ana's link) ... linked; then writes of being hit
/// Ana gets: "Your link in Kintsugi has ended." (what an /unlink sends)
/// Dan: (Ana's link) ... linked; then /forget        Ana gets the same; Redis keeps nothing of Dan
/// ```
#[test]
fn couples_on_telegram_refuse_bad_links_and_stop_linking_quietly_for_safety() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let _bot = Bot::start(&fake, &redis);
    fake.send_text(BEN, &format!("/start {}", "Q".repeat(32)));
    fake.wait_for_message(BEN, 0, PATIENCE, |text| text.contains("can't be used"));

    // An invitation whose day has passed (kept as the bot keeps them, two seconds to live).
    let stale = kintsugi::storage::new_invitation_token();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store = kintsugi::storage::RedisStore::connect(
            &redis.url(),
            "e2e",
            kintsugi::storage::Retention(None),
        )
        .expect("a redis client");
        let now = unix_now();
        let invitation = kintsugi::storage::Invitation {
            inviter: ANA,
            pair: 99,
            expires: now + 2,
        };
        kintsugi::storage::Storage::new(store)
            .put_invitation(&stale, &invitation, now)
            .await
            .expect("kept");
    });
    std::thread::sleep(Duration::from_secs(3));
    let seen = fake.sent_to(BEN).len();
    fake.send_text(BEN, &format!("/start {stale}"));
    fake.wait_for_message(BEN, seen, PATIENCE, |text| text.contains("can't be used"));

    // A worrying answer in Ben's private check.
    let token = invitation_of(&fake, ANA);
    let ana_seen = fake.sent_to(ANA).len();
    let seen = fake.sent_to(BEN).len();
    fake.send_text(BEN, &format!("/start {token}"));
    press_on(&fake, BEN, seen, "Never shared", "Yes, link us");
    if on_my_own_asks_again(&fake, BEN, seen) {
        fake.press_label(BEN, "Something's changed");
    }
    press_on(&fake, BEN, seen, "Do you feel safe", "No");
    fake.wait_for_message(BEN, seen, PATIENCE, |text| {
        text.contains("leave linking aside")
    });
    fake.wait_for_message(ANA, ana_seen, PATIENCE, |text| {
        text.contains("be completed")
    });
    let told = told_since(&fake, ANA, ana_seen).to_lowercase();
    for word in REVEALING {
        assert!(!told.contains(word), "{word:?} reached Ana: {told}");
    }
    let pairs: Vec<String> = redis.query(&["KEYS", "e2e:{pair:*"]);
    assert!(pairs.is_empty(), "{pairs:?}");

    // Linked, then a sign of abuse: the link ends as an unlink would end it.
    let token = invitation_of(&fake, ANA);
    accept(&fake, CAL, &token);
    let ana_seen = fake.sent_to(ANA).len();
    fake.send_text(
        CAL,
        "He hits me when he is angry and I am scared to go home",
    );
    fake.wait_for_message(ANA, ana_seen, PATIENCE, |text| {
        text.starts_with("Your link in Kintsugi has ended")
    });
    std::thread::sleep(Duration::from_millis(500));
    let told = told_since(&fake, ANA, ana_seen).to_lowercase();
    for word in REVEALING {
        assert!(!told.contains(word), "{word:?} reached Ana: {told}");
    }
    let pairs: Vec<String> = redis.query(&["KEYS", "e2e:{pair:*"]);
    assert!(pairs.is_empty(), "{pairs:?}");

    // Linked, then /forget: unlinked first, and nothing of Dan is left.
    let token = invitation_of(&fake, ANA);
    accept(&fake, DAN, &token);
    let ana_seen = fake.sent_to(ANA).len();
    let seen = fake.sent_to(DAN).len();
    fake.send_text(DAN, "/forget");
    press_on(&fake, DAN, seen, "Delete it all?", "Yes, delete everything");
    fake.wait_for_message(ANA, ana_seen, PATIENCE, |text| {
        text.starts_with("Your link in Kintsugi has ended")
    });
    let keys: Vec<String> = redis.query(&["KEYS", "*"]);
    assert!(
        keys.iter()
            .all(|key| !key.contains(&format!("{{u:{DAN}}}")) && !key.contains("{pair:")),
        "{keys:?}"
    );
    assert_eq!(fake.rejected(), 0, "requests Telegram would have refused");
}

/// Couples mode on the embedded store (no Redis): "not yet", both answering at the same
/// moment, an agreed rule, and an unlink after which the store's file holds nothing shared.
#[test]
fn on_the_embedded_store_partners_hold_back_answer_at_once_agree_a_rule_and_unlink() {
    let _machine = beside_others();
    let (fake, redis) = (FakeTelegram::start(), RedisServer::start());
    let data = tempfile::tempdir().expect("a data folder");
    let data_dir = data.path().to_string_lossy().into_owned();
    let bot = Bot::spawn(
        &fake,
        &redis,
        "123456:FAKE-TOKEN",
        "info",
        &[],
        &[("REDIS_URL", ""), ("KINTSUGI_DATA_DIR", &data_dir)],
    );
    let token = invitation_of(&fake, ANA);
    accept(&fake, BEN, &token);

    // "Not yet": Ben answers first (the other order from the Redis test) and holds his back;
    // Ana's answer shows nothing until he is ready.
    let anas = "A-text-when-plans-change-7731";
    let bens = "One-evening-with-phones-away-7732";
    for (chat, words) in [(BEN, bens), (ANA, anas)] {
        let seen = fake.sent_to(chat).len();
        to_the_shared_question(&fake, chat, seen);
        fake.send_text(chat, words);
        if chat == BEN {
            press_on(&fake, BEN, seen, "Saved, privately", "Not yet");
            fake.wait_for_message(BEN, seen, PATIENCE, |text| text.contains("held back"));
        } else {
            fake.wait_for_message(ANA, seen, PATIENCE, |text| text.contains("isn't ready"));
        }
    }
    assert!(
        fake.sent_to(ANA)
            .iter()
            .all(|message| !message.text.contains(bens)),
        "Ana saw Ben's held answer"
    );
    let seen = fake.sent_to(BEN).len();
    fake.send_text(BEN, "/continue");
    press_on(&fake, BEN, seen, "held back", "I'm ready to see them");
    let reveal = fake.wait_for_message(BEN, seen, PATIENCE, |text| {
        text.starts_with("You've both answered")
    });
    assert!(reveal.text.contains(anas));

    // Both answer the next one at the same moment: each sees both once they come back.
    for chat in [ANA, BEN] {
        let seen = fake.sent_to(chat).len();
        fake.send_text(chat, "/start appreciated-today");
        press_on(
            &fake,
            chat,
            seen,
            "appreciated about the other",
            "Let's begin",
        );
        fake.wait_for_message(chat, seen, PATIENCE, |text| text.contains('?'));
    }
    let (ana_seen, ben_seen) = (fake.sent_to(ANA).len(), fake.sent_to(BEN).len());
    fake.send_text(ANA, "You-made-tea-8841");
    fake.send_text(BEN, "You-listened-8842");
    for (chat, seen, theirs) in [
        (ANA, ana_seen, "You-listened-8842"),
        (BEN, ben_seen, "You-made-tea-8841"),
    ] {
        fake.wait_for_message(chat, seen, PATIENCE, |text| {
            text.starts_with("Saved, privately") || text.contains(theirs)
        });
        let seen_now = fake.sent_to(chat).len();
        if !told_since(&fake, chat, seen).contains(theirs) {
            fake.send_text(chat, "/continue");
            fake.wait_for_message(chat, seen_now, PATIENCE, |text| text.contains(theirs));
        }
    }

    // A rule counts once the other accepts it.
    let seen = fake.sent_to(ANA).len();
    fake.send_text(ANA, "/rules");
    press_on(
        &fake,
        ANA,
        seen,
        "Rules you and your partner share",
        "Propose a rule",
    );
    fake.wait_for_message(ANA, seen, PATIENCE, |text| {
        text.starts_with("Write the rule")
    });
    fake.send_text(ANA, "Phones-down-at-dinner-9951");
    fake.wait_for_message(ANA, seen, PATIENCE, |text| {
        text.starts_with("Sent to your partner")
    });
    let seen = fake.sent_to(BEN).len();
    fake.send_text(BEN, "/rules");
    press_on(&fake, BEN, seen, "waiting for you", "Accept 1");
    fake.wait_for_message(BEN, seen, PATIENCE, |text| {
        text.contains("Agreed by you both:\n1. Phones-down-at-dinner-9951")
    });

    let seen = fake.sent_to(BEN).len();
    fake.send_text(ANA, "/unlink");
    press_on(&fake, ANA, 0, "end the link?", "Yes, end the link");
    fake.wait_for_message(BEN, seen, PATIENCE, |text| {
        text.starts_with("Your link in Kintsugi has ended")
    });
    assert_eq!(fake.rejected(), 0, "requests Telegram would have refused");
    bot.kill();

    // The store's file holds no pair any more, nor any trace of what was shared.
    let file = std::fs::read(data.path().join("kintsugi.redb")).expect("the store's file");
    for words in [
        anas,
        bens,
        "You-made-tea-8841",
        "Phones-down-at-dinner-9951",
        token.as_str(),
    ] {
        assert!(
            !file
                .windows(words.len())
                .any(|window| window == words.as_bytes()),
            "{words:?} is readable in the file"
        );
    }
    // Every wrapped key left anywhere in the file, freed pages included, is Ana's or Ben's
    // (each rewritten copy of their record carries the same one): the link's key, and so
    // whatever it sealed, is gone for good.
    let text = String::from_utf8_lossy(&file).into_owned();
    let wrapped: std::collections::BTreeSet<&str> = text
        .match_indices("\"key\":\"e2e:")
        .filter_map(|(at, found)| {
            let rest = &text[at + found.len()..];
            rest.split('"').next()
        })
        .collect();
    assert_eq!(wrapped.len(), 2, "wrapped keys in the file: {wrapped:?}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store =
            kintsugi::storage::EmbeddedStore::open(data.path(), kintsugi::storage::Retention(None))
                .expect("the store opens");
        let key = kintsugi::vault::MasterKey::parse(MASTER_KEY).expect("the key");
        let storage = kintsugi::storage::Storage::new(store)
            .with_vault(kintsugi::vault::Vault::new(key, Vec::new()).expect("a vault"));
        let ben = storage
            .read(kintsugi::storage::PersonId(BEN), unix_now())
            .await
            .expect("Ben's state");
        let pair = match ben.state.couple {
            Some(kintsugi::dialogue::state::Couple::Linked { pair, .. }) => pair,
            other => panic!("Ben's state names no pair: {other:?}"),
        };
        assert_eq!(
            storage
                .read_pair(kintsugi::storage::PairId(pair), unix_now())
                .await
                .expect("read"),
            None
        );
        assert!(
            storage
                .keys_of_pair(kintsugi::storage::PairId(pair), unix_now())
                .await
                .expect("keys")
                .is_empty()
        );
    });
}
