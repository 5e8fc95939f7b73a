//! Reads the dialogue folder from disk and hands the text to the pure compiler
//! (`dialogue::compile`). The only code that reads flow files.

use std::path::Path;

use crate::diagnostics::Severity;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::dialogue::compile::CRISIS_FILE;
use crate::dialogue::compile::{Options, compile_with};
use crate::dialogue::{Library, SourceFile};

/// Reads every `*.toml` file in `directory` (not its subfolders), sorted by name.
pub fn read(directory: &Path) -> Result<Vec<SourceFile>, Diagnostics> {
    let problem = |message: String, help: &str| {
        Diagnostics(vec![Diagnostic {
            path: directory.display().to_string(),
            line: 1,
            column: 1,
            message,
            help: Some(help.to_owned()),
            severity: Severity::Error,
        }])
    };
    let entries = std::fs::read_dir(directory).map_err(|error| {
        problem(
            format!("cannot read the dialogue folder: {error}"),
            "run from the project folder, or set KINTSUGI_DIALOGUES to the folder of flow files",
        )
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push(SourceFile {
                path: path.display().to_string(),
                text,
            }),
            Err(error) => problems.push(Diagnostic {
                path: path.display().to_string(),
                line: 1,
                column: 1,
                message: format!("cannot read this file: {error}"),
                help: Some("save it as UTF-8 text".to_owned()),
                severity: Severity::Error,
            }),
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(Diagnostics::sorted(problems))
    }
}

/// Reads and validates the dialogue folder, which must screen for crisis language, with the
/// default options.
pub fn compile_dir(directory: &Path) -> Result<Library, Diagnostics> {
    compile_dir_with(directory, Options::default())
}

/// [`compile_dir`] with the configured `options`.
pub fn compile_dir_with(directory: &Path, options: Options) -> Result<Library, Diagnostics> {
    let files = read(directory)?;
    let library = compile_with(&files, options)?;
    if library.screen.is_none() {
        return Err(Diagnostics(vec![Diagnostic {
            path: directory.join(CRISIS_FILE).display().to_string(),
            line: 1,
            column: 1,
            message: format!(
                "the folder has no {CRISIS_FILE}: every message must be screened for crisis language before anything else"
            ),
            help: Some(format!(
                "copy {CRISIS_FILE} from the project's dialogues/ folder"
            )),
            severity: Severity::Error,
        }]));
    }
    Ok(library)
}
