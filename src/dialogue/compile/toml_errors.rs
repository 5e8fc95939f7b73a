//! A TOML syntax or shape error, as a diagnostic with its line and column.

use crate::diagnostics::{Diagnostic, did_you_mean};
use crate::dialogue::source::SourceFile;

/// Rewords a TOML or shape error in the author's terms, with a hint where one helps.
pub(super) fn toml_problem(file: &SourceFile, error: &toml::de::Error) -> Diagnostic {
    let span = error.span().unwrap_or(0..0);
    let message = error.message().trim().to_owned();
    let mut diagnostic = Diagnostic::at(&file.path, &file.text, span, message.clone());
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        let allowed: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        diagnostic.message = format!("unknown field `{field}`");
        let list = allowed.join(", ");
        diagnostic = match did_you_mean(field, allowed.iter().copied()) {
            Some(close) => diagnostic.help(format!(
                "did you mean `{close}`? fields allowed here: {list}"
            )),
            None => diagnostic.help(format!("fields allowed here: {list}")),
        };
    } else if message == "duplicate key" {
        diagnostic = diagnostic
            .help("this name is written twice in the same table: rename one or merge the two");
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        diagnostic.message = format!("missing field `{field}`");
        diagnostic = diagnostic.help(format!(
            "add `{field} = ...` here (see dialogues/FORMAT.md)"
        ));
    }
    diagnostic
}
