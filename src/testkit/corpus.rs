//! Reads a labelled corpus folder (`corpus/safety/train/`, `corpus/safety/held-out/`) from
//! disk, for the tests, benchmarks, training example and load tool that need its messages:
//! every `.jsonl` file in name order, each parsed by [`training::parse_corpus`] with the
//! file's name as its writer.

use std::path::Path;

use crate::safety::training::{self, Example};

/// A corpus folder as read.
#[derive(Debug, Clone)]
pub struct CorpusFolder {
    /// Each `.jsonl` file's name and bytes, in name order (for a model's fingerprint).
    pub files: Vec<(String, Vec<u8>)>,
    /// Every message of every file, in that order.
    pub examples: Vec<Example>,
}

/// Reads every `.jsonl` file of `folder`; a problem is named by file (and line).
pub fn read_corpus(folder: &Path) -> Result<CorpusFolder, String> {
    let unreadable =
        |path: &Path, error: std::io::Error| format!("cannot read {}: {error}", path.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(|error| unreadable(folder, error))? {
        let path = entry.map_err(|error| unreadable(folder, error))?.path();
        if path.extension().is_some_and(|ext| ext == "jsonl") {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).map_err(|error| unreadable(&path, error))?;
            files.push((name, bytes));
        }
    }
    files.sort();
    let mut examples = Vec::new();
    for (name, bytes) in &files {
        let text = std::str::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8"))?;
        examples.extend(training::parse_corpus(name, text)?);
    }
    Ok(CorpusFolder { files, examples })
}

/// The folder `corpus/safety/<split>` of this checkout, read; panics (for tests and
/// benchmarks) with the problem.
pub fn safety_split(split: &str) -> CorpusFolder {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus/safety")
        .join(split);
    read_corpus(&folder).unwrap_or_else(|problem| panic!("{problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_read_in_name_order_and_a_bad_line_is_named() {
        let folder = tempfile::tempdir().expect("a folder");
        let line =
            |label: &str, text: &str| format!("{{\"label\":\"{label}\",\"text\":\"{text}\"}}\n");
        std::fs::write(folder.path().join("b.jsonl"), line("none", "second")).expect("written");
        std::fs::write(folder.path().join("a.jsonl"), line("self-harm", "first")).expect("written");
        std::fs::write(folder.path().join("notes.md"), "not a corpus file").expect("written");
        let read = read_corpus(folder.path()).expect("read");
        let texts: Vec<(&str, &str)> = read
            .examples
            .iter()
            .map(|example| (example.group.as_str(), example.text.as_str()))
            .collect();
        assert_eq!(texts, [("a.jsonl", "first"), ("b.jsonl", "second")]);
        assert_eq!(read.files.len(), 2);

        std::fs::write(folder.path().join("c.jsonl"), "{not json\n").expect("written");
        let problem = read_corpus(folder.path()).expect_err("a bad line");
        assert!(problem.starts_with("c.jsonl:1"), "{problem}");
        let missing = read_corpus(&folder.path().join("gone")).expect_err("no folder");
        assert!(missing.starts_with("cannot read"), "{missing}");
    }
}
