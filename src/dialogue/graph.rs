//! Draws a flow as a Mermaid flowchart so an author can see its shape. Pure.

use std::fmt::Write;

use super::model::{BranchTest, Flow, StepKind};

/// The flow as Mermaid source (`flowchart TD`).
pub(crate) fn mermaid(flow: &Flow) -> String {
    let mut out = String::from("flowchart TD\n");
    for step in &flow.steps {
        // Mermaid reserves words such as `end`, so node ids get a prefix.
        let id = format!("s_{}", step.id.0);
        let label = escape(&step.id.0);
        let node = match &step.kind {
            StepKind::Message { .. } => format!("{id}(\"{label}\")"),
            StepKind::Review { answer, .. } => {
                format!("{id}{{{{\"{label}: notes on {}\"}}}}", escape(answer))
            }
            StepKind::Choice { .. } => format!("{id}[\"{label}\"]"),
            StepKind::Ask { save, .. } => format!("{id}[/\"{label}: {}\"/]", escape(save)),
            StepKind::Branch { .. } => format!("{id}{{\"{label}\"}}"),
            StepKind::Jump { flow } => format!("{id}[[\"{label}: to {}\"]]", escape(&flow.0)),
            StepKind::End { .. } => format!("{id}([\"{label}\"])"),
        };
        let _ = writeln!(out, "    {node}");
    }
    let _ = writeln!(out, "    start((start)) --> s_{}", flow.entry.0);
    for step in &flow.steps {
        let from = format!("s_{}", step.id.0);
        match &step.kind {
            StepKind::Message { next }
            | StepKind::Review {
                next,
                next_if_clear: None,
                ..
            }
            | StepKind::Ask { next, .. } => {
                let _ = writeln!(out, "    {from} --> s_{}", next.0);
            }
            StepKind::Review {
                next,
                next_if_clear: Some(clear),
                ..
            } => {
                let _ = writeln!(out, "    {from} -->|\"notes\"| s_{}", next.0);
                let _ = writeln!(out, "    {from} -->|\"all clear\"| s_{}", clear.0);
            }
            StepKind::Choice { choices, .. } => {
                for choice in choices {
                    let _ = writeln!(
                        out,
                        "    {from} -->|\"{}\"| s_{}",
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
                        BranchTest::ConcernIs(kind) => format!("concern {kind:?}"),
                        BranchTest::ScreenedWithin(seconds) => {
                            format!("screened within {} h", seconds / 3600)
                        }
                    };
                    let _ = writeln!(
                        out,
                        "    {from} -->|\"{}\"| s_{}",
                        escape(&test),
                        rule.goto.0
                    );
                }
                let _ = writeln!(out, "    {from} -->|otherwise| s_{}", otherwise.0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::model::{Flow, FlowId, Role, Step, StepId};

    #[test]
    fn reserved_words_as_step_ids_still_draw() {
        let flow = Flow::new(
            FlowId("f".to_owned()),
            1,
            "F".to_owned(),
            "f".to_owned(),
            vec![Role::Hurt],
            StepId("end".to_owned()),
            true,
            vec![Step {
                id: StepId("end".to_owned()),
                say: None,
                kind: StepKind::End {
                    suggest: Vec::new(),
                    effect: None,
                },
            }],
        );
        let drawn = mermaid(&flow);
        assert!(drawn.contains("s_end([\"end\"])"), "{drawn}");
        assert!(drawn.contains("start((start)) --> s_end"), "{drawn}");
    }
}
