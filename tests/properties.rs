//! Property tests: random walks through every shipped flow. Whatever a person sends (buttons,
//! forged data, empty, huge or non-ASCII text, commands), the engine never panics and never
//! leaves the graph; and a person who answers sensibly always reaches an end.

use std::path::Path;
use std::sync::OnceLock;

use kintsugi::dialogue::model::{AnswerRule, StepKind};
use kintsugi::dialogue::{Input, Keyboard, Library, PersonState, Reply, advance};
use kintsugi::dialogue_dir::compile_dir;
use proptest::prelude::*;

fn library() -> &'static Library {
    static LIBRARY: OnceLock<Library> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        compile_dir(Path::new("dialogues")).expect("the shipped dialogues are valid")
    })
}

/// One thing a person might do.
#[derive(Debug, Clone)]
enum Move {
    Press(usize),
    Forged(String),
    Text(String),
    Command(&'static str),
}

fn moves() -> impl Strategy<Value = Move> {
    prop_oneof![
        6 => any::<usize>().prop_map(Move::Press),
        1 => ".{0,80}".prop_map(Move::Forged),
        3 => prop_oneof![
            Just(String::new()),
            Just("   ".to_owned()),
            Just("x".repeat(5000)),
            Just("7".to_owned()),
            Just("-3".to_owned()),
            Just("99999999999999999999".to_owned()),
            "\\PC{0,300}",
            "[0-9]{1,3}",
        ]
        .prop_map(Move::Text),
        1 => prop::sample::select(vec!["/start", "/menu", "/help", "/cancel", "/continue", "/nope", "/start forgiveness", "/start nowhere"])
            .prop_map(Move::Command),
    ]
}

/// Checks the invariants every state must keep.
fn assert_in_graph(library: &Library, state: &PersonState, replies: &[Reply]) {
    if let Some(position) = &state.position {
        let flow = library
            .flow(&position.flow.0)
            .unwrap_or_else(|| panic!("left the graph: unknown flow {}", position.flow));
        assert!(
            flow.step(&position.step.0).is_some(),
            "left the graph: unknown step {}",
            position.step
        );
        assert_eq!(position.version, flow.version);
        assert!(
            flow.step(&position.step.0)
                .is_some_and(|step| step.kind.waits_for_person()),
            "stopped on a step that does not wait: {}",
            position.step
        );
    }
    assert!(!replies.is_empty(), "every input gets an answer");
    for reply in replies {
        assert!(!reply.text.trim().is_empty(), "an empty message");
        assert!(
            reply.text.encode_utf16().count() <= 4096,
            "a message over Telegram's limit"
        );
        assert!(reply.buttons.len() <= 100);
        for button in &reply.buttons {
            assert!(
                button.data.len() <= 64,
                "button data over 64 bytes: {}",
                button.data
            );
        }
    }
}

fn last_buttons(replies: &[Reply]) -> Vec<String> {
    replies
        .iter()
        .rev()
        .find(|reply| !reply.buttons.is_empty())
        .map(|reply| {
            reply
                .buttons
                .iter()
                .map(|button| button.data.clone())
                .collect()
        })
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_input_keeps_the_person_inside_the_graph(flow_index in any::<usize>(), walk in prop::collection::vec(moves(), 0..60)) {
        let library = library();
        // Couple flows need two linked partners: tests/couples.rs walks them.
        let alone: Vec<_> = library.flows.iter().filter(|flow| !flow.couple).collect();
        let flow = alone[flow_index % alone.len()];
        let mut state = PersonState::default();
        let outcome = advance(library, &state, &Input::from_text(&format!("/start {}", flow.id)), 0);
        assert_in_graph(library, &outcome.state, &outcome.replies);
        let mut buttons = last_buttons(&outcome.replies);
        state = outcome.state;
        for (time, step) in walk.into_iter().enumerate() {
            let input = match step {
                Move::Press(index) if !buttons.is_empty() => Input::Press(buttons[index % buttons.len()].clone()),
                Move::Press(_) => Input::Text("hello".to_owned()),
                Move::Forged(data) => Input::Press(data),
                Move::Text(text) => Input::Text(text),
                Move::Command(command) => Input::from_text(command),
            };
            let outcome = advance(library, &state, &input, time as i64);
            assert_in_graph(library, &outcome.state, &outcome.replies);
            if !outcome.changed {
                prop_assert_eq!(&outcome.state, &state);
            }
            let shown = last_buttons(&outcome.replies);
            if !shown.is_empty() {
                buttons = shown;
            }
            state = outcome.state;
        }
    }

    #[test]
    fn a_person_who_answers_sensibly_reaches_an_end(flow_index in any::<usize>(), picks in prop::collection::vec(any::<usize>(), 400)) {
        let library = library();
        // Couple flows need two linked partners: tests/couples.rs walks them.
        let alone: Vec<_> = library.flows.iter().filter(|flow| !flow.couple).collect();
        let flow = alone[flow_index % alone.len()];
        let outcome = advance(library, &PersonState::default(), &Input::from_text(&format!("/start {}", flow.id)), 0);
        let mut state = outcome.state;
        let mut buttons = last_buttons(&outcome.replies);
        let mut ended = matches!(state.keyboard, Keyboard::End { .. });
        for (time, pick) in picks.into_iter().enumerate() {
            if ended {
                break;
            }
            let position = state.position.clone().expect("inside a flow until it ends");
            let step = library.flow(&position.flow.0).and_then(|flow| flow.step(&position.step.0)).expect("a real step");
            let input = match &step.kind {
                StepKind::Ask { rule: AnswerRule::Number { min, max }, .. } => {
                    let span = (max - min + 1) as usize;
                    Input::Text((min + (pick % span) as i64).to_string())
                }
                StepKind::Ask { rule: AnswerRule::Time, .. } => Input::Text(format!("{}:30", pick % 24)),
                StepKind::Ask { rule: AnswerRule::Zone, .. } => {
                    let places = ["Berlin", "new york", "Australia/Sydney", "São Paulo"];
                    Input::Text(places[pick % places.len()].to_owned())
                }
                StepKind::Ask { rule: AnswerRule::Text { max_length, .. }, .. } => {
                    Input::Text("Something true, in my own words: ünïcødé 🌱".chars().take(*max_length).collect())
                }
                _ => Input::Press(buttons[pick % buttons.len()].clone()),
            };
            let outcome = advance(library, &state, &input, time as i64);
            assert_in_graph(library, &outcome.state, &outcome.replies);
            prop_assert!(outcome.changed, "a sensible answer always moves the person on");
            let shown = last_buttons(&outcome.replies);
            if !shown.is_empty() {
                buttons = shown;
            }
            state = outcome.state;
            ended = matches!(state.keyboard, Keyboard::End { .. });
        }
        prop_assert!(ended, "no end within 400 sensible inputs");
    }
}
