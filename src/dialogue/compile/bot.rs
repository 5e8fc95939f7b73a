//! Checks `bot.toml`: the bot's own messages, the safety settings and the commands.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use toml::Spanned;

use crate::diagnostics::{Diagnostic, did_you_mean};
use crate::dialogue::model::{
    BOT_MESSAGES, BUILT_IN_COMMANDS, BotCommand, BotText, CheckinFlows, CommandAction, Flow,
    FlowId, Reflection, Role, SafetySteps, StepId, StepKind,
};
use crate::dialogue::review::Phrase;
use crate::dialogue::source::{BotFile, CommandFile, ListenFile, SourceFile};
use crate::dialogue::template::Template;

use super::{KnownFlows, MAX_ID_LENGTH, unsaved_from};

pub(super) fn check_bot(
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
    let listen = check_listen(file, &parsed.listen, known_flows, problems);
    (problems.len() == before).then(|| {
        (
            BotText {
                start_flow: FlowId(start_flow.clone()),
                messages,
                commands,
                checkin_flows,
                safety,
                listen,
            },
            menu_order,
        )
    })
}

/// Checks `[[listen]]`: usable and distinct ids, words to listen for, a short reply, and
/// offers of flows that exist.
fn check_listen(
    file: &SourceFile,
    entries: &[Spanned<ListenFile>],
    known_flows: &KnownFlows,
    problems: &mut Vec<Diagnostic>,
) -> Vec<Reflection> {
    let at =
        |span: Range<usize>, message: String| Diagnostic::at(&file.path, &file.text, span, message);
    let mut seen = HashSet::new();
    let mut built = Vec::new();
    for entry in entries {
        let entry = entry.get_ref();
        let id = entry.id.get_ref();
        if !super::is_step_id(id) {
            problems.push(
                at(entry.id.span(), format!("listen id \"{id}\" is not usable")).help(format!(
                    "use lowercase letters, digits and \"_\", at most {MAX_ID_LENGTH} characters"
                )),
            );
        } else if !seen.insert(id.clone()) {
            problems.push(
                at(
                    entry.id.span(),
                    format!("two [[listen]] entries have the id \"{id}\""),
                )
                .help("give each its own id"),
            );
        }
        let mut mentions = Vec::new();
        for word in entry.when_any.get_ref() {
            match Phrase::parse(word.get_ref()) {
                Some(phrase) => mentions.push(phrase),
                None => problems.push(at(
                    word.span(),
                    format!("\"{}\" holds no word to listen for", word.get_ref()),
                )),
            }
        }
        if entry.when_any.get_ref().is_empty() {
            problems.push(
                at(
                    entry.when_any.span(),
                    format!("[[listen]] \"{id}\" listens for nothing"),
                )
                .help("list the words or phrases it answers, like [\"sleep*\", \"awake\"]"),
            );
        }
        let say = entry.say.get_ref().trim();
        if say.is_empty() {
            problems.push(at(
                entry.say.span(),
                format!("[[listen]] \"{id}\" says nothing"),
            ));
        } else if say.chars().count() > crate::dialogue::model::LONG_MESSAGE {
            problems.push(at(
                entry.say.span(),
                format!(
                    "[[listen]] \"{id}\" says {} characters; keep it under {}",
                    say.chars().count(),
                    crate::dialogue::model::LONG_MESSAGE
                ),
            ));
        }
        for flow in &entry.offer {
            if known_flows.lacks(flow.get_ref()) {
                problems.push(known_flows.suggest(
                    at(
                        flow.span(),
                        format!(
                            "[[listen]] \"{id}\" offers unknown flow \"{}\"",
                            flow.get_ref()
                        ),
                    ),
                    flow.get_ref(),
                ));
            }
        }
        let mut roles = Vec::new();
        for word in &entry.roles {
            match Role::parse(word.get_ref()) {
                Some(role) if !roles.contains(&role) => roles.push(role),
                Some(_) => {}
                None => problems.push(
                    at(
                        word.span(),
                        format!(
                            "[[listen]] \"{id}\" is for unknown role \"{}\"",
                            word.get_ref()
                        ),
                    )
                    .help("roles are \"hurt\", \"broke_trust\" and \"together\""),
                ),
            }
        }
        built.push(Reflection {
            id: id.clone(),
            mentions,
            roles,
            say: say.to_owned(),
            offer: entry
                .offer
                .iter()
                .map(|flow| FlowId(flow.get_ref().clone()))
                .collect(),
        });
    }
    built
}

/// Checks `[safety]`: the flow exists and has the grounding and safety-plan steps.
pub(super) fn check_safety(
    file: &SourceFile,
    safety: &crate::dialogue::source::SafetyFile,
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
pub(super) fn check_commands(
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
        let partner_rules = raw.partner_rules.unwrap_or(false);
        let rule_notes = raw.rule_notes.as_ref().and_then(|named| {
            let notes = rule_notes_step(named.get_ref(), known_flows, flows);
            match (partner_rules, notes) {
                (false, _) => {
                    problems.push(
                        at(
                            named.span(),
                            format!("/{name_text} has `rule_notes` but no `partner_rules`"),
                        )
                        .help("add `partner_rules = true`: only rules proposed there meet these notes"),
                    );
                    None
                }
                (true, Ok(step)) => Some(step),
                (true, Err((message, help))) => {
                    problems.push(at(named.span(), message).help(help));
                    None
                }
            }
        });
        if problems.len() == before {
            commands.insert(
                name_text.clone(),
                BotCommand {
                    about: about.to_owned(),
                    action,
                    partner_rules,
                    rule_notes,
                },
            );
        }
    }
    commands
}

/// The shared question `named` ("flow.step") whose notes a proposed rule meets, or what is
/// wrong with it and how to mend it.
fn rule_notes_step(
    named: &str,
    known_flows: &KnownFlows,
    flows: &[Flow],
) -> Result<(FlowId, StepId), (String, String)> {
    let Some((flow_id, step_id)) = named.split_once('.') else {
        return Err((
            format!("`rule_notes` names \"{named}\", not a flow's step"),
            "write it as \"<flow>.<step>\", for example \"our-agreements.ask\"".to_owned(),
        ));
    };
    if known_flows.lacks(flow_id) {
        return Err((
            format!("`rule_notes` names unknown flow \"{flow_id}\""),
            "name a flow in dialogues/, then the step: \"<flow>.<step>\"".to_owned(),
        ));
    }
    let Some(flow) = flows.iter().find(|flow| flow.id.0 == flow_id) else {
        // The flow has problems of its own, reported where it is.
        return Err((
            format!("`rule_notes` names flow \"{flow_id}\", which did not load"),
            "mend that flow first".to_owned(),
        ));
    };
    let Some(step) = flow.step(step_id) else {
        let names = flow.steps.iter().map(|step| step.id.0.as_str());
        return Err((
            format!(
                "`rule_notes` names step \"{step_id}\", which flow \"{flow_id}\" does not have"
            ),
            match did_you_mean(step_id, names) {
                Some(close) => format!("did you mean \"{flow_id}.{close}\"?"),
                None => "name a shared question that has `notes`".to_owned(),
            },
        ));
    };
    match &step.kind {
        StepKind::Ask { before_sharing, .. } if !before_sharing.is_empty() => {
            Ok((FlowId(flow_id.to_owned()), StepId(step_id.to_owned())))
        }
        _ => Err((
            format!(
                "`rule_notes` names step \"{step_id}\" of flow \"{flow_id}\", which has no notes before sharing"
            ),
            "name a shared question that has `[[steps.<step>.notes]]`".to_owned(),
        )),
    }
}
