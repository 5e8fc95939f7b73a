//! Draws a flow as a Mermaid flowchart so an author can see its shape. Pure.

use std::fmt::Write;

use super::model::{BranchTest, Flow, StepKind};

/// The flow as Mermaid source (`flowchart TD`).
pub fn mermaid(flow: &Flow) -> String {
    let mut out = String::from("flowchart TD\n");
    for step in &flow.steps {
        let id = &step.id.0;
        let label = escape(id);
        let node = match &step.kind {
            StepKind::Message { .. } => format!("{id}(\"{label}\")"),
            StepKind::Choice { .. } => format!("{id}[\"{label}\"]"),
            StepKind::Ask { save, .. } => format!("{id}[/\"{label}: {}\"/]", escape(save)),
            StepKind::Branch { .. } => format!("{id}{{\"{label}\"}}"),
            StepKind::Jump { flow } => format!("{id}[[\"{label}: to {}\"]]", escape(&flow.0)),
            StepKind::End { .. } => format!("{id}([\"{label}\"])"),
        };
        let _ = writeln!(out, "    {node}");
    }
    let _ = writeln!(out, "    start((start)) --> {}", flow.entry.0);
    for step in &flow.steps {
        let from = &step.id.0;
        match &step.kind {
            StepKind::Message { next } | StepKind::Ask { next, .. } => {
                let _ = writeln!(out, "    {from} --> {}", next.0);
            }
            StepKind::Choice { choices, .. } => {
                for choice in choices {
                    let _ = writeln!(
                        out,
                        "    {from} -->|\"{}\"| {}",
                        escape(&choice.label),
                        choice.goto.0
                    );
                }
            }
            StepKind::Branch { rules, otherwise } => {
                for rule in rules {
                    let test = match &rule.test {
                        BranchTest::AnswerEquals { answer, value } => format!("{answer} = {value}"),
                        BranchTest::AnswerAtLeast { answer, bound } => {
                            format!("{answer} ≥ {bound}")
                        }
                        BranchTest::AnswerAtMost { answer, bound } => format!("{answer} ≤ {bound}"),
                        BranchTest::RoleIs(role) => format!("role {}", role.as_str()),
                    };
                    let _ = writeln!(out, "    {from} -->|\"{}\"| {}", escape(&test), rule.goto.0);
                }
                let _ = writeln!(out, "    {from} -->|otherwise| {}", otherwise.0);
            }
            StepKind::Jump { .. } | StepKind::End { .. } => {}
        }
    }
    out
}

/// Mermaid labels are quoted; quotes inside become `#quot;`.
fn escape(text: &str) -> String {
    text.replace('"', "#quot;")
}
