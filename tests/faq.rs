//! How well a typed question finds its FAQ answer, measured on paraphrases written by people
//! who never saw the answers' keywords (`corpus/faq/`): the tuning sets (thirteen writers, the
//! first ten of them the shipped examples), which the keywords and the matcher may be tuned
//! against; the held-out sets by three other writers, which nothing is ever tuned against; and
//! thirteen fresh held-out sets (`fresh/`), each frozen before the matcher changed again and
//! measured as it came. Each line is `id<TAB>message`.

use std::path::Path;

use kintsugi::dialogue::Library;
use kintsugi::dialogue::faq::{Tuning, looks_like_question};
use kintsugi::dialogue::model::Question;
use kintsugi::dialogue_dir::compile_dir;

fn library() -> Library {
    compile_dir(Path::new("dialogues")).expect("the shipped dialogues are valid")
}

/// Every `(id, message)` in the files at `paths`.
fn paraphrases(paths: &[&str]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).expect("a paraphrase file");
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            if let Some((id, message)) = line.split_once('\t') {
                found.push((id.trim().to_owned(), message.trim().to_owned()));
            }
        }
    }
    found
}

fn held_out_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir("corpus/faq/held-out")
        .expect("the held-out folder")
        .map(|entry| entry.expect("an entry").path().display().to_string())
        .filter(|path| path.ends_with(".txt"))
        .collect();
    files.sort();
    files
}

/// The ids of `questions`, best first.
fn ids(questions: Vec<&Question>) -> Vec<&str> {
    questions
        .into_iter()
        .map(|question| question.id.as_str())
        .collect()
}

/// The ids of the questions offered for `text` typed in passing, best first.
fn offered<'a>(library: &'a Library, text: &str) -> Vec<&'a str> {
    ids(library.faq.suggest(text))
}

/// The ids of the questions offered to someone who sent `/faq text`, best first.
fn offered_when_asked<'a>(library: &'a Library, text: &str) -> Vec<&'a str> {
    ids(library.faq.closest(text))
}

/// How many messages find their question first, and how many have it among the offered ones
/// (typed as they are, and sent with `/faq`).
struct Figures {
    total: usize,
    first: usize,
    offered: usize,
    asked: usize,
    misses: Vec<String>,
}

fn measure(library: &Library, set: &[(String, String)]) -> Figures {
    let mut figures = Figures {
        total: set.len(),
        first: 0,
        offered: 0,
        asked: 0,
        misses: Vec::new(),
    };
    for (id, message) in set {
        let found = offered(library, message);
        figures.first += usize::from(found.first() == Some(&id.as_str()));
        figures.offered += usize::from(found.contains(&id.as_str()));
        figures.asked += usize::from(offered_when_asked(library, message).contains(&id.as_str()));
        if found.first() != Some(&id.as_str()) {
            figures
                .misses
                .push(format!("{id}: {message:?} -> {found:?}"));
        }
    }
    figures
}

/// Prints the figures, and the misses when `misses` (never for the held-out set: nobody
/// should tune on what it misses).
fn report(name: &str, figures: &Figures, misses: bool) {
    eprintln!(
        "{name}: first {}/{} ({:.2}), offered {}/{} ({:.2}), offered when sent with /faq {}/{}",
        figures.first,
        figures.total,
        figures.first as f64 / figures.total as f64,
        figures.offered,
        figures.total,
        figures.offered as f64 / figures.total as f64,
        figures.asked,
        figures.total,
    );
    if misses {
        for miss in &figures.misses {
            eprintln!("  {miss}");
        }
    }
}

#[test]
fn typed_questions_find_their_answer_on_paraphrases_nobody_tuned_on() {
    let library = library();
    let files = held_out_files();
    let held_out = paraphrases(&files.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        held_out.len() >= 120,
        "{} held-out paraphrases",
        held_out.len()
    );
    let figures = measure(&library, &held_out);
    report("held-out", &figures, false);
    let tuning = measure(&library, &paraphrases(&TUNING));
    report("tuning", &tuning, true);
    // The bar: the right answer first for nine in ten. Offered (among the three buttons) for
    // every message is the aim, not yet met: measured at 187 of 189 (writers a, b and c), so
    // the test holds 98 in 100 as a floor against going backwards.
    assert!(figures.first * 10 >= figures.total * 9, "first too rarely");
    assert!(
        figures.offered * 100 >= figures.total * 98,
        "offered too rarely"
    );
}

/// The fresh held-out sets: each writer saw only the catalogue, the set was frozen before
/// the change it first measured, and nothing is ever tuned on it; it is reported, never its
/// misses. `(writer, messages, floor)`: the floor is the figure it had as it came (first),
/// a guard against going backwards; the target is nine in ten.
/// - d: 107/126 first before the examples, then 113, 114 after a sixth writer's examples (the
///   floor).
/// - h (after the examples were chosen): 153/168 first as it came.
/// - j: 158/168 first (0.94), 167/168 offered, as it came.
/// - k (short messy texts, long stories with the question buried): 147/168 (0.88), 166/168.
/// - m (after the learned order shipped; late-night phone texts, some never using the obvious
///   word): 153/168 (0.91), 160/168.
/// - n (the same; calmer, looking back, partners who cheated asking for themselves): 154/168
///   (0.92), 163/168.
/// - r (written before the learned gate and blend were chosen, measured once they shipped; a
///   wide mix of people and shapes): 164/168 (0.98), 167/168.
/// - s (measured before the closest questions were offered to `/faq` with no match; per
///   question two texts of 2-6 words and one oblique message among eight; 144 of its 168
///   lines, as its header says): 126/144 (0.88), 135/144 offered, 137/144 with `/faq`.
/// - t (the same shapes, written after the closest questions were offered to `/faq`):
///   156/168 (0.93), 160/168 offered, 163/168 with `/faq`.
/// - v (the same shapes, frozen before three more tuning writers were weighed as examples,
///   which were then not shipped): 158/168 (0.94), 162/168 offered, 167/168 with `/faq`.
/// - y and z (the same shapes; frozen before a model of meaning was weighed): y 157/168
///   (0.93), 162/168 offered, 163/168 with `/faq`; z 160/168 (0.95), 167/168, 167/168.
/// - aa (the same shapes; frozen before five questions were offered when the learned order is
///   unsure): 154/168 (0.92), 161/168 offered, 162/168 with `/faq`.
const FRESH: [(&str, usize, usize); 13] = [
    ("d", 126, 114),
    ("h", 168, 153),
    ("j", 168, 158),
    ("k", 168, 147),
    ("m", 168, 153),
    ("n", 168, 154),
    ("r", 168, 164),
    ("s", 144, 126),
    ("t", 168, 156),
    ("v", 168, 158),
    ("y", 168, 157),
    ("z", 168, 160),
    ("aa", 168, 154),
];

#[test]
fn each_fresh_held_out_set_is_measured_as_it_was_written() {
    for (writer, length, floor) in FRESH {
        measure_fresh(writer, length, floor);
    }
}

/// Measures the frozen fresh held-out set of `writer` (`length` messages, whole) and reports
/// it; the right answer must come first for at least `floor` of them (the figure the set had
/// as it came, or when its floor was set), a guard against going backwards.
fn measure_fresh(writer: &str, length: usize, floor: usize) {
    let library = library();
    let fresh = paraphrases(&[format!("corpus/faq/fresh/writer-{writer}.txt").as_str()]);
    assert_eq!(fresh.len(), length, "the frozen set, whole");
    let figures = measure(&library, &fresh);
    report(
        &format!("fresh held-out (writer {writer})"),
        &figures,
        false,
    );
    assert!(figures.first >= floor, "writer {writer}: first too rarely");
}

/// The tuning sets, one per writer. The first ten are `faq.toml`'s examples; writers 11-13
/// (short texts, oblique messages, mixed shapes) are not: as examples they changed nothing for
/// the first ten left out in turn (1,435 to 1,436 of 1,491 first, 1,465 offered either way),
/// nor much for each other (414 of their 504 first, against 407 as they came), and the learned
/// order would take longer to fit at every start.
const TUNING: [&str; 13] = [
    "corpus/faq/tuning.txt",
    "corpus/faq/tuning-2.txt",
    "corpus/faq/tuning-3.txt",
    "corpus/faq/tuning-4.txt",
    "corpus/faq/tuning-5.txt",
    "corpus/faq/tuning-6.txt",
    "corpus/faq/tuning-7.txt",
    "corpus/faq/tuning-8.txt",
    "corpus/faq/tuning-9.txt",
    "corpus/faq/tuning-10.txt",
    "corpus/faq/tuning-11.txt",
    "corpus/faq/tuning-12.txt",
    "corpus/faq/tuning-13.txt",
];

/// Chooses how the matcher weighs examples, on the tuning sets alone: each writer's messages
/// are matched with the other writers' messages as the examples, for each tuning; beside it,
/// how many ordinary messages (the crisis corpus's training messages labelled `none`, written
/// as answers and venting, not as FAQ questions) are offered a question at all, statements
/// and questions apart. Run by hand (`cargo test --release --test faq -- --ignored
/// --nocapture`); it reads no held-out set.
#[test]
#[ignore]
fn the_tuning_is_chosen_by_leaving_each_tuning_writer_out() {
    let (statements, questions) = ordinary_messages();
    let shipped = library();
    let mut tunings = vec![Tuning {
        learned_order: false,
        ..Tuning::SHIPPED
    }];
    for (learned_gate, gate_words) in [
        (2.0, 0),
        (0.8, 0),
        (0.8, 4),
        (0.8, 6),
        (0.8, 8),
        (0.7, 6),
        // As offered to someone who sent `/faq` (`Tuning::ASKED`).
        (0.0, 0),
    ] {
        tunings.push(Tuning {
            learned_gate,
            gate_words,
            ..Tuning::SHIPPED
        });
    }
    // How many are offered when the learned order is unsure of its first (shipped: five
    // below 0.9), typed in passing and sent with `/faq`.
    for (offers_when_unsure, sure_of_first) in [(3, 0.0), (4, 0.9), (5, 2.0), (5, 0.7)] {
        for base in [Tuning::SHIPPED, Tuning::ASKED] {
            tunings.push(Tuning {
                offers_when_unsure,
                sure_of_first,
                ..base
            });
        }
    }
    for tuning in tunings {
        // The first ten writers, left out in turn, with the other nine as examples (the pool
        // before writers 11-13) and then with the other twelve; and every writer left out.
        let (first_ten, _) = TUNING.split_at(10);
        let before = sum(&leave_each_out(first_ten, tuning));
        let every = leave_each_out(&TUNING, tuning);
        let after = sum(&every[..10]);
        let (first, offered, total) = sum(&every);
        println!(
            "{tuning:?}: writers 1-10 with ten writers' examples: first {}/{total_ten}, offered {}; with thirteen: first {}, offered {}",
            before.0,
            before.1,
            after.0,
            after.1,
            total_ten = before.2,
        );
        let offers = |texts: &[String]| {
            texts
                .iter()
                .filter(|text| !shipped.faq.suggest_with(text, tuning).is_empty())
                .count()
        };
        println!(
            "{tuning:?}: first {first}/{total}, offered {offered}/{total}; ordinary statements offered a question {}/{}, ordinary questions {}/{}",
            offers(&statements),
            statements.len(),
            offers(&questions),
            questions.len(),
        );
    }
}

/// Leaves each writer of `pool` out in turn, with the other writers as the examples, and
/// counts `(first, offered, messages)` for each, in `pool`'s order.
fn leave_each_out(pool: &[&str], tuning: Tuning) -> Vec<(usize, usize, usize)> {
    pool.iter()
        .map(|left_out| {
            let mut library = library();
            let others: Vec<&str> = pool
                .iter()
                .copied()
                .filter(|path| path != left_out)
                .collect();
            let examples = paraphrases(&others);
            for question in &mut library.faq.questions {
                question.examples = examples
                    .iter()
                    .filter(|(id, _)| *id == question.id)
                    .map(|(_, message)| message.clone())
                    .collect();
            }
            let (mut first, mut offered, mut total) = (0, 0, 0);
            for (id, message) in paraphrases(&[left_out]) {
                let found = offered_ids(&library, &message, tuning);
                total += 1;
                first += usize::from(found.first() == Some(&id.as_str()));
                offered += usize::from(found.contains(&id.as_str()));
            }
            (first, offered, total)
        })
        .collect()
}

/// The ids of the questions offered for `text` with `tuning`, best first.
fn offered_ids<'a>(library: &'a Library, text: &str, tuning: Tuning) -> Vec<&'a str> {
    ids(library.faq.suggest_with(text, tuning))
}

/// `(first, offered, messages)` added up.
fn sum(counts: &[(usize, usize, usize)]) -> (usize, usize, usize) {
    counts
        .iter()
        .fold((0, 0, 0), |(a, b, c), (x, y, z)| (a + x, b + y, c + z))
}

/// The crisis corpus's training messages labelled `none`: those that do not read like a
/// question, and those that do.
fn ordinary_messages() -> (Vec<String>, Vec<String>) {
    let (mut statements, mut questions) = (Vec::new(), Vec::new());
    let examples = kintsugi::testkit::corpus::safety_split("train").examples;
    for example in examples.into_iter().filter(|e| e.label.is_none()) {
        if looks_like_question(&example.text) {
            questions.push(example.text);
        } else {
            statements.push(example.text);
        }
    }
    (statements, questions)
}

#[test]
fn small_talk_and_venting_find_nothing_in_the_shipped_faq() {
    let library = library();
    for text in [
        "hello",
        "I had a long day",
        "thanks!",
        "thank you so much",
        "ok",
        "we had dinner together tonight",
        "I'm at work right now",
        "I feel so angry today",
        "I'm so tired of everything",
        "I hate this",
        "it was a good day today",
        "we went for a walk",
        "I cried in the car again",
    ] {
        let found = offered(&library, text);
        assert!(found.is_empty(), "{text:?} found {found:?}");
    }
}

#[test]
fn a_message_the_matcher_misses_is_offered_when_the_learned_order_is_sure() {
    let library = library();
    // No keyword of the question, but close to how people ask it; long enough to be sure of.
    let said = "i suggested therapy and he laughed, said we dont need a stranger in our business";
    let without = Tuning {
        learned_gate: 2.0,
        ..Tuning::SHIPPED
    };
    assert!(library.faq.suggest_with(said, without).is_empty());
    let found = offered(&library, said);
    assert_eq!(found.first(), Some(&"no-counselling"), "{found:?}");
    // Too few words to be sure of, whatever the learned order says.
    assert!(library.faq.suggest("I had a long day").is_empty());
}
