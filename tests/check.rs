//! The compiler's diagnostics, as fixtures: each folder of `tests/fixtures/check/` holds the
//! dialogue files of one case (under `dialogues/`) beside `expected.txt`, exactly what an
//! author sees from `kintsugi check`: `path:line:col: error|warning: message`, with
//! `    help: ...` below when there is a hint, then `ok: N flows` when the folder compiles.
//!
//! A case without a `dialogues/bot.toml` gets a valid one that starts flow `start` and holds
//! every message the bot uses; `bot-extra.toml` is appended to it; an empty `no-bot-toml` file
//! leaves it out. Adding a diagnostic means adding one folder. `KINTSUGI_BLESS=1 cargo test
//! --test check` rewrites every `expected.txt` from what the compiler now says (read the diff
//! before committing it).

use std::path::{Path, PathBuf};

use kintsugi::dialogue::model::BOT_MESSAGES;
use kintsugi::dialogue::{SourceFile, compile};

/// A valid `bot.toml` whose `/start` opens flow `start`, with every message the bot uses.
fn bot_toml() -> String {
    let mut text = "start_flow = \"start\"\n\n[messages]\n".to_owned();
    for (key, _) in BOT_MESSAGES {
        text.push_str(&format!("{key} = \"The {key} message.\"\n"));
    }
    text
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("the fixtures folder")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}

/// The files of one case, as the compiler gets them.
fn files_of(case: &Path) -> Vec<SourceFile> {
    let mut files = Vec::new();
    let folder = case.join("dialogues");
    if let Ok(entries) = std::fs::read_dir(&folder) {
        for entry in entries {
            let path = entry.expect("an entry").path();
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            files.push(SourceFile {
                path: format!("dialogues/{name}"),
                text: std::fs::read_to_string(&path).expect("a UTF-8 file"),
            });
        }
    }
    let has_bot = files.iter().any(|file| file.path == "dialogues/bot.toml");
    if !has_bot && !case.join("no-bot-toml").exists() {
        let extra = std::fs::read_to_string(case.join("bot-extra.toml")).unwrap_or_default();
        files.push(SourceFile {
            path: "dialogues/bot.toml".to_owned(),
            text: bot_toml() + &extra,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// What `kintsugi check` tells the author about `files`.
fn report(files: &[SourceFile]) -> String {
    match compile(files) {
        Ok(library) => {
            let mut out: String = library
                .warnings
                .iter()
                .map(|warning| format!("{warning}\n"))
                .collect();
            let count = library.flows.len();
            let flows = if count == 1 { "flow" } else { "flows" };
            out.push_str(&format!("ok: {count} {flows}\n"));
            out
        }
        Err(diagnostics) => diagnostics
            .0
            .iter()
            .map(|diagnostic| format!("{diagnostic}\n"))
            .collect(),
    }
}

#[test]
fn every_case_reports_exactly_what_its_expected_file_says() {
    let bless = std::env::var_os("KINTSUGI_BLESS").is_some();
    let cases = cases();
    assert!(cases.len() >= 45, "only {} cases", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let actual = report(&files_of(case));
        let expected_path = case.join("expected.txt");
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            if bless {
                std::fs::write(&expected_path, &actual).expect("write expected.txt");
            } else {
                let diff = similar::TextDiff::from_lines(&expected, &actual)
                    .unified_diff()
                    .header("expected.txt", "the compiler now")
                    .to_string();
                wrong.push(format!(
                    "{}:\n{diff}",
                    case.file_name().expect("a name").to_string_lossy()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ (KINTSUGI_BLESS=1 rewrites them):\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_case_has_an_expected_file_and_something_to_compile() {
    for case in cases() {
        assert!(case.join("expected.txt").exists(), "{}", case.display());
        assert!(!files_of(&case).is_empty(), "{}", case.display());
    }
}

#[test]
fn the_real_dialogue_folder_compiles_with_no_errors() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues");
    match kintsugi::dialogue_dir::compile_dir(&folder) {
        Ok(library) => {
            assert!(library.flow("welcome").is_some());
            assert!(library.flow("forgiveness").is_some());
            assert!(library.flow("ground-rules").is_some());
        }
        Err(diagnostics) => panic!("dialogues/ has problems:\n{diagnostics}"),
    }
}
