//! Checks `faq.toml`: the questions people often ask, their buttons, answers and flows.

use std::collections::HashMap;
use std::ops::Range;

use crate::diagnostics::Diagnostic;
use crate::dialogue::model::FlowId;
use crate::dialogue::model::{Faq, Question, Role, Wording};
use crate::dialogue::source::{FaqFile, SourceFile};
use toml::Spanned;

use super::{KnownFlows, MAX_ID_LENGTH, MAX_LABEL_LENGTH, MAX_MESSAGE_LENGTH, is_flow_id};

/// Checks `faq.toml`: unique ids, short buttons, answers that fit one message, and flows
/// offered that exist.
pub(super) fn check_faq(
    file: &SourceFile,
    parsed: FaqFile,
    known_flows: &KnownFlows,
    problems: &mut Vec<Diagnostic>,
) -> Faq {
    let at =
        |span: Range<usize>, message: String| Diagnostic::at(&file.path, &file.text, span, message);
    let mut check_takeaways = |field: &str, text: &Spanned<String>| {
        let takeaways = text.get_ref().trim();
        if takeaways.is_empty() {
            problems.push(at(text.span(), format!("`{field}` is empty")));
        }
        if takeaways.chars().count() > MAX_MESSAGE_LENGTH {
            problems.push(
                at(
                    text.span(),
                    format!(
                        "`{field}` is {} characters long; Telegram allows {MAX_MESSAGE_LENGTH}",
                        takeaways.chars().count()
                    ),
                )
                .help("shorten it"),
            );
        }
        takeaways.to_owned()
    };
    let takeaways = check_takeaways("takeaways", &parsed.takeaways);
    let takeaways_broke_trust = parsed
        .takeaways_broke_trust
        .as_ref()
        .map(|text| check_takeaways("takeaways_broke_trust", text));
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
        let button = check_wording(
            number,
            "",
            (&raw.button, &raw.question, &raw.answer),
            &at,
            problems,
        );
        let mut wordings = Vec::new();
        for (role, wording) in [
            (Role::Hurt, &raw.hurt),
            (Role::BrokeTrust, &raw.broke_trust),
        ] {
            let Some(wording) = wording else { continue };
            let wording = wording.get_ref();
            let place = format!("[questions.{}] ", role.as_str());
            let button = check_wording(
                number,
                &place,
                (&wording.button, &wording.question, &wording.answer),
                &at,
                problems,
            );
            wordings.push((
                role,
                Wording {
                    button,
                    question: wording.question.get_ref().trim().to_owned(),
                    answer: wording.answer.get_ref().trim().to_owned(),
                },
            ));
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
            button,
            question: raw.question.get_ref().trim().to_owned(),
            answer: raw.answer.get_ref().trim().to_owned(),
            keywords: raw.keywords.clone().unwrap_or_default(),
            examples: raw.examples.clone().unwrap_or_default(),
            flows,
            wordings,
            terms: Default::default(),
        });
    }
    Faq {
        questions,
        takeaways,
        takeaways_broke_trust,
        example_counts: Default::default(),
        ranker: Default::default(),
    }
}

/// Checks one wording of question `number` (its main one, or `place` naming a partner's):
/// a one-line button that fits, a question and an answer that are not empty and fit one
/// message together. Returns the button, trimmed.
fn check_wording(
    number: usize,
    place: &str,
    (button, question, answer): (&Spanned<String>, &Spanned<String>, &Spanned<String>),
    at: &impl Fn(Range<usize>, String) -> Diagnostic,
    problems: &mut Vec<Diagnostic>,
) -> String {
    let label = button.get_ref().trim();
    let length = label.chars().count();
    if length == 0 || length > MAX_LABEL_LENGTH || label.contains('\n') {
        problems.push(
            at(
                button.span(),
                format!("question {number}: {place}the button must be one line of 1 to {MAX_LABEL_LENGTH} characters, but it has {length}"),
            )
            .help("write a short label, such as \"How long it takes\""),
        );
    }
    for (field, text) in [("question", question), ("answer", answer)] {
        if text.get_ref().trim().is_empty() {
            problems.push(at(
                text.span(),
                format!("question {number}: {place}`{field}` is empty"),
            ));
        }
    }
    let shown =
        question.get_ref().trim().chars().count() + 2 + answer.get_ref().trim().chars().count();
    if shown > MAX_MESSAGE_LENGTH {
        problems.push(
            at(
                answer.span(),
                format!("question {number}: {place}the question and answer are {shown} characters together; Telegram allows {MAX_MESSAGE_LENGTH}"),
            )
            .help("shorten the answer"),
        );
    }
    label.to_owned()
}
