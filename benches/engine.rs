//! Engine benchmarks: one transition, and compiling and validating the whole dialogues/ folder,
//! each beside a baseline measured in the same run so the figure is a ratio that holds on a
//! noisy machine. Run with `cargo bench --bench engine`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use kintsugi::dialogue::{Input, PersonState, advance, compile};
use kintsugi::dialogue_dir::{compile_dir, read};

fn transition(c: &mut Criterion) {
    let library = compile_dir(Path::new("dialogues")).expect("valid dialogues");
    // A person in the middle of ground-rules, at "How long should one talk last?", with an
    // answer saved: start the flow, press "Let's begin" and "I'll think of one", type a place.
    let (mut state, mut buttons) = (PersonState::default(), Vec::new());
    for input in [
        "/start ground-rules",
        "press",
        "press",
        "Saturday morning, on a walk",
    ] {
        let input = match input {
            "press" => Input::Press(buttons.first().cloned().expect("a button to press")),
            text => Input::from_text(text),
        };
        let outcome = advance(&library, &state, &input, 0);
        state = outcome.state;
        buttons = outcome
            .replies
            .iter()
            .flat_map(|reply| reply.buttons.iter().map(|button| button.data.clone()))
            .collect();
    }
    let press = Input::Press(buttons[1].clone());
    assert!(
        advance(&library, &state, &press, 0).changed,
        "the benchmark press is valid"
    );

    let mut group = c.benchmark_group("transition");
    group.bench_function("baseline: clone the state", |b| {
        b.iter(|| black_box(black_box(&state).clone()))
    });
    group.bench_function("engine: press a button", |b| {
        b.iter(|| advance(black_box(&library), black_box(&state), black_box(&press), 0))
    });
    group.bench_function("engine: type an answer", |b| {
        let mut at_question = state.clone();
        at_question = advance(&library, &at_question, &press, 0).state;
        let answer = Input::Text("anchor".to_owned());
        b.iter(|| {
            advance(
                black_box(&library),
                black_box(&at_question),
                black_box(&answer),
                0,
            )
        })
    });
    group.finish();
}

fn compiling(c: &mut Criterion) {
    let sources = read(Path::new("dialogues")).expect("readable dialogues");
    let mut group = c.benchmark_group("dialogues");
    group.bench_function("baseline: parse TOML only", |b| {
        b.iter(|| {
            for source in &sources {
                black_box(toml::from_str::<toml::Table>(&source.text).ok());
            }
        })
    });
    group.bench_function("compile and validate (in memory)", |b| {
        b.iter(|| compile(black_box(&sources)).expect("valid"))
    });
    group.bench_function("read, compile and validate the folder", |b| {
        b.iter(|| compile_dir(Path::new("dialogues")).expect("valid"))
    });
    group.finish();
}

fn screening(c: &mut Criterion) {
    let library = compile_dir(Path::new("dialogues")).expect("valid dialogues");
    let ordinary = "We talked for an hour tonight and it went better than last week, I think.";
    let crisis = "honestly I don't see the point of going on anymore";
    assert!(library.screen(ordinary).is_none() && library.screen(crisis).is_some());
    let mut group = c.benchmark_group("crisis screen");
    group.bench_function("baseline: lowercase the message", |b| {
        b.iter(|| black_box(black_box(ordinary).to_lowercase()))
    });
    group.bench_function("screen an ordinary message", |b| {
        b.iter(|| library.screen(black_box(ordinary)))
    });
    group.bench_function("screen a message in crisis", |b| {
        b.iter(|| library.screen(black_box(crisis)))
    });
    group.finish();
}

criterion_group!(benches, transition, compiling, screening);
criterion_main!(benches);
