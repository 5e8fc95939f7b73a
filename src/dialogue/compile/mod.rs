//! Compiles the text of the dialogue files into a validated `Library`, or reports every
//! problem at once, like a compiler. Pure: the caller reads the files; this module never
//! touches the disk. The parts: `bot` (bot.toml), `faq` (faq.toml), `flows`, `steps` and
//! `asks` (flow files), `analysis` (a flow's graph), `style` (warnings: allowed but unwise),
//! `toml_errors` (syntax errors).

mod analysis;
mod asks;
mod bot;
mod faq;
mod flows;
mod steps;
mod style;
mod toml_errors;

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use toml::Spanned;

use self::analysis::unsaved_from;
use self::bot::check_bot;
use self::faq::check_faq;
use self::toml_errors::toml_problem;
use super::model::{DEFAULT_RETENTION_DAYS, Faq, Library, Stage};
use super::review::{Phrase, Words};
use super::source::{BotFile, FaqFile, FlowFile, SourceFile};
use crate::diagnostics::{Diagnostic, Diagnostics, Severity, did_you_mean};
use crate::safety::{BuildError, CrisisScreen};

/// The file that holds the bot's own messages rather than a flow.
pub(crate) const BOT_FILE: &str = "bot.toml";
/// The file that holds the FAQ and the key takeaways.
pub(crate) const FAQ_FILE: &str = "faq.toml";
/// The file that holds the crisis-language patterns every message is screened with.
pub(crate) const CRISIS_FILE: &str = "crisis-language.toml";

/// Telegram refuses a message longer than this.
pub(crate) const MAX_MESSAGE_LENGTH: usize = 4096;
/// More buttons than this crowd a phone screen.
pub(crate) const MAX_CHOICES: usize = 8;
/// A longer label is cut off on a phone's button.
pub(crate) const MAX_LABEL_LENGTH: usize = 40;
/// Flow ids and choice ids travel in button data; this keeps them short.
pub(crate) const MAX_ID_LENGTH: usize = 32;
/// The default and the largest limit on a typed answer, in characters.
pub(crate) const DEFAULT_MAX_ANSWER: usize = 1000;
pub(crate) const LARGEST_MAX_ANSWER: usize = 3000;

/// What the operator configured that the compiled library carries (the flow files do not say
/// it): how long data is kept, which `/privacy` tells people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Days without a visit after which a person's data expires; `None`: until deleted.
    pub retention_days: Option<u64>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            retention_days: Some(DEFAULT_RETENTION_DAYS),
        }
    }
}

/// Compiles and validates every file, with the default options. `files` holds flows and
/// exactly one `bot.toml`.
pub fn compile(files: &[SourceFile]) -> Result<Library, Diagnostics> {
    compile_with(files, Options::default())
}

/// [`compile`] with the configured `options`.
pub(crate) fn compile_with(files: &[SourceFile], options: Options) -> Result<Library, Diagnostics> {
    // Compiling the crisis patterns is the slowest part: it runs on a thread of
    // its own while the flows are checked.
    std::thread::scope(|scope| {
        let crisis = files
            .iter()
            .find(|file| is_named(&file.path, CRISIS_FILE))
            .map(|file| (file, scope.spawn(|| build_screen(&file.text))));
        compile_with_screen(files, options, move || {
            crisis.map(|(file, compiling)| {
                let compiled = compiling.join().unwrap_or_else(|_| {
                    Err(vec![crate::safety::ScreenError {
                        span: 0..0,
                        message: "compiling the patterns failed unexpectedly".to_owned(),
                        help: None,
                    }])
                });
                (file, compiled)
            })
        })
    })
}

/// The crisis screen from the pattern file's source, its problems as the file's diagnostics.
fn build_screen(source: &str) -> Result<CrisisScreen, Vec<crate::safety::ScreenError>> {
    CrisisScreen::parse(source).map_err(|error| match error {
        BuildError::Patterns(problems) => problems,
        BuildError::Model(error) => vec![crate::safety::ScreenError {
            span: 0..0,
            message: error.to_string(),
            help: Some(
                "the model in models/ is built into the binary: retrain it with                  tools/screen-model/train and rebuild"
                    .to_owned(),
            ),
        }],
    })
}

type CompiledScreen<'a> = (
    &'a SourceFile,
    Result<CrisisScreen, Vec<crate::safety::ScreenError>>,
);

/// `compile`, with the crisis screen compiled by `screen`, asked for once the flows are checked.
fn compile_with_screen<'a>(
    files: &'a [SourceFile],
    options: Options,
    screen: impl FnOnce() -> Option<CompiledScreen<'a>>,
) -> Result<Library, Diagnostics> {
    let mut problems = Vec::new();
    let mut parsed_flows = Vec::new();
    let mut bot = None;
    let mut broken_flow_files = 0;

    let mut parsed_faq = None;
    for file in files {
        if is_named(&file.path, CRISIS_FILE) {
            // Compiled on its own thread; collected below.
        } else if is_named(&file.path, FAQ_FILE) {
            match toml::from_str::<FaqFile>(&file.text) {
                // Checked once the flow ids are known: an answer may offer flows.
                Ok(parsed) => parsed_faq = Some((file, parsed)),
                Err(error) => problems.push(toml_problem(file, &error)),
            }
        } else if is_named(&file.path, BOT_FILE) {
            match toml::from_str::<BotFile>(&file.text) {
                Ok(parsed) => bot = Some((file, parsed)),
                Err(error) => problems.push(toml_problem(file, &error)),
            }
        } else {
            match toml::from_str::<FlowFile>(&file.text) {
                Ok(parsed) => parsed_flows.push((file, parsed)),
                Err(error) => {
                    broken_flow_files += 1;
                    problems.push(toml_problem(file, &error));
                }
            }
        }
    }

    // Flow ids first: jumps and suggestions in any file may refer to any flow.
    let mut flow_ids: HashMap<String, (&SourceFile, Range<usize>)> = HashMap::new();
    for (file, flow) in &parsed_flows {
        let id = flow.id.get_ref();
        if let Some((first, span)) = flow_ids.get(id) {
            let (line, _) = crate::diagnostics::line_and_column(&first.text, span.start);
            problems.push(
                Diagnostic::at(
                    &file.path,
                    &file.text,
                    flow.id.span(),
                    format!("two flows have the id \"{id}\""),
                )
                .help(format!(
                    "the other is in {}:{line}; give this one another id",
                    first.path
                )),
            );
        } else {
            flow_ids.insert(id.clone(), (*file, flow.id.span()));
        }
    }
    let known_flows = KnownFlows {
        ids: flow_ids.keys().map(String::as_str).collect(),
        saves: parsed_flows
            .iter()
            .map(|(_, flow)| (flow.id.get_ref().as_str(), saved_in(flow)))
            .collect(),
        // A flow named in a file that did not parse may well exist: reporting it as unknown
        // would only bury the real problem, the broken file, under echoes of it.
        complete: broken_flow_files == 0,
    };

    let faq = match parsed_faq {
        Some((file, parsed)) => check_faq(file, parsed, &known_flows, &mut problems),
        None => Faq::default(),
    };

    let mut flows = Vec::new();
    for (file, flow) in &parsed_flows {
        let mut checker = FlowChecker {
            file,
            known_flows: &known_flows,
            problems: Vec::new(),
            warnings: Vec::new(),
        };
        if let Some(flow) = checker.check(flow) {
            flows.push(flow);
        }
        problems.extend(checker.problems);
        problems.extend(checker.warnings);
    }

    let screen = match screen() {
        Some((_, Ok(parsed))) => Some(parsed),
        Some((file, Err(errors))) => {
            problems.extend(errors.into_iter().map(|error| {
                let diagnostic = Diagnostic::at(&file.path, &file.text, error.span, error.message);
                match error.help {
                    Some(help) => diagnostic.help(help),
                    None => diagnostic,
                }
            }));
            None
        }
        None => None,
    };

    let bot = match bot {
        Some((file, parsed)) => check_bot(file, parsed, &known_flows, &flows, &mut problems),
        None => {
            let folder = files
                .first()
                .and_then(|file| std::path::Path::new(&file.path).parent())
                .unwrap_or_else(|| std::path::Path::new(""));
            problems.push(Diagnostic {
                path: folder.join(BOT_FILE).display().to_string(),
                line: 1,
                column: 1,
                message: format!(
                    "the folder has no {BOT_FILE}, which holds the bot's own messages"
                ),
                help: Some(format!(
                    "copy {BOT_FILE} from the project's dialogues/ folder"
                )),
                severity: Severity::Error,
            });
            None
        }
    };

    if problems
        .iter()
        .any(|problem| problem.severity == Severity::Error)
    {
        return Err(Diagnostics::sorted(problems));
    }
    let Some((bot, menu_order)) = bot else {
        // Unreachable in practice: a missing or broken bot file always adds a problem above.
        return Err(Diagnostics::sorted(problems));
    };
    // The path's order: by stage (flows for any time last), then `menu_order`, then id.
    flows.sort_by_key(|flow| {
        let rank = menu_order.iter().position(|id| *id == flow.id.0);
        (
            flow.stage.map_or(Stage::ALL.len(), |stage| stage as usize),
            rank.unwrap_or(usize::MAX),
            flow.id.clone(),
        )
    });
    let mut library = Library::new(flows, bot, faq, screen, options.retention_days);
    library.warnings = Diagnostics::sorted(problems).0;
    Ok(library)
}

/// Words in a button's label that say the person is afraid, threatened, controlled or
/// pressured: such a button should mark a safety concern.
const FEAR_WORDS: [&str; 10] = [
    "afraid",
    "scared",
    "fear*",
    "frighten*",
    "threat*",
    "control*",
    "unsafe",
    "pressured",
    "forced",
    "abus*",
];

/// Whether a button's label speaks of fear, threats or control.
pub(super) fn speaks_of_fear(label: &str) -> bool {
    let words = Words::of(label);
    FEAR_WORDS
        .iter()
        .filter_map(|word| Phrase::parse(word))
        .any(|phrase| words.mention(&phrase))
}

pub(super) fn is_named(path: &str, file_name: &str) -> bool {
    std::path::Path::new(path)
        .file_name()
        .is_some_and(|name| name == file_name)
}

/// The ids of the flows that parsed, for checking the references between flows.
struct KnownFlows<'a> {
    ids: Vec<&'a str>,
    /// The answers each flow saves, by flow id, as its file names them.
    saves: HashMap<&'a str, BTreeSet<&'a str>>,
    /// False when some flow file did not parse, so its id is not known.
    complete: bool,
}

impl KnownFlows<'_> {
    /// True when `id` names no flow, as far as can be told.
    fn lacks(&self, id: &str) -> bool {
        self.complete && !self.ids.contains(&id)
    }

    /// Adds the flows there are, and the closest one to `wanted`, to `diagnostic`.
    fn suggest(&self, diagnostic: Diagnostic, wanted: &str) -> Diagnostic {
        let mut sorted = self.ids.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return diagnostic.help("no flow loaded: add a flow file beside this one");
        }
        match did_you_mean(wanted, sorted.iter().copied()) {
            Some(close) => diagnostic.help(format!(
                "did you mean \"{close}\"? flows: {}",
                sorted.join(", ")
            )),
            None => diagnostic.help(format!("flows: {}", sorted.join(", "))),
        }
    }
}

/// The answers a flow file's steps save, by name.
fn saved_in(flow: &FlowFile) -> BTreeSet<&str> {
    flow.steps
        .values()
        .flat_map(|step| {
            let step = step.get_ref();
            let asked = step.ask.as_ref().map(|ask| ask.get_ref().save.get_ref());
            step.save
                .as_ref()
                .map(Spanned::get_ref)
                .into_iter()
                .chain(asked)
        })
        .map(String::as_str)
        .collect()
}

pub(super) fn is_flow_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LENGTH
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(super) fn is_step_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LENGTH
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks one flow file, collecting every problem; returns the flow when there are none.
struct FlowChecker<'a> {
    file: &'a SourceFile,
    known_flows: &'a KnownFlows<'a>,
    problems: Vec<Diagnostic>,
    /// Kept apart from `problems`: a warning does not stop the flow from loading.
    warnings: Vec<Diagnostic>,
}

/// A step's location and the names it touches, kept for the graph checks.
struct StepFacts {
    span: Range<usize>,
    /// Where each of the step's texts starts, in the order of `Step::texts`.
    text_spans: Vec<Range<usize>>,
    /// Where a review step names the answer it reads.
    review_span: Option<Range<usize>>,
}
