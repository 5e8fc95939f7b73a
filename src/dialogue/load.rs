//! Turns the text of the dialogue files into a validated `Library`, or reports every problem at
//! once. Pure: the caller reads the files; this module never touches the disk.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;

use toml::Spanned;

use super::callback;
use super::diagnostic::{Diagnostic, Diagnostics, Severity, did_you_mean};
use super::model::{Faq, Question};
use crate::calendar::parse_frequency;
use crate::calendar::zones::is_zone_name;

use super::model::{
    AnswerRule, BOT_MESSAGES, BUILT_IN_COMMANDS, BotCommand, BotText, BranchRule, BranchTest,
    CheckinFlows, Choice, CommandAction, EndEffect, Flow, FlowId, Library, Role, SafetyMark,
    SafetySteps, Step, StepId, StepKind, zone_time_name,
};
use super::review::{Note, NoteTest, Phrase, Words};
use super::source::{
    BotFile, ChoiceFile, CommandFile, FaqFile, FlowFile, NoteFile, RuleFile, SourceFile, StepFile,
};
use super::template::{Template, is_answer_name};
use crate::safety::{BuildError, ConcernKind, CrisisScreen};

/// The file that holds the bot's own messages rather than a flow.
pub const BOT_FILE: &str = "bot.toml";
/// The file that holds the FAQ and the key takeaways.
pub const FAQ_FILE: &str = "faq.toml";
/// The file that holds the crisis-language patterns every message is screened with.
pub const CRISIS_FILE: &str = "crisis-language.toml";

/// Telegram refuses a message longer than this.
pub const MAX_MESSAGE_LENGTH: usize = 4096;
/// More buttons than this crowd a phone screen.
pub const MAX_CHOICES: usize = 8;
/// A longer label is cut off on a phone's button.
pub const MAX_LABEL_LENGTH: usize = 40;
/// Flow ids and choice ids travel in button data; this keeps them short.
pub const MAX_ID_LENGTH: usize = 32;
/// The default and the largest limit on a typed answer, in characters.
pub const DEFAULT_MAX_ANSWER: usize = 1000;
pub const LARGEST_MAX_ANSWER: usize = 3000;

/// Loads and validates every file. `files` holds flows and exactly one `bot.toml`.
pub fn load(files: &[SourceFile]) -> Result<Library, Diagnostics> {
    // Compiling the crisis patterns is the slowest part of loading: it runs on a thread of
    // its own while the flows are checked.
    std::thread::scope(|scope| {
        let crisis = files
            .iter()
            .find(|file| is_named(&file.path, CRISIS_FILE))
            .map(|file| (file, scope.spawn(|| build_screen(&file.text))));
        load_with_screen(files, move || {
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

/// `load`, with the crisis screen compiled by `screen`, asked for once the flows are checked.
fn load_with_screen<'a>(
    files: &'a [SourceFile],
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
            let (line, _) = super::diagnostic::line_and_column(&first.text, span.start);
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
    flows.sort_by_key(|flow| {
        let rank = menu_order.iter().position(|id| *id == flow.id.0);
        (rank.unwrap_or(usize::MAX), flow.id.clone())
    });
    let mut library = Library::new(flows, bot, faq, screen);
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
fn speaks_of_fear(label: &str) -> bool {
    let words = Words::of(label);
    FEAR_WORDS
        .iter()
        .filter_map(|word| Phrase::parse(word))
        .any(|phrase| words.mention(&phrase))
}

fn is_named(path: &str, file_name: &str) -> bool {
    std::path::Path::new(path)
        .file_name()
        .is_some_and(|name| name == file_name)
}

/// Checks `faq.toml`: unique ids, short buttons, answers that fit one message, and flows
/// offered that exist.
fn check_faq(
    file: &SourceFile,
    parsed: FaqFile,
    known_flows: &KnownFlows,
    problems: &mut Vec<Diagnostic>,
) -> Faq {
    let at =
        |span: Range<usize>, message: String| Diagnostic::at(&file.path, &file.text, span, message);
    let takeaways = parsed.takeaways.get_ref().trim();
    if takeaways.is_empty() {
        problems.push(at(
            parsed.takeaways.span(),
            "`takeaways` is empty".to_owned(),
        ));
    }
    if takeaways.chars().count() > MAX_MESSAGE_LENGTH {
        problems.push(
            at(
                parsed.takeaways.span(),
                format!(
                    "the takeaways are {} characters long; Telegram allows {MAX_MESSAGE_LENGTH}",
                    takeaways.chars().count()
                ),
            )
            .help("shorten them"),
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut questions = Vec::new();
    for (index, question) in parsed.questions.iter().enumerate() {
        let raw = question.get_ref();
        let id = raw.id.get_ref();
        let number = index + 1;
        if !is_flow_id(id) {
            problems.push(
                at(
                    raw.id.span(),
                    format!("question {number}: id \"{id}\" is not usable"),
                )
                .help(format!(
                    "use lowercase letters, digits and \"-\", at most {MAX_ID_LENGTH} characters"
                )),
            );
        } else if let Some(first) = seen.insert(id, number) {
            problems.push(
                at(
                    raw.id.span(),
                    format!("questions {first} and {number} have the same id \"{id}\""),
                )
                .help("give each question its own id"),
            );
        }
        let button = raw.button.get_ref().trim();
        let length = button.chars().count();
        if length == 0 || length > MAX_LABEL_LENGTH || button.contains('\n') {
            problems.push(
                at(
                    raw.button.span(),
                    format!("question {number}: the button must be one line of 1 to {MAX_LABEL_LENGTH} characters, but it has {length}"),
                )
                .help("write a short label, such as \"How long it takes\""),
            );
        }
        for (field, text) in [("question", &raw.question), ("answer", &raw.answer)] {
            if text.get_ref().trim().is_empty() {
                problems.push(at(
                    text.span(),
                    format!("question {number}: `{field}` is empty"),
                ));
            }
        }
        let shown = raw.question.get_ref().trim().chars().count()
            + 2
            + raw.answer.get_ref().trim().chars().count();
        if shown > MAX_MESSAGE_LENGTH {
            problems.push(
                at(
                    raw.answer.span(),
                    format!("question {number}: the question and answer are {shown} characters together; Telegram allows {MAX_MESSAGE_LENGTH}"),
                )
                .help("shorten the answer"),
            );
        }
        let mut flows = Vec::new();
        for flow in raw.flows.iter().flatten() {
            if known_flows.lacks(flow.get_ref()) {
                problems.push(known_flows.suggest(
                    at(
                        flow.span(),
                        format!(
                            "question {number} offers unknown flow \"{}\"",
                            flow.get_ref()
                        ),
                    ),
                    flow.get_ref(),
                ));
            }
            flows.push(FlowId(flow.get_ref().clone()));
        }
        questions.push(Question {
            id: id.clone(),
            button: button.to_owned(),
            question: raw.question.get_ref().trim().to_owned(),
            answer: raw.answer.get_ref().trim().to_owned(),
            keywords: raw.keywords.clone().unwrap_or_default(),
            flows,
        });
    }
    Faq {
        questions,
        takeaways: takeaways.to_owned(),
    }
}

/// Rewords a TOML or shape error in the author's terms, with a hint where one helps.
fn toml_problem(file: &SourceFile, error: &toml::de::Error) -> Diagnostic {
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

fn check_bot(
    file: &SourceFile,
    parsed: BotFile,
    known_flows: &KnownFlows,
    flows: &[Flow],
    problems: &mut Vec<Diagnostic>,
) -> Option<(BotText, Vec<String>)> {
    let before = problems.len();
    let at =
        |span: Range<usize>, message: String| Diagnostic::at(&file.path, &file.text, span, message);
    let start_flow = parsed.start_flow.get_ref();
    if known_flows.lacks(start_flow) {
        problems.push(known_flows.suggest(
            at(
                parsed.start_flow.span(),
                format!("`start_flow` names unknown flow \"{start_flow}\""),
            ),
            start_flow,
        ));
    }
    let mut menu_order = Vec::new();
    for id in parsed.menu_order.iter().flatten() {
        if known_flows.lacks(id.get_ref()) {
            problems.push(known_flows.suggest(
                at(
                    id.span(),
                    format!("`menu_order` names unknown flow \"{}\"", id.get_ref()),
                ),
                id.get_ref(),
            ));
        }
        menu_order.push(id.get_ref().clone());
    }
    let known_keys: Vec<&str> = BOT_MESSAGES.iter().map(|(key, _)| *key).collect();
    let mut messages = HashMap::new();
    for (key, text) in parsed.messages.get_ref() {
        if !known_keys.contains(&key.get_ref().as_str()) {
            let diagnostic = at(key.span(), format!("unknown message \"{}\"", key.get_ref()));
            problems.push(
                match did_you_mean(key.get_ref(), known_keys.iter().copied()) {
                    Some(close) => diagnostic.help(format!("did you mean \"{close}\"?")),
                    None => {
                        diagnostic.help(format!("messages the bot uses: {}", known_keys.join(", ")))
                    }
                },
            );
        }
        if text.get_ref().trim().is_empty() {
            problems.push(at(
                text.span(),
                format!("message \"{}\" is empty", key.get_ref()),
            ));
        }
        messages.insert(key.get_ref().clone(), text.get_ref().clone());
    }
    for (key, purpose) in BOT_MESSAGES {
        if !messages.contains_key(*key) {
            problems.push(
                at(
                    parsed.messages.span(),
                    format!("message \"{key}\" is missing ({purpose})"),
                )
                .help(format!("add `{key} = \"...\"` under [messages]")),
            );
        }
    }
    let commands = check_commands(file, &parsed.commands, known_flows, flows, problems);
    let checkin_flows = match (&parsed.checkin_setup_flow, &parsed.checkin_flow) {
        (None, None) => None,
        (Some(setup), Some(checkin)) => {
            for (field, flow) in [("checkin_setup_flow", setup), ("checkin_flow", checkin)] {
                if known_flows.lacks(flow.get_ref()) {
                    problems.push(known_flows.suggest(
                        at(
                            flow.span(),
                            format!("`{field}` names unknown flow \"{}\"", flow.get_ref()),
                        ),
                        flow.get_ref(),
                    ));
                }
            }
            Some(CheckinFlows {
                setup: FlowId(setup.get_ref().clone()),
                checkin: FlowId(checkin.get_ref().clone()),
            })
        }
        (Some(one), None) | (None, Some(one)) => {
            problems.push(
                at(
                    one.span(),
                    "`checkin_setup_flow` and `checkin_flow` go together".to_owned(),
                )
                .help("name both flows, or neither (then /checkin is not offered)"),
            );
            None
        }
    };
    let safety = parsed
        .safety
        .as_ref()
        .map(|safety| check_safety(file, safety.get_ref(), known_flows, flows, problems));
    (problems.len() == before).then(|| {
        (
            BotText {
                start_flow: FlowId(start_flow.clone()),
                messages,
                commands,
                checkin_flows,
                safety,
            },
            menu_order,
        )
    })
}

/// Checks `[safety]`: the flow exists and has the grounding and safety-plan steps.
fn check_safety(
    file: &SourceFile,
    safety: &super::source::SafetyFile,
    known_flows: &KnownFlows,
    flows: &[Flow],
    problems: &mut Vec<Diagnostic>,
) -> SafetySteps {
    let at =
        |span: Range<usize>, message: String| Diagnostic::at(&file.path, &file.text, span, message);
    let flow_id = safety.flow.get_ref();
    if known_flows.lacks(flow_id) {
        problems.push(known_flows.suggest(
            at(
                safety.flow.span(),
                format!("`[safety]` names unknown flow \"{flow_id}\""),
            ),
            flow_id,
        ));
    } else if let Some(flow) = flows.iter().find(|flow| flow.id.0 == *flow_id) {
        for (field, step) in [("grounding", &safety.grounding), ("plan", &safety.plan)] {
            // A safety reply opens the flow here, so nothing before this step was answered.
            for (shown_at, name) in unsaved_from(flow, step.get_ref()) {
                problems.push(
                    at(
                        step.span(),
                        format!(
                            "a safety reply opens flow \"{flow_id}\" at step \"{}\", and from there step \"{shown_at}\" shows {{{name}}}, which is never asked on the way",
                            step.get_ref()
                        ),
                    )
                    .help(format!("remove {{{name}}} from step \"{shown_at}\", or start the safety reply's button at a step before the one that saves it")),
                );
            }
            if flow.step(step.get_ref()).is_none() {
                let diagnostic = at(
                    step.span(),
                    format!(
                        "`{field}` names step \"{}\", which flow \"{flow_id}\" does not have",
                        step.get_ref()
                    ),
                );
                let names = flow.steps.iter().map(|step| step.id.0.as_str());
                problems.push(match did_you_mean(step.get_ref(), names) {
                    Some(close) => diagnostic.help(format!("did you mean \"{close}\"?")),
                    None => diagnostic,
                });
            }
        }
    }
    SafetySteps {
        flow: FlowId(flow_id.clone()),
        grounding: StepId(safety.grounding.get_ref().clone()),
        plan: StepId(safety.plan.get_ref().clone()),
    }
}

/// Checks `[commands]`: usable names that do not shadow the engine's own, one action each,
/// flows that exist, and placeholders that name answers the shown flow saves.
fn check_commands(
    file: &SourceFile,
    raw: &BTreeMap<Spanned<String>, Spanned<CommandFile>>,
    known_flows: &KnownFlows,
    flows: &[Flow],
    problems: &mut Vec<Diagnostic>,
) -> BTreeMap<String, BotCommand> {
    let at =
        |span: Range<usize>, message: String| Diagnostic::at(&file.path, &file.text, span, message);
    let mut commands = BTreeMap::new();
    for (name, command) in raw {
        let before = problems.len();
        let name_text = name.get_ref();
        let usable = !name_text.is_empty()
            && name_text.len() <= MAX_ID_LENGTH
            && name_text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !usable {
            problems.push(
                at(
                    name.span(),
                    format!("command \"/{name_text}\" is not usable"),
                )
                .help("Telegram commands use lowercase letters, digits and \"_\", at most 32"),
            );
        } else if BUILT_IN_COMMANDS.contains(&name_text.as_str()) {
            problems.push(
                at(
                    name.span(),
                    format!("/{name_text} is one of the bot's own commands"),
                )
                .help(format!(
                    "pick another name; the bot's own are /{}",
                    BUILT_IN_COMMANDS.join(", /")
                )),
            );
        }
        let raw = command.get_ref();
        let about = raw.about.get_ref().trim();
        if about.chars().count() < 3 || about.chars().count() > 256 || about.contains('\n') {
            problems.push(
                at(
                    raw.about.span(),
                    format!(
                        "the description of /{name_text} must be one line of 3 to 256 characters"
                    ),
                )
                .help("Telegram shows it in the command list"),
            );
        }
        let flow_named = |flow: &Spanned<String>, problems: &mut Vec<Diagnostic>| {
            if known_flows.lacks(flow.get_ref()) {
                problems.push(known_flows.suggest(
                    at(
                        flow.span(),
                        format!("/{name_text} names unknown flow \"{}\"", flow.get_ref()),
                    ),
                    flow.get_ref(),
                ));
            }
            FlowId(flow.get_ref().clone())
        };
        let action = match (&raw.open, &raw.show) {
            (Some(open), None) => {
                for (field, value) in [
                    ("text", raw.text.is_some()),
                    ("missing", raw.missing.is_some()),
                ] {
                    if value {
                        problems.push(
                            at(
                                command.span(),
                                format!("/{name_text} opens a flow, so `{field}` is never shown"),
                            )
                            .help(format!("remove `{field}`, or use `show` instead of `open`")),
                        );
                    }
                }
                CommandAction::Open(flow_named(open, problems))
            }
            (None, Some(show)) => {
                let flow = flow_named(show, problems);
                let (Some(text), Some(missing)) = (&raw.text, &raw.missing) else {
                    problems.push(at(command.span(), format!("/{name_text} shows answers, so it needs `text` and `missing`")).help("`text` shows the answers with {placeholders}; `missing` is said when there are none yet"));
                    continue;
                };
                let template = match Template::parse(text.get_ref()) {
                    Ok(template) => template,
                    Err(error) => {
                        problems.push(at(text.span(), format!("/{name_text}: {}", error.message)));
                        continue;
                    }
                };
                if let Some(shown) = flows.iter().find(|candidate| candidate.id == flow) {
                    let saved = shown.saved_names();
                    for placeholder in template.placeholders() {
                        if !saved.contains(placeholder) {
                            let diagnostic = at(
                                text.span(),
                                format!(
                                    "/{name_text} shows {{{placeholder}}}, which flow \"{flow}\" never saves"
                                ),
                            );
                            problems.push(match did_you_mean(placeholder, saved.iter().copied()) {
                                Some(close) => {
                                    diagnostic.help(format!("did you mean {{{close}}}?"))
                                }
                                None => diagnostic.help(format!(
                                    "answers it saves: {}",
                                    saved.iter().copied().collect::<Vec<_>>().join(", ")
                                )),
                            });
                        }
                    }
                }
                if template.placeholders().next().is_none() {
                    problems.push(
                        at(text.span(), format!("/{name_text} shows no answers")).help(
                            "put the answers to show in {braces}, or use `open` to open the flow",
                        ),
                    );
                }
                CommandAction::Show {
                    flow,
                    text: template,
                    missing: missing.get_ref().trim().to_owned(),
                }
            }
            _ => {
                problems.push(at(command.span(), format!("/{name_text} needs exactly one of `open` and `show`")).help("`open = \"<flow>\"` starts a flow; `show = \"<flow>\"` shows the person's answers in it"));
                continue;
            }
        };
        if problems.len() == before {
            commands.insert(
                name_text.clone(),
                BotCommand {
                    about: about.to_owned(),
                    action,
                },
            );
        }
    }
    commands
}

/// The ids of the flows that parsed, for checking the references between flows.
struct KnownFlows<'a> {
    ids: Vec<&'a str>,
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

fn is_flow_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LENGTH
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_step_id(id: &str) -> bool {
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

impl FlowChecker<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.file.path, &self.file.text, span, message)
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        self.problems.push(diagnostic);
    }

    fn check(&mut self, file: &FlowFile) -> Option<Flow> {
        let id = file.id.get_ref();
        if !is_flow_id(id) {
            self.report(self.at(file.id.span(), format!("flow id \"{id}\" is not usable")).help(format!(
                "use lowercase letters, digits and \"-\", at most {MAX_ID_LENGTH} characters"
            )));
        }
        if *file.version.get_ref() < 1 || *file.version.get_ref() > i64::from(u32::MAX) {
            self.report(
                self.at(
                    file.version.span(),
                    "the version must be a whole number from 1 up",
                )
                .help("start at `version = 1` and raise it when the steps change"),
            );
        }
        let title = file.title.get_ref().trim();
        if title.is_empty() || title.chars().count() > MAX_LABEL_LENGTH || title.contains('\n') {
            self.report(self.at(file.title.span(), format!("the title must be one line of 1 to {MAX_LABEL_LENGTH} characters, since it is shown on a menu button")));
        }
        if file.summary.get_ref().trim().is_empty() || file.summary.get_ref().contains('\n') {
            self.report(self.at(file.summary.span(), "the summary must be one line"));
        }
        let mut audience = Vec::new();
        for word in file.audience.get_ref() {
            match self.role(word) {
                Some(role) if audience.contains(&role) => {
                    self.report(self.at(
                        word.span(),
                        format!("\"{}\" is listed twice in `audience`", word.get_ref()),
                    ));
                }
                Some(role) => audience.push(role),
                None => {}
            }
        }
        if file.audience.get_ref().is_empty() {
            self.report(
                self.at(file.audience.span(), "`audience` is empty")
                    .help("list who the flow is for: \"hurt\", \"broke_trust\", \"together\""),
            );
        }

        // Steps in file order.
        let mut raw_steps: Vec<(&Spanned<String>, &Spanned<StepFile>)> =
            file.steps.iter().collect();
        raw_steps.sort_by_key(|(name, _)| name.span().start);
        let step_names: Vec<&str> = raw_steps
            .iter()
            .map(|(name, _)| name.get_ref().as_str())
            .collect();

        let entry = file.entry.get_ref();
        if !step_names.contains(&entry.as_str()) {
            let diagnostic = self.at(
                file.entry.span(),
                format!("the entry step \"{entry}\" does not exist"),
            );
            self.report(self.with_step_hint(diagnostic, entry, &step_names));
        }
        if raw_steps.is_empty() {
            self.report(
                self.at(file.id.span(), "the flow has no steps")
                    .help("add at least one `[steps.<id>]` table"),
            );
        }

        let saved_names: BTreeSet<String> = raw_steps
            .iter()
            .flat_map(|(_, step)| {
                let step = step.get_ref();
                step.ask
                    .iter()
                    .map(|ask| ask.get_ref().save.get_ref().clone())
                    .chain(step.save.iter().map(|save| save.get_ref().clone()))
            })
            .collect();

        let mut steps = Vec::new();
        let mut facts = Vec::new();
        for (name, step) in &raw_steps {
            if !is_step_id(name.get_ref()) {
                self.report(self.at(name.span(), format!("step id \"{}\" is not usable", name.get_ref())).help(format!(
                    "use lowercase letters, digits and \"_\", at most {MAX_ID_LENGTH} characters"
                )));
            }
            if let Some(built) = self.check_step(name, step, &step_names, &saved_names) {
                steps.push(built);
                let raw = step.get_ref();
                let note_spans = raw.notes.iter().flat_map(|notes| notes.get_ref());
                facts.push(StepFacts {
                    span: name.span(),
                    text_spans: raw
                        .say
                        .iter()
                        .map(Spanned::span)
                        .chain(note_spans.map(|note| note.get_ref().say.span()))
                        .chain(raw.all_clear.iter().map(Spanned::span))
                        .collect(),
                    review_span: raw.review.as_ref().map(Spanned::span),
                });
            }
        }
        if !self.problems.is_empty() {
            return None;
        }

        let mut flow = Flow::new(
            FlowId(id.clone()),
            u32::try_from(*file.version.get_ref()).unwrap_or(1),
            title.to_owned(),
            file.summary.get_ref().trim().to_owned(),
            audience,
            StepId(entry.clone()),
            file.menu.unwrap_or(true),
            steps,
        );
        flow.toward_staying = file.toward_staying.unwrap_or(false);
        self.check_graph(&flow, &facts);
        self.problems.is_empty().then_some(flow)
    }

    fn with_step_hint(
        &self,
        diagnostic: Diagnostic,
        wanted: &str,
        step_names: &[&str],
    ) -> Diagnostic {
        let list = step_names.join(", ");
        match did_you_mean(wanted, step_names.iter().copied()) {
            Some(close) => diagnostic.help(format!(
                "did you mean \"{close}\"? steps in this flow: {list}"
            )),
            None => diagnostic.help(format!("steps in this flow: {list}")),
        }
    }

    fn role(&mut self, word: &Spanned<String>) -> Option<Role> {
        let role = Role::parse(word.get_ref());
        if role.is_none() {
            let names = Role::ALL.map(Role::as_str);
            let diagnostic = self.at(word.span(), format!("\"{}\" is not a role", word.get_ref()));
            self.report(match did_you_mean(word.get_ref(), names) {
                Some(close) => diagnostic.help(format!(
                    "did you mean \"{close}\"? roles: hurt, broke_trust, together"
                )),
                None => diagnostic.help("roles: hurt, broke_trust, together"),
            });
        }
        role
    }

    fn target(&mut self, step: &str, target: &Spanned<String>, step_names: &[&str]) -> StepId {
        if !step_names.contains(&target.get_ref().as_str()) {
            let diagnostic = self.at(
                target.span(),
                format!(
                    "step \"{step}\" goes to unknown step \"{}\"",
                    target.get_ref()
                ),
            );
            let diagnostic = self.with_step_hint(diagnostic, target.get_ref(), step_names);
            self.report(diagnostic);
        }
        StepId(target.get_ref().clone())
    }

    fn flow_ref(&mut self, what: String, target: &Spanned<String>) -> FlowId {
        if self.known_flows.lacks(target.get_ref()) {
            let diagnostic = self
                .known_flows
                .suggest(self.at(target.span(), what), target.get_ref());
            self.report(diagnostic);
        }
        FlowId(target.get_ref().clone())
    }

    fn answer_name(
        &mut self,
        step: &str,
        name: &Spanned<String>,
        saved_names: &BTreeSet<String>,
        must_be_saved: bool,
    ) -> String {
        let value = name.get_ref();
        if !is_answer_name(value) {
            self.report(
                self.at(
                    name.span(),
                    format!("step \"{step}\": \"{value}\" is not a usable answer name"),
                )
                .help("use lowercase letters, digits and \"_\""),
            );
        } else if must_be_saved && !saved_names.contains(value) {
            let diagnostic = self.at(
                name.span(),
                format!(
                    "step \"{step}\" uses answer \"{value}\", which no step of this flow saves"
                ),
            );
            self.report(
                match did_you_mean(value, saved_names.iter().map(String::as_str)) {
                    Some(close) => diagnostic.help(format!("did you mean \"{close}\"?")),
                    None => diagnostic.help(
                        "save it first with `ask = { save = \"...\" }` or a choice step's `save`",
                    ),
                },
            );
        }
        value.clone()
    }

    fn check_step(
        &mut self,
        name: &Spanned<String>,
        step: &Spanned<StepFile>,
        step_names: &[&str],
        saved_names: &BTreeSet<String>,
    ) -> Option<Step> {
        let id = name.get_ref().as_str();
        let raw = step.get_ref();
        let before = self.problems.len();

        let say = raw.say.as_ref().and_then(|say| self.template(id, say));
        if let Some(say) = &raw.say
            && say.get_ref().trim().is_empty()
        {
            self.report(
                self.at(say.span(), format!("step \"{id}\" has an empty `say`"))
                    .help("write the message, or remove `say`"),
            );
        }

        let kinds: Vec<&str> = [
            raw.choices.as_ref().map(|_| "choices"),
            raw.ask.as_ref().map(|_| "ask"),
            raw.branch.as_ref().map(|_| "branch"),
            raw.jump.as_ref().map(|_| "jump"),
            raw.end.as_ref().map(|_| "end"),
            raw.review.as_ref().map(|_| "review"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() > 1 {
            self.report(
                self.at(
                    step.span(),
                    format!("step \"{id}\" mixes {}", kinds.join(" and ")),
                )
                .help("a step is exactly one kind: split it into two steps"),
            );
            return None;
        }
        let kind_name = kinds.first().copied().unwrap_or("message");
        let needs_say = matches!(kind_name, "message" | "choices" | "ask");
        if needs_say && raw.say.is_none() {
            self.report(
                self.at(step.span(), format!("step \"{id}\" has no `say`"))
                    .help("write what the bot says at this step"),
            );
        }
        // Fields that only belong to one kind.
        let stray = |field: &str, present: bool, owner: &str| {
            (present && kind_name != owner).then(|| (field.to_owned(), owner.to_owned()))
        };
        let strays: Vec<(String, String)> = [
            stray("otherwise", raw.otherwise.is_some(), "branch"),
            stray("suggest", raw.suggest.is_some(), "end"),
            stray("effect", raw.effect.is_some(), "end"),
            stray("save", raw.save.is_some(), "choices"),
            stray("notes", raw.notes.is_some(), "review"),
            stray("all_clear", raw.all_clear.is_some(), "review"),
        ]
        .into_iter()
        .flatten()
        .collect();
        for (field, owner) in strays {
            self.report(
                self.at(
                    step.span(),
                    format!("step \"{id}\" has `{field}`, which only a `{owner}` step uses"),
                )
                .help(format!("remove `{field}`")),
            );
        }
        let next_allowed = matches!(kind_name, "message" | "ask" | "review");
        if raw.next.is_some() && !next_allowed {
            self.report(self.at(step.span(), format!("step \"{id}\" has `next`, but a `{kind_name}` step decides where to go by itself")).help("remove `next`"));
        }

        let kind = match kind_name {
            "message" => {
                let Some(next) = &raw.next else {
                    self.report(self.at(step.span(), format!("step \"{id}\" does nothing after its message")).help("give it `next = \"<step>\"`, `choices`, `ask`, `branch`, `jump` or `end = true`"));
                    return None;
                };
                StepKind::Message {
                    next: self.target(id, next, step_names),
                }
            }
            "choices" => {
                let choices = raw.choices.as_ref()?;
                self.check_choices(id, choices, raw.save.as_ref(), step_names, saved_names)?
            }
            "ask" => {
                let ask = raw.ask.as_ref()?;
                let Some(next) = &raw.next else {
                    self.report(
                        self.at(
                            step.span(),
                            format!("step \"{id}\" asks a question but has no `next`"),
                        )
                        .help("add `next = \"<step>\"`: where to go once the person answers"),
                    );
                    return None;
                };
                let next = self.target(id, next, step_names);
                let save = self.answer_name(id, &ask.get_ref().save, saved_names, false);
                let rule = self.check_ask(id, ask)?;
                StepKind::Ask { save, rule, next }
            }
            "branch" => {
                let rules = raw.branch.as_ref()?;
                let Some(otherwise) = &raw.otherwise else {
                    self.report(
                        self.at(
                            step.span(),
                            format!("step \"{id}\" has a branch without `otherwise`"),
                        )
                        .help("add `otherwise = \"<step>\"`: where to go when no rule holds"),
                    );
                    return None;
                };
                if rules.get_ref().is_empty() {
                    self.report(
                        self.at(rules.span(), format!("step \"{id}\" has an empty branch"))
                            .help("add a rule, or make it a message with `next`"),
                    );
                }
                let mut built = Vec::new();
                for rule in rules.get_ref() {
                    if let Some(rule) = self.check_rule(id, rule, step_names, saved_names) {
                        built.push(rule);
                    }
                }
                StepKind::Branch {
                    rules: built,
                    otherwise: self.target(id, otherwise, step_names),
                }
            }
            "review" => {
                let review = raw.review.as_ref()?;
                let Some(next) = &raw.next else {
                    self.report(
                        self.at(
                            step.span(),
                            format!("step \"{id}\" reviews an answer but has no `next`"),
                        )
                        .help("add `next = \"<step>\"`: where to go after the notes"),
                    );
                    return None;
                };
                let next = self.target(id, next, step_names);
                let answer = self.answer_name(id, review, saved_names, true);
                let notes = self.check_notes(id, step, raw.notes.as_ref())?;
                let all_clear = raw
                    .all_clear
                    .as_ref()
                    .and_then(|text| self.template(id, text));
                StepKind::Review {
                    answer,
                    notes,
                    all_clear,
                    next,
                }
            }
            "jump" => {
                let jump = raw.jump.as_ref()?;
                StepKind::Jump {
                    flow: self.flow_ref(
                        format!("step \"{id}\" jumps to unknown flow \"{}\"", jump.get_ref()),
                        jump,
                    ),
                }
            }
            _ => {
                let end = raw.end.as_ref()?;
                if !*end.get_ref() {
                    self.report(
                        self.at(end.span(), format!("step \"{id}\" says `end = false`"))
                            .help("write `end = true`, or remove `end`"),
                    );
                }
                let mut suggest = Vec::new();
                for flow in raw.suggest.iter().flat_map(|list| list.get_ref()) {
                    suggest.push(self.flow_ref(
                        format!("step \"{id}\" suggests unknown flow \"{}\"", flow.get_ref()),
                        flow,
                    ));
                }
                if suggest.len() + 1 > MAX_CHOICES {
                    self.report(self.at(step.span(), format!("step \"{id}\" suggests {} flows; at most {} fit beside the menu button", suggest.len(), MAX_CHOICES - 1)));
                }
                let effect = raw.effect.as_ref().and_then(|word| {
                    let effect = EndEffect::parse(word.get_ref());
                    if effect.is_none() {
                        let diagnostic = self.at(word.span(), format!("step \"{id}\" has an unknown effect \"{}\"", word.get_ref()));
                        self.report(match did_you_mean(word.get_ref(), ["schedule_checkins", "record_checkin"]) {
                            Some(close) => diagnostic.help(format!("did you mean \"{close}\"? effects: schedule_checkins, record_checkin")),
                            None => diagnostic.help("effects: schedule_checkins (sets up check-in reminders), record_checkin (keeps a check-in's answers)"),
                        });
                    }
                    effect
                });
                StepKind::End { suggest, effect }
            }
        };
        (self.problems.len() == before).then(|| Step {
            id: StepId(id.to_owned()),
            say,
            kind,
        })
    }

    /// Parses a text of step `step`, reporting a broken placeholder.
    fn template(&mut self, step: &str, text: &Spanned<String>) -> Option<Template> {
        match Template::parse(text.get_ref()) {
            Ok(template) => Some(template),
            Err(error) => {
                self.report(self.at(text.span(), format!("step \"{step}\": {}", error.message)));
                None
            }
        }
    }

    /// The notes of review step `id`: each with an id, one test and a text.
    fn check_notes(
        &mut self,
        id: &str,
        step: &Spanned<StepFile>,
        notes: Option<&Spanned<Vec<Spanned<NoteFile>>>>,
    ) -> Option<Vec<Note>> {
        let Some(notes) = notes.filter(|notes| !notes.get_ref().is_empty()) else {
            self.report(
                self.at(step.span(), format!("step \"{id}\" reviews an answer but has no notes"))
                    .help("add `[[steps.<step>.notes]]` tables, each with `id`, `when_any` or `when_none`, and `say`"),
            );
            return None;
        };
        let before = self.problems.len();
        let mut seen = HashSet::new();
        let mut built = Vec::new();
        for note in notes.get_ref() {
            let raw = note.get_ref();
            let note_id = raw.id.get_ref();
            if !is_step_id(note_id) {
                self.report(self.at(raw.id.span(), format!("step \"{id}\": note id \"{note_id}\" is not usable")).help(format!(
                    "use lowercase letters, digits and \"_\", at most {MAX_ID_LENGTH} characters"
                )));
            } else if !seen.insert(note_id.as_str()) {
                self.report(
                    self.at(
                        raw.id.span(),
                        format!("two notes of step \"{id}\" have the id \"{note_id}\""),
                    )
                    .help("give each note its own id"),
                );
            }
            let (words, any) = match (&raw.when_any, &raw.when_none) {
                (Some(words), None) => (words, true),
                (None, Some(words)) => (words, false),
                (both, _) => {
                    let what = if both.is_some() {
                        "both `when_any` and `when_none`"
                    } else {
                        "neither `when_any` nor `when_none`"
                    };
                    self.report(
                        self.at(note.span(), format!("note \"{note_id}\" of step \"{id}\" has {what}"))
                            .help("give it `when_any = [...]` (shown when the answer says one of these) or `when_none = [...]` (shown when it says none of them)"),
                    );
                    continue;
                }
            };
            if words.get_ref().is_empty() {
                self.report(
                    self.at(
                        words.span(),
                        format!("note \"{note_id}\" of step \"{id}\" lists no words"),
                    )
                    .help("list the words or phrases to look for"),
                );
            }
            let mut phrases = Vec::new();
            for word in words.get_ref() {
                match Phrase::parse(word.get_ref()) {
                    Some(phrase) => phrases.push(phrase),
                    None => self.report(self.at(word.span(), format!("note \"{note_id}\" of step \"{id}\" looks for \"{}\", which has no word in it", word.get_ref())).help("write a word or phrase, such as \"but\" or \"if you were hurt\"")),
                }
            }
            if raw.say.get_ref().trim().is_empty() {
                self.report(self.at(
                    raw.say.span(),
                    format!("note \"{note_id}\" of step \"{id}\" has an empty `say`"),
                ));
            }
            let Some(text) = self.template(id, &raw.say) else {
                continue;
            };
            built.push(Note {
                id: note_id.clone(),
                test: if any {
                    NoteTest::MentionsAny(phrases)
                } else {
                    NoteTest::MentionsNone(phrases)
                },
                text,
            });
        }
        (self.problems.len() == before).then_some(built)
    }

    fn check_choices(
        &mut self,
        id: &str,
        choices: &Spanned<Vec<Spanned<ChoiceFile>>>,
        save: Option<&Spanned<String>>,
        step_names: &[&str],
        saved_names: &BTreeSet<String>,
    ) -> Option<StepKind> {
        let list = choices.get_ref();
        if list.is_empty() {
            self.report(
                self.at(choices.span(), format!("step \"{id}\" has no buttons"))
                    .help("add at least one choice, or make it a message with `next`"),
            );
        }
        if list.len() > MAX_CHOICES {
            self.report(
                self.at(
                    choices.span(),
                    format!(
                        "step \"{id}\" has {} buttons; at most {MAX_CHOICES} fit on a phone",
                        list.len()
                    ),
                )
                .help("split the step in two"),
            );
        }
        let save = save.map(|name| self.answer_name(id, name, saved_names, false));
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        let mut built = Vec::new();
        for choice in list {
            let raw = choice.get_ref();
            let label = raw.label.get_ref().trim();
            if label.is_empty() || label.contains('\n') {
                self.report(self.at(
                    raw.label.span(),
                    format!("a button of step \"{id}\" needs a one-line label"),
                ));
            } else if label.chars().count() > MAX_LABEL_LENGTH {
                self.report(self.at(raw.label.span(), format!("the button \"{label}\" of step \"{id}\" is {} characters long; at most {MAX_LABEL_LENGTH} show whole on a phone", label.chars().count())).help("shorten the label"));
            }
            let goto = self.target(id, &raw.goto, step_names);
            let (choice_id, id_span) = match &raw.id {
                Some(explicit) => (explicit.get_ref().clone(), explicit.span()),
                None => (goto.0.clone(), raw.goto.span()),
            };
            if !is_step_id(&choice_id) {
                self.report(self.at(id_span.clone(), format!("button id \"{choice_id}\" of step \"{id}\" is not usable")).help(format!("use lowercase letters, digits and \"_\", at most {MAX_ID_LENGTH} characters")));
            } else if callback::choice_data_len(&choice_id) > callback::MAX_DATA_LEN {
                self.report(
                    self.at(
                        id_span.clone(),
                        format!("button id \"{choice_id}\" is too long for Telegram's button data"),
                    )
                    .help("give the button a shorter `id`"),
                );
            }
            if seen.contains_key(&choice_id) {
                self.report(
                    self.at(
                        choice.span(),
                        format!("two buttons of step \"{id}\" have the id \"{choice_id}\""),
                    )
                    .help("give one of them its own `id = \"...\"`"),
                );
            }
            seen.insert(choice_id.clone(), id_span);
            let role = match &raw.role {
                Some(word) => self.role(word),
                None => None,
            };
            if raw.value.is_some() && save.is_none() {
                self.report(
                    self.at(
                        choice.span(),
                        format!(
                            "a button of step \"{id}\" has a `value` but the step saves nothing"
                        ),
                    )
                    .help("add `save = \"<answer name>\"` to the step, or remove `value`"),
                );
            }
            let mut clear = Vec::new();
            for name in raw.clear.iter().flatten() {
                clear.push(self.answer_name(id, name, saved_names, true));
            }
            let safety = match raw
                .safety
                .as_ref()
                .map(|word| (word, word.get_ref().as_str()))
            {
                None => None,
                Some((_, "concern")) => Some(SafetyMark::Concern),
                Some((_, "clear")) => Some(SafetyMark::Clear),
                Some((word, other)) => {
                    self.report(
                        self.at(
                            word.span(),
                            format!("a button of step \"{id}\" has `safety = \"{other}\"`"),
                        )
                        .help("write \"concern\" (a sign of abuse: coaching toward staying stops) or \"clear\" (the person feels safe: it resumes)"),
                    );
                    None
                }
            };
            if safety.is_none() && speaks_of_fear(label) {
                let warning = self
                    .at(
                        raw.label.span(),
                        format!("the button \"{label}\" of step \"{id}\" speaks of fear, threats or control but sets no concern"),
                    )
                    .help("add `safety = \"concern\"`, so the flows about staying together are set aside once it is pressed")
                    .warning();
                self.warnings.push(warning);
            }
            built.push(Choice {
                id: choice_id,
                label: label.to_owned(),
                goto,
                role,
                value: raw
                    .value
                    .as_ref()
                    .map_or_else(|| label.to_owned(), |value| value.get_ref().clone()),
                clear,
                safety,
            });
        }
        Some(StepKind::Choice {
            save,
            choices: built,
        })
    }

    fn check_ask(&mut self, id: &str, ask: &Spanned<super::source::AskFile>) -> Option<AnswerRule> {
        let raw = ask.get_ref();
        if let Some(kind) = &raw.kind {
            let rule = match kind.get_ref().as_str() {
                "time" => AnswerRule::Time,
                "zone" => AnswerRule::Zone,
                "text" | "number" => {
                    self.report(self.at(kind.span(), format!("step \"{id}\": `kind = \"{}\"` is the default", kind.get_ref())).help("remove `kind`: a question is text, or a number when it has `min` and `max`"));
                    return None;
                }
                other => {
                    let diagnostic = self.at(
                        kind.span(),
                        format!("step \"{id}\" asks for an unknown kind of answer \"{other}\""),
                    );
                    self.report(match did_you_mean(other, ["time", "zone"]) {
                        Some(close) => {
                            diagnostic.help(format!("did you mean \"{close}\"? kinds: time, zone"))
                        }
                        None => diagnostic.help("kinds: time (a time of day), zone (a time zone)"),
                    });
                    return None;
                }
            };
            if raw.min.is_some()
                || raw.max.is_some()
                || raw.min_length.is_some()
                || raw.max_length.is_some()
            {
                self.report(
                    self.at(
                        ask.span(),
                        format!(
                            "step \"{id}\" asks for a {} but also gives limits",
                            kind.get_ref()
                        ),
                    )
                    .help("remove `min`, `max`, `min_length` and `max_length`"),
                );
                return None;
            }
            return Some(rule);
        }
        let numeric = raw.min.is_some() || raw.max.is_some();
        let textual = raw.min_length.is_some() || raw.max_length.is_some();
        if numeric && textual {
            self.report(self.at(ask.span(), format!("step \"{id}\" mixes number limits (`min`, `max`) with text limits (`min_length`, `max_length`)")).help("a question expects either a number or text"));
            return None;
        }
        if numeric {
            let (Some(min), Some(max)) = (&raw.min, &raw.max) else {
                self.report(
                    self.at(
                        ask.span(),
                        format!(
                            "step \"{id}\" asks for a number but gives only one end of the range"
                        ),
                    )
                    .help("give both `min` and `max`"),
                );
                return None;
            };
            if min.get_ref() > max.get_ref() {
                self.report(
                    self.at(
                        min.span(),
                        format!(
                            "step \"{id}\" asks for a number from {} to {}, which is empty",
                            min.get_ref(),
                            max.get_ref()
                        ),
                    )
                    .help("swap `min` and `max`"),
                );
                return None;
            }
            return Some(AnswerRule::Number {
                min: *min.get_ref(),
                max: *max.get_ref(),
            });
        }
        let min_length = raw.min_length.as_ref().map_or(1, |value| *value.get_ref());
        let max_length = raw
            .max_length
            .as_ref()
            .map_or(DEFAULT_MAX_ANSWER as i64, |value| *value.get_ref());
        if max_length < 1 || max_length > LARGEST_MAX_ANSWER as i64 {
            let span = raw.max_length.as_ref().map_or(ask.span(), Spanned::span);
            self.report(self.at(
                span,
                format!("step \"{id}\": `max_length` must be between 1 and {LARGEST_MAX_ANSWER}"),
            ));
            return None;
        }
        if min_length < 1 || min_length > max_length {
            let span = raw.min_length.as_ref().map_or(ask.span(), Spanned::span);
            self.report(self.at(
                span,
                format!(
                    "step \"{id}\": `min_length` must be between 1 and `max_length` ({max_length})"
                ),
            ));
            return None;
        }
        Some(AnswerRule::Text {
            min_length: min_length as usize,
            max_length: max_length as usize,
        })
    }

    fn check_rule(
        &mut self,
        id: &str,
        rule: &Spanned<RuleFile>,
        step_names: &[&str],
        saved_names: &BTreeSet<String>,
    ) -> Option<BranchRule> {
        let raw = rule.get_ref();
        let goto = self.target(id, &raw.goto, step_names);
        let tests = [
            raw.equals.is_some(),
            raw.at_least.is_some(),
            raw.at_most.is_some(),
        ]
        .iter()
        .filter(|present| **present)
        .count();
        let subjects = [
            raw.answer.is_some(),
            raw.role.is_some(),
            raw.concern.is_some(),
        ]
        .iter()
        .filter(|present| **present)
        .count();
        if subjects != 1 {
            self.report(self.at(
                rule.span(),
                format!(
                    "a rule of step \"{id}\" must test exactly one of an `answer`, a `role` or a `concern`"
                ),
            ));
            return None;
        }
        if let Some(concern) = &raw.concern {
            if tests > 0 {
                self.report(
                    self.at(
                        rule.span(),
                        format!("a concern rule of step \"{id}\" cannot also compare an answer"),
                    )
                    .help("remove `equals`, `at_least` and `at_most`"),
                );
            }
            let kind = match concern.get_ref().as_str() {
                "self-harm" => ConcernKind::SelfHarm,
                "violence" => ConcernKind::Violence,
                "abuse" => ConcernKind::Abuse,
                other => {
                    self.report(
                        self.at(
                            concern.span(),
                            format!("a rule of step \"{id}\" tests an unknown concern \"{other}\""),
                        )
                        .help("use \"self-harm\", \"violence\" or \"abuse\""),
                    );
                    return None;
                }
            };
            return Some(BranchRule {
                test: BranchTest::ConcernIs(kind),
                goto,
            });
        }
        let test = match (&raw.answer, &raw.role) {
            (Some(_), Some(_)) | (None, None) => return None,
            (None, Some(role)) => {
                if tests > 0 {
                    self.report(
                        self.at(
                            rule.span(),
                            format!("a role rule of step \"{id}\" cannot also compare an answer"),
                        )
                        .help("remove `equals`, `at_least` and `at_most`"),
                    );
                }
                BranchTest::RoleIs(self.role(role)?)
            }
            (Some(answer), None) => {
                let answer = self.answer_name(id, answer, saved_names, true);
                if tests != 1 {
                    self.report(self.at(rule.span(), format!("an answer rule of step \"{id}\" needs exactly one of `equals`, `at_least` or `at_most`")));
                    return None;
                }
                if let Some(value) = &raw.equals {
                    BranchTest::AnswerEquals {
                        answer,
                        value: value.get_ref().clone(),
                    }
                } else if let Some(bound) = &raw.at_least {
                    BranchTest::AnswerAtLeast {
                        answer,
                        bound: *bound.get_ref(),
                    }
                } else {
                    let bound = raw.at_most.as_ref()?;
                    BranchTest::AnswerAtMost {
                        answer,
                        bound: *bound.get_ref(),
                    }
                }
            }
        };
        Some(BranchRule { test, goto })
    }

    /// The buttons that save `frequency` and `weekday` in a flow that schedules check-ins
    /// must use the words the schedule understands.
    fn check_schedule_words(&mut self, flow: &Flow, facts: &[StepFacts]) {
        for (index, step) in flow.steps.iter().enumerate() {
            let StepKind::Choice {
                save: Some(save),
                choices,
            } = &step.kind
            else {
                continue;
            };
            let (known, valid): (&str, fn(&str) -> bool) = match save.as_str() {
                "frequency" => ("daily, every 2 days ... every 6 days, weekly", |word| {
                    parse_frequency(word, None).is_some()
                }),
                "weekday" => ("mon, tue, wed, thu, fri, sat, sun", |word| {
                    word.parse::<chrono::Weekday>().is_ok()
                }),
                _ => continue,
            };
            for choice in choices {
                if !valid(&choice.value) {
                    self.report(self.at(facts[index].span.clone(), format!("step \"{}\": the button \"{}\" saves {save} \"{}\", which a schedule cannot read", step.id, choice.label, choice.value)).help(format!("give it `value = \"...\"`, one of: {known}")));
                }
            }
        }
    }

    /// Reachability, traps, loops without a pause, placeholders and message length.
    fn check_graph(&mut self, flow: &Flow, facts: &[StepFacts]) {
        let (position, edges) = graph_of(flow);
        let Some(&entry) = position.get(flow.entry.0.as_str()) else {
            return;
        };

        // Every step reachable from the entry.
        let reachable = reach(entry, &edges);
        for (index, step) in flow.steps.iter().enumerate() {
            if !reachable.contains(&index) {
                self.report(
                    self.at(
                        facts[index].span.clone(),
                        format!(
                            "step \"{}\" can never be reached from the entry \"{}\"",
                            step.id, flow.entry
                        ),
                    )
                    .help("point a button, `next` or branch at it, or remove it"),
                );
            }
        }

        // Every step can reach an end or a jump.
        let mut reverse = vec![Vec::new(); edges.len()];
        for (from, targets) in edges.iter().enumerate() {
            for &to in targets {
                reverse[to].push(from);
            }
        }
        let mut can_finish = HashSet::new();
        for (index, step) in flow.steps.iter().enumerate() {
            if matches!(step.kind, StepKind::End { .. } | StepKind::Jump { .. }) {
                can_finish.extend(reach(index, &reverse));
            }
        }
        for (index, step) in flow.steps.iter().enumerate() {
            if reachable.contains(&index) && !can_finish.contains(&index) {
                self.report(
                    self.at(
                        facts[index].span.clone(),
                        format!(
                            "step \"{}\" is a trap: no path from it reaches an end",
                            step.id
                        ),
                    )
                    .help("give it a way on to an `end = true` step or a `jump`"),
                );
            }
        }

        // A loop of steps that never wait for the person would spin for ever.
        let automatic: Vec<Vec<usize>> = edges
            .iter()
            .enumerate()
            .map(|(index, targets)| {
                if flow.steps[index].kind.waits_for_person() {
                    Vec::new()
                } else {
                    targets.clone()
                }
            })
            .collect();
        for (index, step) in flow.steps.iter().enumerate() {
            if automatic[index]
                .iter()
                .any(|&next| reach(next, &automatic).contains(&index))
            {
                self.report(
                    self.at(
                        facts[index].span.clone(),
                        format!(
                            "step \"{}\" is in a loop that never waits for the person",
                            step.id
                        ),
                    )
                    .help("put a step with buttons or a question in the loop"),
                );
            }
        }

        // Placeholders only name answers saved on every path to the step.
        let saved = must_be_saved(flow, entry, &edges);
        let mut schedules = false;
        for (index, step) in flow.steps.iter().enumerate() {
            let (
                StepKind::End {
                    effect: Some(effect),
                    ..
                },
                Some(available),
            ) = (&step.kind, &saved[index])
            else {
                continue;
            };
            for name in effect.needs() {
                if !available.contains(*name) {
                    self.report(self.at(facts[index].span.clone(), format!("step \"{}\" ends with `effect = \"{}\"`, which needs the answer \"{name}\" saved on every path to it", step.id, effect.word())).help(format!("save \"{name}\" before every way into this step")));
                }
            }
            schedules |= *effect == EndEffect::ScheduleCheckins;
        }
        if schedules {
            self.check_schedule_words(flow, facts);
        }
        let longest: HashMap<String, usize> = flow
            .steps
            .iter()
            .flat_map(|step| match &step.kind {
                StepKind::Ask {
                    save,
                    rule: AnswerRule::Zone,
                    ..
                } => vec![
                    (save.clone(), AnswerRule::Zone.longest()),
                    (zone_time_name(save), AnswerRule::Time.longest()),
                ],
                StepKind::Ask { save, rule, .. } => vec![(save.clone(), rule.longest())],
                StepKind::Choice {
                    save: Some(save),
                    choices,
                } => {
                    let longest = choices
                        .iter()
                        .map(|choice| choice.value.chars().count())
                        .max()
                        .unwrap_or(0);
                    let mut saved = vec![(save.clone(), longest)];
                    if choices.iter().any(|choice| is_zone_name(&choice.value)) {
                        saved.push((zone_time_name(save), AnswerRule::Time.longest()));
                    }
                    saved
                }
                _ => Vec::new(),
            })
            .fold(HashMap::new(), |mut map, (name, length)| {
                let entry = map.entry(name).or_insert(0);
                *entry = (*entry).max(length);
                map
            });
        for (index, step) in flow.steps.iter().enumerate() {
            let texts = step.texts();
            let spans = &facts[index].text_spans;
            if let Some(available) = &saved[index] {
                if let (StepKind::Review { answer, .. }, Some(span)) =
                    (&step.kind, &facts[index].review_span)
                    && !available.contains(answer)
                {
                    self.report(self.at(span.clone(), format!("step \"{}\" reviews \"{answer}\", but not every path to it saves it", step.id)).help(format!("make sure \"{answer}\" is saved before every way into this step, and not cleared")));
                }
                for (text, span) in texts.iter().zip(spans) {
                    for name in text.placeholders() {
                        if !available.contains(name) {
                            let diagnostic = self.at(span.clone(), format!("step \"{}\" shows {{{name}}}, but not every path to it saves \"{name}\"", step.id));
                            let diagnostic = if longest.contains_key(name) {
                                diagnostic.help(format!("make sure \"{name}\" is saved before every way into this step, and not cleared"))
                            } else {
                                match did_you_mean(name, longest.keys().map(String::as_str)) {
                                    Some(close) => diagnostic.help(format!("did you mean {{{close}}}?")),
                                    None => diagnostic.help("no step of this flow saves it; save it with `ask = { save = \"...\" }`"),
                                }
                            };
                            self.report(diagnostic);
                        }
                    }
                }
            }
            // A review shows its texts together in one message, two line breaks apart.
            let worst = texts
                .iter()
                .map(|text| text.worst_case_length(|name| longest.get(name).copied().unwrap_or(0)))
                .sum::<usize>()
                + 2 * texts.len().saturating_sub(1);
            if worst > MAX_MESSAGE_LENGTH {
                let span = spans.first().unwrap_or(&facts[index].span).clone();
                self.report(self.at(span, format!("step \"{}\" can grow to {worst} characters with its answers filled in; Telegram allows {MAX_MESSAGE_LENGTH}", step.id)).help("shorten the text, or lower `max_length` on the questions it shows"));
            }
        }
    }
}

/// The steps reachable from `start` (itself included).
fn reach(start: usize, edges: &[Vec<usize>]) -> HashSet<usize> {
    let mut seen = HashSet::from([start]);
    let mut stack = vec![start];
    while let Some(node) = stack.pop() {
        for &next in &edges[node] {
            if seen.insert(next) {
                stack.push(next);
            }
        }
    }
    seen
}

/// For each reachable step, the answers saved on every path from the entry to it (a forward
/// "must" data-flow analysis). Unreachable steps get `None`.
/// Each step's index by id, and the steps each step can go to.
fn graph_of(flow: &Flow) -> (HashMap<&str, usize>, Vec<Vec<usize>>) {
    let position: HashMap<&str, usize> = flow
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| (step.id.0.as_str(), index))
        .collect();
    let edges = flow
        .steps
        .iter()
        .map(|step| {
            step.kind
                .targets()
                .into_iter()
                .filter_map(|target| position.get(target.0.as_str()).copied())
                .collect()
        })
        .collect();
    (position, edges)
}

/// The answers a flow entered at step `start` (not its entry) would show without ever having
/// saved them: `(step, answer)` pairs.
fn unsaved_from(flow: &Flow, start: &str) -> Vec<(String, String)> {
    let (position, edges) = graph_of(flow);
    let Some(&start) = position.get(start) else {
        return Vec::new();
    };
    let saved = must_be_saved(flow, start, &edges);
    let mut missing = Vec::new();
    for (step, available) in flow.steps.iter().zip(&saved) {
        let Some(available) = available else {
            continue;
        };
        let mut shown: Vec<&str> = step
            .texts()
            .into_iter()
            .flat_map(|text| text.placeholders())
            .collect();
        if let StepKind::Review { answer, .. } = &step.kind {
            shown.push(answer);
        }
        for name in shown {
            if !available.contains(name) {
                missing.push((step.id.0.clone(), name.to_owned()));
            }
        }
    }
    missing
}

fn must_be_saved(flow: &Flow, entry: usize, edges: &[Vec<usize>]) -> Vec<Option<BTreeSet<String>>> {
    let mut saved: Vec<Option<BTreeSet<String>>> = vec![None; flow.steps.len()];
    saved[entry] = Some(BTreeSet::new());
    let position: HashMap<&str, usize> = flow
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| (step.id.0.as_str(), index))
        .collect();
    let mut work = vec![entry];
    while let Some(node) = work.pop() {
        let Some(here) = saved[node].clone() else {
            continue;
        };
        let step = &flow.steps[node];
        let outgoing: Vec<(usize, BTreeSet<String>)> = match &step.kind {
            StepKind::Ask {
                save, next, rule, ..
            } => {
                let mut after = here.clone();
                after.insert(save.clone());
                if *rule == AnswerRule::Zone {
                    after.insert(zone_time_name(save));
                }
                position
                    .get(next.0.as_str())
                    .map(|&to| (to, after))
                    .into_iter()
                    .collect()
            }
            StepKind::Choice { save, choices } => choices
                .iter()
                .filter_map(|choice| {
                    let mut after = here.clone();
                    if let Some(save) = save {
                        after.insert(save.clone());
                        if is_zone_name(&choice.value) {
                            after.insert(zone_time_name(save));
                        }
                    }
                    for cleared in &choice.clear {
                        after.remove(cleared);
                    }
                    position.get(choice.goto.0.as_str()).map(|&to| (to, after))
                })
                .collect(),
            _ => edges[node].iter().map(|&to| (to, here.clone())).collect(),
        };
        for (to, after) in outgoing {
            let merged = match &saved[to] {
                None => after,
                Some(existing) => existing.intersection(&after).cloned().collect(),
            };
            if saved[to].as_ref() != Some(&merged) {
                saved[to] = Some(merged);
                work.push(to);
            }
        }
    }
    saved
}
