//! Diagnostics for the authors of the flow files and the pattern file: where a problem is
//! (file, line, column), what is wrong in the author's words, how to fix it, and the closest
//! known name when one is misspelt. Pure: it formats, it never prints.

use std::fmt;
use std::ops::Range;

/// One problem found in a dialogue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
    pub severity: Severity,
}

/// Whether a problem stops the folder from loading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Severity {
    /// The folder is refused until it is fixed.
    #[default]
    Error,
    /// Probably a mistake, worth a look; the folder still loads.
    Warning,
}

impl Diagnostic {
    /// Builds a diagnostic located at the start of `span` within `source`.
    pub fn at(path: &str, source: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let (line, column) = line_and_column(source, span.start);
        Diagnostic {
            path: path.to_owned(),
            line,
            column,
            message: message.into(),
            help: None,
            severity: Severity::Error,
        }
    }

    /// Makes this a warning: worth a look, but the folder still loads.
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Adds a hint on how to fix the problem.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.path,
            self.line,
            self.column,
            match self.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n    help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found, sorted by file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn sorted(mut list: Vec<Diagnostic>) -> Self {
        list.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        list.dedup();
        Diagnostics(list)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.0 {
            writeln!(f, "{diagnostic}")?;
        }
        let count = self.0.len();
        write!(
            f,
            "{count} problem{} found",
            if count == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for Diagnostics {}

/// Turns a byte offset into a 1-based line and a 1-based column in characters.
pub(crate) fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(source: &str, mut offset: usize) -> usize {
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The closest candidate to `wanted`, if one is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Jaro-Winkler catches long names with a changed ending (`let_go`, `letting_go`); one
    // edit or swapped pair (`sya`, `say`) is what short names get wrong, and Jaro misses it.
    candidates
        .into_iter()
        .map(|candidate| {
            let one_edit = strsim::osa_distance(wanted, candidate) <= 1;
            (one_edit, strsim::jaro_winkler(wanted, candidate), candidate)
        })
        .filter(|(one_edit, score, _)| *one_edit || *score >= 0.8)
        .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, _, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let source = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_and_column(source, 0), (1, 1));
        assert_eq!(line_and_column(source, 6), (2, 1));
        // "bé = " is 6 bytes but 5 characters.
        assert_eq!(line_and_column(source, 7 + 5), (2, 6));
    }

    #[test]
    fn close_typos_are_suggested_and_strangers_are_not() {
        let steps = ["intro", "feel", "release", "letting_go"];
        assert_eq!(did_you_mean("let_go", steps), Some("letting_go"));
        assert_eq!(did_you_mean("zebra", steps), None);
        assert_eq!(did_you_mean("sya", ["say", "next", "save"]), Some("say"));
    }

    #[test]
    fn display_puts_location_first_and_help_below() {
        let diagnostic = Diagnostic {
            path: "dialogues/forgiveness.toml".to_owned(),
            line: 13,
            column: 8,
            message: "step \"release\" goes to unknown step \"let_go\"".to_owned(),
            help: Some("did you mean \"letting_go\"?".to_owned()),
            severity: Severity::Error,
        };
        assert_eq!(
            diagnostic.to_string(),
            "dialogues/forgiveness.toml:13:8: error: step \"release\" goes to unknown step \"let_go\"\n    help: did you mean \"letting_go\"?"
        );
    }
}
