//! The real `kintsugi` binary: `check`, `graph` and a scripted `shell`, each run as a child
//! process with its settings passed through `Command::env`, never the test's own environment.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use kintsugi::dialogue::transcript::{normalize, replay};
use kintsugi::dialogue_dir::compile_dir;

const BINARY: &str = env!("CARGO_BIN_EXE_kintsugi");

/// The binary with a clean environment: no Redis, a private data folder, quiet logs.
fn kintsugi(data_dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("REDIS_URL")
        .env_remove("KINTSUGI_DIALOGUES")
        .env("KINTSUGI_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn");
    command
}

fn run_with_input(mut command: Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the kintsugi binary starts");
    let written = child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(input.as_bytes());
    // A binary that refuses to start may exit before reading its input.
    if let Err(error) = written {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    }
    child.wait_with_output().expect("the binary finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the shipped bot.toml plus `flow` as `dialogues/start.toml`, in a temporary folder.
fn folder_with(flow: &str) -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let bot =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues/bot.toml"))
            .expect("the shipped bot.toml");
    std::fs::write(
        folder.path().join("bot.toml"),
        bot.replace("start_flow = \"welcome\"", "start_flow = \"start\"")
            .lines()
            .filter(|line| !line.starts_with("menu_order"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("bot.toml written");
    std::fs::write(folder.path().join("start.toml"), flow).expect("flow written");
    folder
}

const BROKEN_FLOW: &str = r#"id = "start"
version = 1
title = "Broken"
summary = "Two problems."
audience = ["hurt", "togther"]
entry = "hello"

[steps.hello]
say = "Hi."
next = "by"

[steps.bye]
say = "Bye."
end = true
"#;

#[test]
fn check_on_the_shipped_folder_prints_one_summary_line_and_succeeds() {
    let data = tempfile::tempdir().expect("a data folder");
    let output = kintsugi(data.path())
        .arg("check")
        .output()
        .expect("check runs");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("dialogues: ")
            && stdout.contains(" flows, ")
            && stdout.contains("all good"),
        "{stdout}"
    );
}

#[test]
fn check_on_a_broken_folder_lists_every_problem_and_fails() {
    let data = tempfile::tempdir().expect("a data folder");
    let folder = folder_with(BROKEN_FLOW);
    let output = kintsugi(data.path())
        .arg("check")
        .arg(folder.path())
        .output()
        .expect("check runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let path = folder.path().join("start.toml").display().to_string();
    assert!(
        stderr.contains(&format!(
            "{path}:10:8: error: step \"hello\" goes to unknown step \"by\"\n    help: did you mean \"bye\"?"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{path}:5:21: error: \"togther\" is not a role")),
        "{stderr}"
    );
    assert!(stderr.trim_end().ends_with("problems found"), "{stderr}");
}

#[test]
fn the_shell_refuses_an_invalid_folder_with_the_same_messages() {
    let data = tempfile::tempdir().expect("a data folder");
    let folder = folder_with(BROKEN_FLOW);
    let mut command = kintsugi(data.path());
    command
        .arg("shell")
        .env("KINTSUGI_DIALOGUES", folder.path());
    let output = run_with_input(command, "hello\n");
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("goes to unknown step \"by\""), "{stderr}");
    assert!(
        text(&output.stdout).is_empty(),
        "nothing is said from a broken folder"
    );
}

#[test]
fn graph_prints_a_mermaid_flowchart_of_the_flow() {
    let data = tempfile::tempdir().expect("a data folder");
    let output = kintsugi(data.path())
        .args(["graph", "ground-rules"])
        .output()
        .expect("graph runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("flowchart TD\n"), "{stdout}");
    assert!(stdout.contains("start((start)) --> s_intro"), "{stdout}");
}

#[test]
fn graph_of_an_unknown_flow_names_the_flows_there_are() {
    let data = tempfile::tempdir().expect("a data folder");
    let output = kintsugi(data.path())
        .args(["graph", "nowhere"])
        .output()
        .expect("graph runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("there is no flow \"nowhere\""), "{stderr}");
    assert!(stderr.contains("forgiveness"), "{stderr}");
}

#[test]
fn a_piped_shell_prints_the_conversation_and_exits_cleanly_at_end_of_input() {
    let data = tempfile::tempdir().expect("a data folder");
    let mut command = kintsugi(data.path());
    command.arg("shell");
    let output = run_with_input(command, "/start ground-rules\n1\n");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("> /start ground-rules\n< Hard talks"),
        "{stdout}"
    );
    assert!(
        stdout.contains("> 1\n< First, a good time and place."),
        "{stdout}"
    );
}

#[test]
fn the_shell_picks_up_where_the_last_session_left_off() {
    let data = tempfile::tempdir().expect("a data folder");
    let mut first = kintsugi(data.path());
    first.arg("shell");
    let output = run_with_input(first, "/start ground-rules\n1\n");
    assert!(output.status.success(), "{}", text(&output.stderr));

    let mut second = kintsugi(data.path());
    second.arg("shell");
    let output = run_with_input(second, "");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(stdout.contains("When and where could that be"), "{stdout}");
    assert!(!stdout.contains("Hard talks tend to go better"), "{stdout}");
}

#[test]
fn a_recorded_shell_session_replays_exactly_against_the_engine() {
    let data = tempfile::tempdir().expect("a data folder");
    let transcript = data.path().join("recorded.txt");
    let mut command = kintsugi(data.path());
    command.arg("shell").arg("--record").arg(&transcript);
    let output = run_with_input(command, "/start ground-rules\n1\n1\nSunday, on a walk\n");
    assert!(output.status.success(), "{}", text(&output.stderr));

    let recorded = std::fs::read_to_string(&transcript).expect("the transcript was written");
    assert!(recorded.contains("> Sunday, on a walk"), "{recorded}");
    let library = compile_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues"))
        .expect("the shipped dialogues load");
    let expected = normalize(&recorded);
    assert_eq!(normalize(&replay(&library, &expected)), expected);
}

#[test]
fn the_load_tool_measures_kintsugi_beside_the_baseline() {
    let output = Command::new(env!("CARGO_BIN_EXE_kintsugi-load"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("KINTSUGI_DIALOGUES")
        .env("RUST_LOG", "warn")
        .args(["--people", "4", "--pace-ms", "0", "--seconds", "1"])
        .output()
        .expect("the load tool runs");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    let row = |bot: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|line| line.starts_with(bot))
            .unwrap_or_else(|| panic!("no {bot} row in:\n{stdout}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    for bot in ["baseline", "kintsugi"] {
        let updates: f64 = row(bot)[1].parse().expect("updates per second");
        assert!(updates > 0.0, "{stdout}");
    }
    // With pacing on (scaled): one Redis round trip per update to write it once a person's
    // state is remembered (two before: a read and a compare-and-set), and none for the send
    // turns: the bot is the only sender, so the bot's schedule is its own (reserving a
    // step's turns on the shared schedule made it about two).
    let commands: f64 = row("kintsugi")[5]
        .parse()
        .expect("redis commands per update");
    assert!((1.0..=1.5).contains(&commands), "{stdout}");
    // Memory: the peak, and the process's own share of what is resident at the end.
    let peak: f64 = row("kintsugi")[6].parse().expect("peak memory");
    let anonymous: f64 = row("kintsugi")[7].parse().expect("anonymous memory");
    assert!(anonymous > 0.0 && anonymous < peak, "{stdout}");
    // Every reply the engine's shadow foresaw came, typed words and all.
    assert_eq!(row("kintsugi")[8], "0", "{stdout}");
    assert!(
        stdout.contains("of the baseline's updates per second"),
        "{stdout}"
    );
}

#[test]
fn screen_prints_one_verdict_per_message() {
    let data = tempfile::tempdir().expect("a temporary folder");
    let output = run_with_input(
        {
            let mut command = kintsugi(data.path());
            command.arg("screen");
            command
        },
        "We talked for an hour tonight.\nI want to kill myself\nthis is killing me, waiting for her reply\nhe hits me when he drinks\n",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "ok\nself-harm\nok\nabuse\n");
}

#[test]
fn keygen_prints_a_key_the_bot_accepts() {
    let data = tempfile::tempdir().expect("a temporary folder");
    let output = kintsugi(data.path())
        .args(["keygen", "--id", "k7"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let key = text(&output.stdout);
    let key = key.trim();
    assert!(key.starts_with("k7:"), "{key}");
    kintsugi::vault::MasterKey::parse(key).expect("a usable key");
}

#[test]
fn telegram_mode_refuses_to_start_without_a_master_key() {
    let data = tempfile::tempdir().expect("a temporary folder");
    let output = kintsugi(data.path())
        .arg("run")
        .env("TELOXIDE_TOKEN", "123:fake")
        .env_remove("KINTSUGI_MASTER_KEY")
        .env_remove("KINTSUGI_ALLOW_UNENCRYPTED")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let error = text(&output.stderr);
    assert!(
        error.contains("KINTSUGI_MASTER_KEY is not set") && error.contains("kintsugi keygen"),
        "{error}"
    );
}

#[test]
fn run_help_lists_every_setting_of_the_env_example_with_its_default() {
    let directory = tempfile::tempdir().expect("a temporary folder");
    let output = kintsugi(directory.path())
        .args(["run", "--help"])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let help = text(&output.stdout);
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".env.example"))
            .expect("the .env.example");
    let names: Vec<&str> = example
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .filter(|name| !name.is_empty() && *name != "RUST_LOG")
        .collect();
    assert!(names.len() >= 19, "{names:?}");
    for name in names {
        assert!(
            help.contains(&format!("[env: {name}")),
            "{name} is not in --help"
        );
    }
    assert!(help.contains("[default: 180]"), "{help}");
}

#[test]
fn blank_settings_mean_their_defaults_and_a_bad_one_is_a_precise_error() {
    let directory = tempfile::tempdir().expect("a temporary folder");
    let output = kintsugi(directory.path())
        .arg("check")
        .env("KINTSUGI_DIALOGUES", "")
        .env("KINTSUGI_RETENTION_DAYS", " ")
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = kintsugi(directory.path())
        .arg("check")
        .env("KINTSUGI_FLOOD_BURST", "lots")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("invalid value 'lots' for '--flood-burst <FLOOD_BURST>'"),
        "{}",
        text(&output.stderr)
    );
}

/// A shell kept running, whose output is read as it comes.
struct LiveShell {
    child: std::process::Child,
    output: std::sync::Arc<std::sync::Mutex<String>>,
}

impl LiveShell {
    fn start(mut command: Command) -> LiveShell {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the kintsugi binary starts");
        let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stdout = child.stdout.take().expect("a stdout pipe");
        let collected = std::sync::Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buffer = [0_u8; 4096];
            while let Ok(read) = std::io::Read::read(&mut stdout, &mut buffer) {
                if read == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buffer[..read]).into_owned();
                collected.lock().expect("the output").push_str(&text);
            }
        });
        LiveShell { child, output }
    }

    fn send(&mut self, lines: &str) {
        let stdin = self.child.stdin.as_mut().expect("a stdin pipe");
        stdin.write_all(lines.as_bytes()).expect("written");
        stdin.flush().expect("flushed");
    }

    /// Waits (up to 20 s) until the output after `from` holds `words`; returns the output.
    fn wait_for(&self, from: usize, words: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let output = self.output.lock().expect("the output").clone();
            if output
                .get(from..)
                .is_some_and(|after| after.contains(words))
            {
                return output;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{words:?} never came; the shell said:\n{output}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn len(&self) -> usize {
        self.output.lock().expect("the output").len()
    }
}

#[test]
fn two_shells_side_by_side_link_reveal_a_shared_answer_and_unlink() {
    let data = tempfile::tempdir().expect("a temporary folder");
    let shell_as = |person: &str| {
        let mut command = kintsugi(data.path());
        command.args(["shell", "--as", person]);
        command
    };
    let mut ana = LiveShell::start(shell_as("1"));
    // The welcome (the one hurt, feels safe, three "No"s), then /invite and its private check.
    ana.send("/start\n1\n1\n1\n1\n1\n/invite\n1\n1\n1\n1\n1\n");
    let output = ana.wait_for(0, "open this link: /start ");
    let token: String = output
        .split("open this link: /start ")
        .nth(1)
        .expect("a link")
        .chars()
        .take(32)
        .collect();

    let ben = run_with_input(
        shell_as("2"),
        &format!("/start {token}\n1\n1\n1\n1\n1\n1\n"),
    );
    assert!(
        text(&ben.stdout).contains("You're linked"),
        "{}{}",
        text(&ben.stdout),
        text(&ben.stderr)
    );
    ana.wait_for(
        0,
        "(from Kintsugi, about your partner) Your invitation was accepted",
    );

    let mark = ana.len();
    ana.send("/start safe-this-week\n1\nA text when plans change\n");
    ana.wait_for(mark, "Saved, privately");
    let ben = run_with_input(
        shell_as("2"),
        "/start safe-this-week\n1\nOne evening with our phones away\n",
    );
    let said = text(&ben.stdout);
    assert!(
        said.contains("Your partner wrote: A text when plans change"),
        "{said}{}",
        text(&ben.stderr)
    );
    ana.wait_for(
        mark,
        "(from Kintsugi, about your partner) Something is waiting",
    );
    let mark = ana.len();
    ana.send("/continue\n");
    ana.wait_for(mark, "Your partner wrote: One evening with our phones away");

    let ben = run_with_input(shell_as("2"), "/unlink\n1\n");
    assert!(
        text(&ben.stdout).contains("The link is ended"),
        "{}{}",
        text(&ben.stdout),
        text(&ben.stderr)
    );
    ana.wait_for(
        mark,
        "(from Kintsugi, about your partner) Your link in Kintsugi has ended",
    );
    drop(ana.child.stdin.take());
    let status = ana.child.wait().expect("the shell ends");
    assert!(status.success());
}
