//! Checks on the shipped content in dialogues/: every flow can be found from the welcome, every
//! main-path transcript ends with a summary of what the person wrote, the FAQ has the guide's
//! ten questions, and no text is shared with the source guide.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use kintsugi::dialogue::model::{Role, StepKind};
use kintsugi::dialogue::{FlowId, Library};
use kintsugi::dialogue_dir::compile_dir;

fn library() -> Library {
    compile_dir(Path::new("dialogues")).expect("the shipped dialogues are valid")
}

#[test]
fn every_flow_can_be_reached_from_the_welcome() {
    let library = library();
    // The welcome ends on the menu, so every flow on the menu for some role is one tap away;
    // the rest must be reached by a jump or a suggestion from a flow that is reachable.
    // The private check before linking partners opens from /invite and from an invitation.
    let mut reached: BTreeSet<FlowId> = BTreeSet::from([
        library.bot.start_flow.clone(),
        FlowId("couple-check".to_owned()),
    ]);
    for role in Role::ALL {
        reached.extend(
            library
                .menu_for(Some(role), false)
                .map(|flow| flow.id.clone()),
        );
    }
    loop {
        let before = reached.len();
        let next: Vec<FlowId> = library
            .flows
            .iter()
            .filter(|flow| reached.contains(&flow.id))
            .flat_map(|flow| &flow.steps)
            .flat_map(|step| match &step.kind {
                StepKind::Jump { flow } => vec![flow.clone()],
                StepKind::End { suggest, .. } => suggest.clone(),
                _ => Vec::new(),
            })
            .collect();
        reached.extend(next);
        if reached.len() == before {
            break;
        }
    }
    let unreachable: Vec<&str> = library
        .flows
        .iter()
        .filter(|flow| !reached.contains(&flow.id))
        .map(|flow| flow.id.0.as_str())
        .collect();
    assert!(
        unreachable.is_empty(),
        "flows no one can find: {unreachable:?}"
    );
}

#[test]
fn the_welcome_asks_about_safety_and_the_safety_flow_is_on_every_menu() {
    let library = library();
    let welcome = library.flow("welcome").expect("a welcome flow");
    let jumps_to_safety = welcome
        .steps
        .iter()
        .any(|step| matches!(&step.kind, StepKind::Jump { flow } if flow.0 == "safety"));
    assert!(jumps_to_safety, "the welcome must route to the safety flow");
    for role in Role::ALL {
        assert!(
            library
                .menu_for(Some(role), false)
                .any(|flow| flow.id.0 == "safety"),
            "the safety flow is missing from the {role:?} menu"
        );
    }
}

/// The typed answers in a transcript (not commands, not button presses).
fn typed_answers(transcript: &str) -> Vec<&str> {
    transcript
        .lines()
        .filter_map(|line| line.strip_prefix("> "))
        .filter(|input| !input.starts_with('/') && !input.starts_with('['))
        .collect()
}

/// What the bot says after the person's last input: the summary card, which may be split
/// over two short messages so each fits a phone.
fn last_bot_messages(transcript: &str) -> String {
    let lines: Vec<&str> = transcript.lines().collect();
    let start = lines
        .iter()
        .rposition(|line| line.starts_with("> "))
        .map_or(0, |input| input + 1);
    lines[start..].join("\n")
}

#[test]
fn every_main_path_ends_with_a_summary_of_what_the_person_wrote() {
    // Answers rightly left out: what the person chose to delete (an unsent letter, a safety
    // plan), a draft they rewrote, the heated sentence they rebuilt as an "I" statement, and
    // an apology draft that is kept (and in /export) but not repeated whole on a phone.
    let deleted = [
        "Dear you, I am still angry, and I am still here.",
        "My sister, any time of day",
        "My sister's flat across town",
        "Phone, charger, keys, ID, my medicine",
        "blue umbrella",
        "I'm sorry if you were hurt, but it was only a few texts.",
        "You always put your phone first. You're selfish and you never listen to me.",
        "I lied to you for months and I broke your trust. That was my choice and it was wrong. From now on I will answer every question you have honestly, for as long as you need.",
    ];
    let library = library();
    let mut problems = Vec::new();
    for flow in &library.flows {
        let path = format!("tests/transcripts/{}.txt", flow.id);
        let Ok(transcript) = std::fs::read_to_string(&path) else {
            continue;
        };
        let summary = last_bot_messages(&transcript);
        for answer in typed_answers(&transcript) {
            if !deleted.contains(&answer) && !summary.contains(answer.trim()) {
                problems.push(format!("{path}: the summary does not show {answer:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_faq_answers_every_question_of_the_catalogue_and_has_the_takeaways() {
    let library = library();
    // corpus/faq/questions.md lists the questions the paraphrase sets are written against.
    let catalogue = std::fs::read_to_string("corpus/faq/questions.md").expect("the catalogue");
    let wanted: Vec<&str> = catalogue
        .lines()
        .filter_map(|line| line.strip_prefix("- ")?.split(':').next())
        .collect();
    let ids: Vec<&str> = library
        .faq
        .questions
        .iter()
        .map(|question| question.id.as_str())
        .collect();
    assert_eq!(ids, wanted);
    assert!(!library.faq.takeaways.is_empty());
    for question in &library.faq.questions {
        for (role, answer) in answers_of(question) {
            let paragraphs = answer.split("\n\n").count();
            assert!(
                (2..=4).contains(&paragraphs),
                "question {:?} ({role:?}) has {paragraphs} paragraphs",
                question.id
            );
        }
    }
    // The partner who had the affair never hears that it was not their doing.
    let my_fault = library
        .faq
        .questions
        .iter()
        .find(|question| question.id == "my-fault")
        .expect("my-fault");
    let (_, _, answer) = my_fault.worded_for(Some(kintsugi::dialogue::Role::BrokeTrust));
    assert!(!answer.starts_with("No."), "{answer}");
    assert!(answer.contains("your choice"), "{answer}");
}

#[test]
fn no_message_is_longer_than_telegram_allows() {
    // The compiler refuses longer texts; this guards the promise against a change to it.
    let library = library();
    for question in &library.faq.questions {
        for role in [
            None,
            Some(kintsugi::dialogue::Role::BrokeTrust),
            Some(kintsugi::dialogue::Role::Hurt),
        ] {
            let (_, line, answer) = question.worded_for(role);
            assert!(line.chars().count() + 2 + answer.chars().count() <= 4096);
        }
    }
    assert!(library.faq.takeaways.chars().count() <= 4096);
}

#[test]
fn the_content_shares_no_run_of_words_with_the_source_guide() {
    // The guide and its checker live beside the repository, not in it: a checkout on its own
    // (as in CI) has neither, and this check runs wherever they are.
    let tool = Path::new("../shared/tools/seed-overlap");
    if !tool.exists() {
        eprintln!("seed-overlap not found beside the repository; skipping the own-words check");
        return;
    }
    let output = Command::new(tool)
        .args(["dialogues", "tests/transcripts"])
        .output()
        .expect("seed-overlap runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "text shared with the guide:\n{report}"
    );
    assert!(report.contains(" 0 shared runs"), "{report}");
}

/// Crisis words in the middle of any flow get the safety reply at once; the flow waits with
/// its answers kept, and carries on from the same step once the person says they are safe.
#[test]
fn a_crisis_message_in_the_middle_of_every_flow_pauses_it_with_its_state_intact() {
    use kintsugi::dialogue::{Input, PersonState, advance};
    let library = library();
    let now = 1_800_000_000;
    let send = |state: &PersonState, input: Input| {
        advance(&library, state, &input.screened(&library), now)
    };
    let mut tested = Vec::new();
    for flow in &library.flows {
        let mut state = send(
            &PersonState::default(),
            Input::from_text(&format!("/start {}", flow.id)),
        )
        .state;
        // A step or two in, pressing the first button each time.
        let mut replies = send(&state, Input::from_text("/continue")).replies;
        for _ in 0..2 {
            let Some(button) = replies.last().and_then(|reply| reply.buttons.first()) else {
                break;
            };
            let outcome = send(&state, Input::Press(button.data.clone()));
            (state, replies) = (outcome.state, outcome.replies);
        }
        let Some(position) = state.position.clone() else {
            continue;
        };
        let answers = state.answers.clone();

        let crisis = send(&state, Input::from_text("I want to end my life"));
        assert_eq!(
            crisis.replies[0].text,
            library.bot.message("safety_self_harm"),
            "in {}",
            flow.id
        );
        assert_eq!(crisis.state.answers, answers, "in {}", flow.id);
        let safe = crisis.replies[0]
            .buttons
            .iter()
            .find(|button| button.label == library.bot.message("safety_safe"))
            .expect("a way back");
        // Asked first whether there is someone to reach; "Yes, there is someone" goes back.
        let asked = send(&crisis.state, Input::Press(safe.data.clone()));
        assert_eq!(
            asked.replies[0].text,
            library.bot.message("safety_safe_check"),
            "in {}",
            flow.id
        );
        let someone = asked.replies[0]
            .buttons
            .iter()
            .find(|button| button.label == library.bot.message("safety_someone"))
            .expect("someone to reach");
        let back = send(&asked.state, Input::Press(someone.data.clone()));
        assert_eq!(back.replies[0].text, library.bot.message("safety_back"));
        assert_eq!(back.state.position, Some(position), "in {}", flow.id);
        assert_eq!(back.state.answers, answers, "in {}", flow.id);
        assert!(back.state.safety.is_none());
        tested.push(flow.id.0.clone());
    }
    assert_eq!(tested.len(), library.flows.len(), "tested {tested:?}");
}

/// The safety reply points to help that works in any country, and to abuse services.
#[test]
fn safety_replies_give_resources_for_any_country() {
    let library = library();
    for key in ["safety_self_harm", "safety_violence", "safety_abuse"] {
        let text = library.bot.message(key);
        assert!(text.contains("findahelpline.com"), "{key}");
        assert!(text.contains("local emergency number"), "{key}");
    }
    for key in ["safety_violence", "safety_abuse"] {
        assert!(
            library.bot.message(key).contains("hotpeachpages.net"),
            "{key}"
        );
    }
    let safety = library.bot.safety.as_ref().expect("[safety] in bot.toml");
    assert!(library.flow(&safety.flow.0).is_some());
    // /safety shows them at once, before anything is asked.
    let opened = kintsugi::dialogue::advance(
        &library,
        &kintsugi::dialogue::PersonState::default(),
        &kintsugi::dialogue::Input::from_text("/safety"),
        0,
    );
    let first = &opened.replies[0].text;
    for resource in [
        "local emergency number",
        "findahelpline.com",
        "hotpeachpages.net",
    ] {
        assert!(
            first.contains(resource),
            "{resource} missing from {first:?}"
        );
    }
}

/// A sign of abuse in the welcome's safety question sets the flows about staying aside.
#[test]
fn not_feeling_safe_in_the_welcome_sets_coaching_toward_staying_aside() {
    let library = library();
    let staying: Vec<&str> = library
        .flows
        .iter()
        .filter(|flow| flow.toward_staying)
        .map(|flow| flow.id.0.as_str())
        .collect();
    for id in [
        "forgiveness",
        "remorse",
        "couples-therapy",
        "intimacy",
        "long-term",
    ] {
        assert!(staying.contains(&id), "{id} coaches toward staying");
    }
    for id in ["safety", "boundaries", "welcome"] {
        assert!(!staying.contains(&id), "{id} does not");
    }
    let welcome = library.flow("welcome").expect("welcome");
    let feel_safe = welcome.step("feel_safe").expect("the safety question");
    let StepKind::Choice { choices, .. } = &feel_safe.kind else {
        panic!("the safety question has buttons");
    };
    for choice in choices {
        let expected = match choice.id.as_str() {
            "yes" => Some(kintsugi::dialogue::model::SafetyMark::Clear),
            "no" | "not_always" => Some(kintsugi::dialogue::model::SafetyMark::Concern),
            _ => None,
        };
        assert_eq!(choice.safety, expected, "{}", choice.id);
    }
}

/// Every button in which a person says they are afraid, threatened, controlled or pressured
/// sets the concern, and `kintsugi check` finds no such button without one.
#[test]
fn every_button_that_says_the_person_is_afraid_sets_the_concern() {
    use kintsugi::dialogue::model::SafetyMark;
    let library = library();
    let warnings: Vec<String> = library.warnings.iter().map(ToString::to_string).collect();
    assert!(warnings.is_empty(), "{}", warnings.join("\n"));
    let afraid = [
        ("genuine-remorse", "feel_safe", "afraid"),
        ("genuine-remorse", "feel_safe", "controlled"),
        ("genuine-remorse", "reflect_warning", "afraid"),
        ("genuine-remorse", "uneasy", "unsafe"),
        ("listening", "safe_talks", "unsafe"),
        ("remorse", "transparency", "unsafe"),
        ("intimacy", "touch_safety", "unsafe"),
        ("boundaries", "not_control", "unsafe"),
        ("couples-therapy", "safety_first", "unsafe"),
        ("pillars", "respect_safety", "safety"),
        ("damage", "control_note", "safety"),
        ("worth-rebuilding", "respect", "afraid"),
        ("worth-rebuilding", "wellbeing", "unsafe"),
    ];
    for (flow, step, choice) in afraid {
        let step = library
            .flow(flow)
            .and_then(|flow| flow.step(step))
            .unwrap_or_else(|| panic!("{flow}/{step} exists"));
        let StepKind::Choice { choices, .. } = &step.kind else {
            panic!("{flow}/{} has buttons", step.id);
        };
        let button = choices
            .iter()
            .find(|button| button.id == choice)
            .unwrap_or_else(|| panic!("{flow}/{}/{choice} exists", step.id));
        assert_eq!(
            button.safety,
            Some(SafetyMark::Concern),
            "{flow}/{}/{choice}: {:?}",
            step.id,
            button.label
        );
    }
}

/// After a sign of abuse the flows about staying together go, but those about the person's
/// own feelings and limits stay, for every role.
#[test]
fn after_a_concern_the_flows_about_feelings_and_limits_stay_on_every_menu() {
    let library = library();
    for role in Role::ALL {
        let menu: Vec<&str> = library
            .menu_for(Some(role), true)
            .map(|flow| flow.id.0.as_str())
            .collect();
        for id in ["damage", "boundaries", "safety"] {
            assert!(menu.contains(&id), "{id} is missing for {role:?}: {menu:?}");
        }
        for id in ["forgiveness", "ground-rules", "couples-therapy"] {
            assert!(!menu.contains(&id), "{id} is offered to {role:?}: {menu:?}");
        }
    }
}

/// An FAQ answer names no conversation in its own words: it lists them in `flows`, which the
/// engine leaves out once they are set aside.
#[test]
fn faq_answers_point_to_flows_only_through_their_flows_list() {
    let library = library();
    let staying: Vec<&kintsugi::dialogue::Flow> = library
        .flows
        .iter()
        .filter(|flow| flow.toward_staying)
        .collect();
    for question in &library.faq.questions {
        for (flow, (_, answer)) in staying.iter().flat_map(|flow| {
            answers_of(question)
                .into_iter()
                .map(move |answer| (flow, answer))
        }) {
            assert!(
                !answer.contains(&format!("'{}'", flow.title)),
                "{}: names {:?} in its text",
                question.id,
                flow.title
            );
        }
    }
    let infidelity = library
        .faq
        .by_id("infidelity")
        .expect("the affair question");
    assert!(infidelity.flows.iter().any(|flow| flow.0 == "forgiveness"));
}

/// The welcome asks about the person holding the phone, never about "either of you", and
/// what a couple sees after a worrying answer is safe to be seen by the other partner.
#[test]
fn the_welcome_asks_about_each_person_and_its_reply_to_a_couple_is_safe_to_be_seen() {
    let library = library();
    let welcome = library.flow("welcome").expect("welcome");
    for step in &welcome.steps {
        for text in step.texts() {
            let text = text.render(|_| None).to_lowercase();
            assert!(!text.contains("either of you"), "{}: {text}", step.id);
        }
    }
    let reply = welcome
        .step("together_concern")
        .and_then(|step| step.say.as_ref())
        .expect("a reply for a couple")
        .render(|_| None)
        .to_lowercase();
    for word in ["abuse", "violence", "hotpeachpages", "delete", "danger"] {
        assert!(!reply.contains(word), "{word:?} in {reply:?}");
    }
}

/// The menu a person with `role` sees after `done` flows and, optionally, after writing
/// `vented` outside a flow: its text and its buttons' labels.
fn menu_after(role: &str, done: &[&str], vented: Option<&str>) -> (String, Vec<String>) {
    use kintsugi::dialogue::engine::{Input, advance};
    use kintsugi::dialogue::state::PersonState;
    let library = library();
    let mut state = PersonState {
        role: Role::parse(role),
        ..PersonState::default()
    };
    state.done = done.iter().map(|id| FlowId((*id).to_owned())).collect();
    if let Some(text) = vented {
        state = advance(&library, &state, &Input::Text(text.to_owned()), 0).state;
    }
    let outcome = advance(&library, &state, &Input::from_text("/menu"), 0);
    let menu = outcome.replies.last().expect("the menu").clone();
    (
        menu.text,
        menu.buttons
            .into_iter()
            .map(|button| button.label)
            .collect(),
    )
}

#[test]
fn the_menu_shows_the_stage_and_suggests_the_next_step_on_each_role_s_path() {
    let (text, buttons) = menu_after("hurt", &[], None);
    assert!(text.contains("the first days"), "{text}");
    assert_eq!(suggested(&buttons), "The first days after finding out");
    let (text, buttons) = menu_after(
        "broke_trust",
        &["ending-contact", "damage", "couples-therapy", "boundaries"],
        None,
    );
    assert!(text.contains("facing it honestly"), "{text}");
    assert_eq!(suggested(&buttons), "Owning what happened");
    // Walking a flow to its end moves the suggestion on, marked where it stands: the order
    // of the menu is the path's, the same from visit to visit; forgiveness comes late.
    let (_, before) = menu_after("hurt", &[], None);
    let (_, buttons) = menu_after("hurt", &["first-days"], None);
    assert_eq!(suggested(&buttons), "After the betrayal");
    assert_eq!(titles(&buttons), titles(&before), "the order stays put");
    let safety = buttons
        .iter()
        .position(|label| label == "Your safety first");
    let forgiveness = buttons
        .iter()
        .position(|label| label.starts_with("Forgiveness"));
    assert!(
        safety > forgiveness,
        "flows for any time follow the path: {buttons:?}"
    );
    let (_, buttons) = menu_after("hurt", &[], None);
    let forgiveness = buttons
        .iter()
        .position(|label| label.starts_with("Forgiveness"));
    let triggers = buttons
        .iter()
        .position(|label| label == "When it all floods back");
    assert!(forgiveness > triggers, "{buttons:?}");
    // Someone well into atoning is suggested the next atoning step, not the first-days flow
    // they passed by (still on the menu, unticked).
    let (_, buttons) = menu_after(
        "broke_trust",
        &["damage", "remorse", "ending-contact", "honest-answers"],
        None,
    );
    assert_eq!(suggested(&buttons), "When a reminder hits");
    assert!(titles(&buttons).contains(&"Your boundaries"), "{buttons:?}");
    // A flow walked far ahead moves no one on: forgiveness in the first weeks leaves a hurt
    // partner where they were.
    let (_, after_first_days) = menu_after("hurt", &["first-days"], None);
    let (text, buttons) = menu_after("hurt", &["first-days", "forgiveness"], None);
    assert_eq!(suggested(&buttons), suggested(&after_first_days), "{text}");
    assert!(!text.contains("closeness"), "{text}");
    // What a person says counts too: writing about picturing it suggests the triggers flow.
    let (_, buttons) = menu_after("hurt", &[], Some("I can't stop picturing them together"));
    assert_eq!(suggested(&buttons), "When it all floods back");
    assert_eq!(titles(&buttons), titles(&before), "the order stays put");
}

/// The title of the one menu button marked as the suggested next step.
fn suggested(buttons: &[String]) -> &str {
    let marked: Vec<&str> = buttons
        .iter()
        .filter_map(|label| label.strip_prefix("➜ "))
        .collect();
    assert_eq!(marked.len(), 1, "one suggestion: {buttons:?}");
    marked[0]
}

/// The menu's flow titles in order, without the marks for done and suggested.
fn titles(buttons: &[String]) -> Vec<&str> {
    buttons
        .iter()
        .map(|label| {
            label
                .strip_prefix("➜ ")
                .or_else(|| label.strip_prefix("✓ "))
                .unwrap_or(label)
        })
        .collect()
}

/// A question's answers, its main one first and then each partner's wording.
fn answers_of(
    question: &kintsugi::dialogue::model::Question,
) -> Vec<(Option<kintsugi::dialogue::Role>, &str)> {
    std::iter::once((None, question.answer.as_str()))
        .chain(
            question
                .wordings
                .iter()
                .map(|(role, wording)| (Some(*role), wording.answer.as_str())),
        )
        .collect()
}

/// Walks `flow` from its opening, pressing each step's first button and typing a short answer
/// where one is asked, until a reply holds `wanted` or the flow ends; returns every reply.
fn walk_until(
    state: &kintsugi::dialogue::state::PersonState,
    flow: &str,
    wanted: &str,
) -> Vec<String> {
    use kintsugi::dialogue::engine::{Input, advance};
    let library = library();
    let mut state = state.clone();
    let mut input = Input::from_text(&format!("/start {flow}"));
    let mut said = Vec::new();
    for _ in 0..40 {
        let outcome = advance(&library, &state, &input, 0);
        state = outcome.state;
        said.extend(outcome.replies.iter().map(|reply| reply.text.clone()));
        if said.iter().any(|text| text.contains(wanted)) || state.position.is_none() {
            break;
        }
        input = match outcome
            .replies
            .last()
            .and_then(|reply| reply.buttons.first())
        {
            Some(button) => Input::Press(button.data.clone()),
            None => Input::Text("a friend from work".to_owned()),
        };
    }
    said
}

/// A question answered in one flow is not asked again in another: the therapist of one's own,
/// asked in both "The first days" and "Who you can lean on", is confirmed the second time.
#[test]
fn a_therapist_named_in_one_flow_is_confirmed_not_asked_again_in_the_other() {
    use kintsugi::dialogue::state::{Answer, PersonState};
    for (earlier, later) in [("first-days", "support"), ("support", "first-days")] {
        let fresh = PersonState {
            role: Some(Role::Hurt),
            ..PersonState::default()
        };
        let said = walk_until(&fresh, later, "Do you have one?");
        assert!(
            said.iter().any(|text| text.contains("Do you have one?")),
            "{later}: {said:#?}"
        );

        let mut told = fresh.clone();
        told.answers
            .entry(FlowId(earlier.to_owned()))
            .or_default()
            .insert(
                "therapist".to_owned(),
                Answer {
                    value: "I have one".to_owned(),
                    at: 0,
                },
            );
        let said = walk_until(&told, later, "Is that still so?");
        assert!(
            said.iter().any(|text| text.contains("Is that still so?")),
            "{later}: {said:#?}"
        );
        assert!(
            !said.iter().any(|text| text.contains("Do you have one?")),
            "{later}: {said:#?}"
        );
    }
}

/// "I found out only recently" at forgiveness's opening puts it off: no session done, so the
/// menu does not tick it; and an end never suggests a flow already walked: with every flow it
/// names done, it suggests the next step on the person's path instead.
#[test]
fn putting_forgiveness_off_is_no_session_done_and_ends_suggest_only_what_is_left() {
    use kintsugi::dialogue::engine::{Input, advance};
    use kintsugi::dialogue::state::PersonState;
    let library = library();
    let press = |state: &PersonState, label: &str| {
        let outcome = advance(&library, state, &Input::from_text("/start forgiveness"), 0);
        let button = outcome
            .replies
            .iter()
            .flat_map(|reply| &reply.buttons)
            .find(|button| button.label == label)
            .unwrap_or_else(|| panic!("no {label:?} in {:?}", outcome.replies))
            .clone();
        advance(&library, &outcome.state, &Input::Press(button.data), 0)
    };
    let labels = |outcome: &kintsugi::dialogue::engine::Outcome| -> Vec<String> {
        let last = outcome.replies.last().expect("a reply");
        last.buttons.iter().map(|b| b.label.clone()).collect()
    };
    let fresh = PersonState {
        role: Some(Role::Hurt),
        ..PersonState::default()
    };
    let put_off = press(&fresh, "I found out only recently");
    assert!(put_off.state.position.is_none(), "the flow ended");
    assert!(!put_off.state.done.contains(&FlowId("forgiveness".into())));
    assert_eq!(
        labels(&put_off)[..3],
        [
            "The first days after finding out",
            "When it all floods back",
            "Who you can lean on"
        ]
    );
    // Two of the three walked: only the third is suggested.
    let mut walked = fresh.clone();
    walked.done = ["first-days", "triggers"]
        .iter()
        .map(|id| FlowId((*id).to_owned()))
        .collect();
    let put_off = press(&walked, "I found out only recently");
    let offered = labels(&put_off);
    assert_eq!(offered.len(), 2, "{offered:?}");
    assert_eq!(offered[0], "Who you can lean on");
    // All three walked: the next step on the path, which is none of them.
    walked.done.insert(FlowId("support".into()));
    let put_off = press(&walked, "I found out only recently");
    let offered = labels(&put_off);
    assert_eq!(offered.len(), 2, "{offered:?}");
    assert_eq!(offered[0], "After the betrayal");
}

#[test]
fn the_bots_own_titles_and_labels_typed_back_are_not_screened() {
    let library = library();
    for typed in [
        "When one pushes and one pulls away",
        "Healing the deepest hurt",
        "healing the deepest hurt.",
        // The bot's own buttons from bot.toml, typed ("I'm ready to see them" read as
        // self-harm in a walk).
        "I'm ready to see them",
        "im ready to see them",
        "Share it as it is",
    ] {
        assert_eq!(library.screen(typed), None, "{typed}");
    }
    // The same words inside a sentence of the person's own are screened as ever.
    assert!(
        library
            .screen("he hits me when one of us pulls away")
            .is_some()
    );
}

#[test]
fn a_menu_title_that_is_also_an_faq_question_opens_the_flow_from_the_menu() {
    use kintsugi::dialogue::engine::{Input, advance};
    use kintsugi::dialogue::state::PersonState;
    let library = library();
    let state = PersonState {
        role: Role::parse("hurt"),
        ..PersonState::default()
    };
    let state = advance(&library, &state, &Input::from_text("/menu"), 0).state;
    let outcome = advance(
        &library,
        &state,
        &Input::Text("Is their remorse real?".into()),
        0,
    );
    assert_eq!(
        outcome.state.position.map(|position| position.flow.0),
        Some("genuine-remorse".to_owned())
    );
}
