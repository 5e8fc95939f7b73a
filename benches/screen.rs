//! The crisis screen's cost: the learned layer beside the pattern screen it joins, measured in
//! the same run. Criterion times one 100-word message and an ordinary short one through each
//! layer and through both, and building each at start-up; before that, the bench prints the
//! p99 of single calls and the memory each layer holds, which criterion does not report. Run
//! with `cargo bench --bench screen`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use kintsugi::safety::{Classifier, CrisisScreen, PatternScreen};

/// Counts the bytes allocated and not yet freed, to measure what each layer holds.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A 100-word message about the affair with a concern in the middle.
const LONG: &str = "We have been in counselling since March and some weeks it feels like we are getting \
somewhere. He answers my questions now, even the same ones, and he showed me his phone without \
me asking. But last night after the kids were asleep I sat in the car in the garage for a long \
time and I thought about leaving the engine running. I did not. I went back in and lay next to \
him and he did not notice anything. Today I went to work like nothing happened. I do not know \
who to tell or what I am supposed to do next with any of this.";
const ORDINARY: &str = "We talked for an hour tonight and it went better than last week, I think.";

fn pattern_source() -> String {
    std::fs::read_to_string(Path::new("dialogues/crisis-language.toml")).expect("the patterns")
}

/// The 50th and 99th percentile of `runs` single calls, in microseconds.
fn percentiles(runs: usize, mut call: impl FnMut()) -> (f64, f64) {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            call();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[runs / 2], times[runs * 99 / 100])
}

/// Bytes still held after building with `build`.
fn held_by<T>(build: impl FnOnce() -> T) -> (T, f64) {
    let before = LIVE.load(Ordering::Relaxed);
    let built = build();
    let after = LIVE.load(Ordering::Relaxed);
    (built, (after - before) as f64 / (1024.0 * 1024.0))
}

fn report() {
    let source = pattern_source();
    let (patterns, patterns_mb) = held_by(|| PatternScreen::parse(&source).expect("valid"));
    let (classifier, classifier_mb) = held_by(|| Classifier::shipped().expect("the model"));
    let screen = CrisisScreen::parse(&source).expect("valid");
    println!(
        "memory held: patterns {patterns_mb:.1} MB, classifier {classifier_mb:.1} MB (before \
         their first message)"
    );
    let words = LONG.split_whitespace().count();
    for (name, text) in [("100-word message", LONG), ("ordinary message", ORDINARY)] {
        let (p50, p99) = percentiles(5000, || {
            black_box(patterns.check(black_box(text)));
        });
        println!("{name}: patterns p50 {p50:.1} us, p99 {p99:.1} us");
        let (p50, p99) = percentiles(5000, || {
            black_box(classifier.check(black_box(text)));
        });
        println!("{name}: classifier p50 {p50:.1} us, p99 {p99:.1} us");
        let (p50, p99) = percentiles(5000, || {
            black_box(screen.check(black_box(text)));
        });
        println!("{name}: both p50 {p50:.1} us, p99 {p99:.1} us");
    }
    println!("(the long message has {words} words)");
    everyday(&source);
}

/// Everyday messages as a bot meets them: each of the crisis corpus's training `none`
/// messages screened once, in turn, by screens fresh from parsing (nothing warmed up), the
/// mean and p99 of single calls, and the memory the patterns' automata hold afterwards.
fn everyday(source: &str) {
    let texts: Vec<String> = kintsugi::testkit::corpus::safety_split("train")
        .examples
        .into_iter()
        .filter(|example| example.label.is_none())
        .map(|example| example.text)
        .collect();
    let (patterns, _) = held_by(|| PatternScreen::parse(source).expect("valid"));
    let screen = CrisisScreen::parse(source).expect("valid");
    let timed = |call: &dyn Fn(&str)| {
        let mut times: Vec<f64> = texts
            .iter()
            .map(|text| {
                let start = Instant::now();
                call(text);
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        times.sort_by(f64::total_cmp);
        (mean, times[times.len() * 99 / 100])
    };
    let before = LIVE.load(Ordering::Relaxed);
    let (mean, p99) = timed(&|text| {
        black_box(patterns.check(black_box(text)));
    });
    let grown = (LIVE.load(Ordering::Relaxed) - before) as f64 / (1024.0 * 1024.0);
    println!(
        "{} everyday messages, each once: patterns mean {mean:.1} us, p99 {p99:.1} us \
         (their automata grew by {grown:.1} MB)",
        texts.len()
    );
    let (mean, p99) = timed(&|text| {
        black_box(screen.check(black_box(text)));
    });
    println!(
        "{} everyday messages, each once: both mean {mean:.1} us, p99 {p99:.1} us",
        texts.len()
    );
}

fn per_message(c: &mut Criterion) {
    report();
    let source = pattern_source();
    let patterns = PatternScreen::parse(&source).expect("valid");
    let classifier = Classifier::shipped().expect("the model");
    let screen = CrisisScreen::parse(&source).expect("valid");
    assert!(
        screen.check(LONG).is_some(),
        "the concern in the middle is found"
    );
    let mut group = c.benchmark_group("crisis screen, 100-word message");
    group.bench_function("baseline: the pattern screen", |b| {
        b.iter(|| patterns.check(black_box(LONG)))
    });
    group.bench_function("the classifier", |b| {
        b.iter(|| classifier.check(black_box(LONG)))
    });
    group.bench_function("both, as the bot screens", |b| {
        b.iter(|| screen.check(black_box(LONG)))
    });
    group.finish();
}

fn start_up(c: &mut Criterion) {
    let source = pattern_source();
    let mut group = c.benchmark_group("crisis screen, start-up");
    group.sample_size(10);
    group.bench_function("baseline: compile the patterns", |b| {
        b.iter(|| PatternScreen::parse(black_box(&source)).expect("valid"))
    });
    group.bench_function("load the classifier", |b| {
        b.iter(|| Classifier::shipped().expect("the model"))
    });
    group.bench_function("both, side by side", |b| {
        b.iter(|| CrisisScreen::parse(black_box(&source)).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, per_message, start_up);
criterion_main!(benches);
