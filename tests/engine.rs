//! The engine's behaviour for every step kind and every edge: driven through `advance` on a
//! small fixture library (tests/fixtures/engine) that uses each kind of step once.

use std::path::Path;

use kintsugi::dialogue::{
    FlowId, Input, Library, Outcome, PersonState, Position, Reply, Role, advance,
};
use kintsugi::dialogue_dir::compile_dir;

const NOW: i64 = 1_800_000_000;

fn library() -> Library {
    compile_dir(Path::new("tests/fixtures/engine")).expect("the engine fixtures are valid")
}

/// A person talking to the engine, keeping their state between inputs.
struct Person {
    library: Library,
    state: PersonState,
    last: Vec<Reply>,
    last_outcome_changed: bool,
}

impl Person {
    fn new() -> Person {
        Person::with_library(library())
    }

    fn with_library(library: Library) -> Person {
        Person {
            library,
            state: PersonState::default(),
            last: Vec::new(),
            last_outcome_changed: false,
        }
    }

    fn input(&mut self, input: Input) -> Vec<String> {
        let Outcome {
            state,
            replies,
            changed,
            ..
        } = advance(&self.library, &self.state, &input, NOW);
        self.state = state;
        self.last_outcome_changed = changed;
        self.last = replies.clone();
        replies.into_iter().map(|reply| reply.text).collect()
    }

    /// Sends typed text as the bot receives it: screened for crisis language first.
    fn send(&mut self, text: &str) -> Vec<String> {
        let input = Input::from_text(text).screened(&self.library);
        self.input(input)
    }

    /// Presses the button labelled `label` on the latest replies.
    fn press(&mut self, label: &str) -> Vec<String> {
        let data = self.data_of(label);
        self.input(Input::Press(data))
    }

    fn data_of(&self, label: &str) -> String {
        self.last
            .iter()
            .flat_map(|reply| &reply.buttons)
            .find(|button| button.label == label)
            .unwrap_or_else(|| panic!("no button {label:?} in {:?}", self.last))
            .data
            .clone()
    }

    fn buttons(&self) -> Vec<String> {
        self.last
            .iter()
            .flat_map(|reply| &reply.buttons)
            .map(|button| button.label.clone())
            .collect()
    }

    fn answer(&self, flow: &str, name: &str) -> Option<String> {
        self.state
            .answers
            .get(flow)
            .and_then(|answers| answers.get(name))
            .map(|answer| answer.value.clone())
    }

    fn step(&self) -> Option<(String, String)> {
        self.state
            .position
            .as_ref()
            .map(|position| (position.flow.0.clone(), position.step.0.clone()))
    }

    fn message(&self, key: &str) -> String {
        self.library.bot.message(key).to_owned()
    }

    /// A new hurt partner at the practice flow's opening, its first buttons shown.
    fn at_practice() -> Person {
        let mut person = Person::new();
        person.send("/start");
        person.press("Hurt");
        person.press("Practice");
        person
    }

    /// A hurt person at the practice flow's first question.
    fn in_practice() -> Person {
        let mut person = Person::at_practice();
        person.press("Calm");
        person
    }
}

#[test]
fn start_runs_messages_until_the_first_buttons() {
    let mut person = Person::new();
    assert_eq!(person.send("/start"), ["Hello.", "Who are you?"]);
    assert_eq!(person.buttons(), ["Hurt", "Broke"]);
    assert_eq!(person.step(), Some(("welcome".into(), "who".into())));
}

#[test]
fn a_choice_records_the_role_and_the_end_offers_suggestions_and_the_menu() {
    let mut person = Person::new();
    person.send("/start");
    assert_eq!(person.press("Hurt"), ["Welcome."]);
    assert_eq!(person.state.role, Some(Role::Hurt));
    assert_eq!(person.buttons(), ["Practice", "Back to the menu"]);
    assert_eq!(person.step(), None, "an end leaves the flow");
}

#[test]
fn the_menu_shows_only_the_flows_for_the_persons_role() {
    let mut hurt = Person::new();
    hurt.send("/start");
    hurt.press("Hurt");
    hurt.press("Back to the menu");
    assert_eq!(hurt.buttons(), ["Practice", "Other"]);

    let mut broke = Person::new();
    broke.send("/start");
    broke.press("Broke");
    broke.send("/menu");
    assert_eq!(
        broke.buttons(),
        ["Other"],
        "practice is not for broke_trust"
    );
}

#[test]
fn the_menu_marks_the_flows_walked_to_their_end_and_they_still_open_from_it() {
    let mut person = Person::new();
    person.send("/start");
    person.press("Hurt");
    person.state.done.insert(FlowId("other".into()));
    person.send("/menu");
    assert_eq!(person.buttons(), ["Practice", "✓ Other"]);
    assert_eq!(person.press("✓ Other"), ["Other flow."]);
}

#[test]
fn start_with_a_payload_opens_that_flow_and_an_unknown_one_says_so() {
    let mut person = Person::new();
    assert_eq!(person.send("/start practice"), ["How are you?"]);
    let mut lost = Person::new();
    let replies = lost.send("/start nowhere");
    assert_eq!(replies[0], lost.message("unknown_flow"));
    assert_eq!(replies[1..], ["Hello.", "Who are you?"]);
}

#[test]
fn a_choice_step_saves_the_pressed_value() {
    let person = Person::in_practice();
    assert_eq!(person.answer("practice", "mood").as_deref(), Some("calm"));
    assert_eq!(person.step(), Some(("practice".into(), "name".into())));
}

#[test]
fn a_typed_answer_is_trimmed_saved_with_its_time_and_moves_on() {
    let mut person = Person::in_practice();
    assert_eq!(person.send("  the dishes  "), ["From 1 to 10?"]);
    let saved = &person.state.answers["practice"]["thought"];
    assert_eq!(saved.value, "the dishes");
    assert_eq!(saved.at, NOW);
}

#[test]
fn an_empty_or_too_long_answer_gets_a_kind_note_and_the_question_stays_open() {
    let mut person = Person::in_practice();
    assert_eq!(person.send("   "), [person.message("answer_empty")]);
    let too_long = person.send(&"x".repeat(21));
    assert_eq!(
        too_long,
        [person.message("answer_too_long").replace("{max}", "20")]
    );
    assert_eq!(person.step(), Some(("practice".into(), "name".into())));
    assert_eq!(person.answer("practice", "thought"), None);
}

#[test]
fn a_too_long_answer_keeps_its_start_for_one_tap_and_new_words_replace_it() {
    let mut person = Person::in_practice();
    let replies = person.send("Tired. I have not slept since Sunday at all");
    assert_eq!(
        replies,
        [person.message("answer_too_long").replace("{max}", "20")]
    );
    assert_eq!(person.buttons(), ["Use what I wrote earlier"]);
    assert_eq!(person.answer("practice", "thought"), None);
    person.press("Use what I wrote earlier");
    assert_eq!(
        person.answer("practice", "thought").as_deref(),
        Some("Tired. I have not…")
    );
    assert_eq!(person.state.kept, None);

    // The button's label typed instead: pressed, not saved as the answer.
    let mut person = Person::in_practice();
    person.send("Tired. I have not slept since Sunday at all");
    person.send("use what i wrote earlier");
    assert_eq!(
        person.answer("practice", "thought").as_deref(),
        Some("Tired. I have not…")
    );

    // Written again, shorter: the new words are the answer, and the start is gone.
    let mut person = Person::in_practice();
    person.send("Tired. I have not slept since Sunday at all");
    person.send("No sleep");
    assert_eq!(
        person.answer("practice", "thought").as_deref(),
        Some("No sleep")
    );
    assert_eq!(person.state.kept, None);
}

#[test]
fn a_number_answer_is_read_forgivingly_and_kept_in_range() {
    let mut person = Person::in_practice();
    person.send("work");
    let not_a_number = person.send("ok I guess");
    assert_eq!(
        not_a_number,
        [person
            .message("answer_not_a_number")
            .replace("{min}", "1")
            .replace("{max}", "10")]
    );
    let out_of_range = person.send("11");
    assert_eq!(
        out_of_range,
        [person
            .message("answer_out_of_range")
            .replace("{min}", "1")
            .replace("{max}", "10")]
    );
    person.send("about 7/10");
    assert_eq!(person.answer("practice", "score").as_deref(), Some("7"));
}

#[test]
fn branches_pick_the_first_rule_that_holds() {
    // score at most 3 wins over the role rule.
    let mut low = Person::in_practice();
    low.send("work");
    assert_eq!(low.send("2"), ["Low.", "You said work (2)."]);
    // Then the role rule: this person is hurt.
    let mut hurt = Person::in_practice();
    hurt.send("work");
    assert_eq!(hurt.send("8"), ["Hurt.", "You said work (8)."]);
    // Without a role, the mood rule.
    let mut calm = Person::new();
    calm.send("/start practice");
    calm.press("Calm");
    calm.send("work");
    assert_eq!(calm.send("8"), ["Calm.", "You said work (8)."]);
    // And otherwise.
    let mut upset = Person::new();
    upset.send("/start practice");
    upset.press("Upset");
    upset.send("work");
    assert_eq!(upset.send("8"), ["You said work (8)."]);
}

#[test]
fn a_clear_button_deletes_the_answer_and_keeps_the_others() {
    let mut person = Person::in_practice();
    person.send("my secret");
    person.send("5");
    assert_eq!(person.press("Delete"), ["Bye, 5."]);
    assert_eq!(person.answer("practice", "thought"), None);
    assert_eq!(person.answer("practice", "score").as_deref(), Some("5"));
}

#[test]
fn a_jump_starts_the_other_flow_at_its_entry() {
    let mut person = Person::in_practice();
    person.send("work");
    person.send("5");
    assert_eq!(person.press("More"), ["On to the other.", "Other flow."]);
    assert_eq!(person.buttons(), ["Back to the menu"]);
}

#[test]
fn a_suggestion_button_opens_the_suggested_flow() {
    let mut person = Person::in_practice();
    person.send("work");
    person.send("5");
    person.press("Keep");
    assert_eq!(person.press("Other"), ["Other flow."]);
}

#[test]
fn a_press_on_an_old_message_changes_nothing_but_shows_the_current_step() {
    let mut person = Person::new();
    person.send("/start");
    let old = person.data_of("Hurt");
    person.press("Hurt");
    person.press("Practice");
    let before = person.state.clone();
    let replies = person.input(Input::Press(old));
    assert_eq!(
        replies,
        [person.message("stale_button"), "How are you?".to_owned()]
    );
    assert_eq!(person.state.role, before.role);
    assert_eq!(person.state.answers, before.answers);
    assert_eq!(person.state.position, before.position);
}

#[test]
fn forged_button_data_changes_nothing() {
    let mut person = Person::new();
    person.send("/start");
    let seq = person.state.seq;
    for forged in [
        "garbage".to_owned(),
        format!("{seq}|c:no_such_choice"),
        format!("{seq}|f:practice"),
        format!("{seq}|m"),
        format!("{}|c:hurt", seq + 1),
    ] {
        let before = person.state.clone();
        let replies = person.input(Input::Press(forged.clone()));
        assert_eq!(replies[0], person.message("stale_button"), "{forged}");
        assert_eq!(person.state.role, None, "{forged}");
        assert_eq!(person.state.position, before.position, "{forged}");
    }
}

#[test]
fn typing_while_buttons_are_shown_asks_for_a_button() {
    let mut person = Person::new();
    person.send("/start");
    assert_eq!(
        person.send("hello?"),
        [person.message("use_buttons"), "Who are you?".to_owned()]
    );
}

#[test]
fn typing_outside_a_flow_with_nothing_to_answer_is_met_warmly_with_the_menu() {
    let mut person = Person::new();
    let replies = person.send("is anyone there");
    assert_eq!(
        replies,
        [person.message("listen_default"), person.message("menu")]
    );
}

#[test]
fn a_greeting_or_thanks_alone_outside_a_flow_is_answered_in_kind_with_the_menu() {
    let mut person = Person::new();
    person.send("/start");
    person.press("Hurt");
    person.send("/menu");
    let replies = person.send("hi again");
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[0], person.message("listen_hello"));
    let replies = person.send("thank you so much");
    assert_eq!(replies[0], person.message("listen_thanks"));
    // More than small talk is listened to as ever.
    let replies = person.send("hi, my husband cheated and i cant sleep");
    assert_ne!(replies[0], person.message("listen_hello"));
}

#[test]
fn writing_outside_a_flow_is_answered_by_what_it_mentions_with_an_offer_that_fits() {
    let mut person = Person::new();
    person.send("/start");
    person.press("Hurt");
    let replies = person.send("I haven't SLEPT properly, I keep lying awake");
    assert_eq!(
        replies,
        [
            "Not sleeping after a shock is your body on alert.".to_owned(),
            person.message("listen_offer")
        ]
    );
    assert_eq!(
        person.buttons(),
        ["Practice", &person.message("menu_button")]
    );
    // Nothing of what was written is kept.
    assert_eq!(person.state.kept, None);
    assert!(
        !format!("{:?}", person.state).contains("SLEPT"),
        "{:?}",
        person.state
    );
    person.press("Practice");
    assert_eq!(person.step(), Some(("practice".into(), "intro".into())));
}

#[test]
fn not_now_at_a_flow_s_opening_does_not_count_it_done() {
    let mut person = Person::new();
    person.send("/start");
    person.press("Hurt");
    person.send("/start later");
    assert_eq!(person.press("Not now"), ["Another time."]);
    assert!(!person.state.done.contains(&FlowId("later".into())));
    person.send("/start later");
    assert_eq!(person.press("Let's begin"), ["Here it is.", "Done."]);
    assert!(person.state.done.contains(&FlowId("later".into())));
}

#[test]
fn a_listening_reply_fits_the_person_s_role() {
    let mut hurt = Person::new();
    hurt.send("/start");
    hurt.press("Hurt");
    assert_eq!(
        hurt.send("i am so angry")[0],
        "Anger makes sense after being lied to."
    );
    let mut broke = Person::new();
    broke.send("/start");
    broke.press("Broke");
    assert_eq!(
        broke.send("she is so angry")[0],
        "Their anger carries the hurt."
    );
}

#[test]
fn an_offer_leaves_out_flows_not_on_the_person_s_menu() {
    let mut person = Person::new();
    person.send("/start");
    person.press("Broke");
    // Practice is not for the partner who broke trust: the whole menu instead.
    let replies = person.send("I can't sleep");
    assert_eq!(replies[1], person.message("menu"));
    assert!(!person.buttons().contains(&"Practice".to_owned()));
}

#[test]
fn text_typed_at_buttons_is_kept_and_answers_the_next_typed_question_in_one_tap() {
    let mut person = Person::at_practice();
    let replies = person.send("work piles up daily");
    assert_eq!(
        replies,
        [person.message("kept_text"), "How are you?".into()]
    );
    let replies = person.press("Calm");
    assert_eq!(replies, ["What's on your mind?"]);
    assert_eq!(person.buttons(), [person.message("use_kept")]);
    let replies = person.press(&person.message("use_kept"));
    assert_eq!(replies, ["From 1 to 10?"]);
    assert_eq!(
        person.answer("practice", "thought").as_deref(),
        Some("work piles up daily")
    );
    assert_eq!(person.state.kept, None);
}

#[test]
fn a_reply_to_the_buttons_in_words_is_not_kept_as_a_draft() {
    let mut person = Person::at_practice();
    let replies = person.send("no its not like that really");
    assert_eq!(
        replies,
        [person.message("use_buttons"), "How are you?".into()]
    );
    assert_eq!(person.state.kept, None);
}

#[test]
fn text_typed_at_buttons_is_met_by_what_it_mentions_and_the_step_stays() {
    let mut person = Person::at_practice();
    let buttons = person.buttons();
    // Met: a feeling heard, not a draft, so not kept; the step shown again with its own
    // buttons.
    let replies = person.send("I lie awake every night");
    assert_eq!(
        replies,
        [
            "Not sleeping after a shock is your body on alert.".to_owned(),
            "How are you?".into()
        ]
    );
    assert_eq!(person.buttons(), buttons, "no offer of other flows here");
    assert_eq!(person.step(), Some(("practice".into(), "intro".into())));
    assert_eq!(person.state.kept, None);
    // The same entry again soon after is not said word for word a second time.
    let replies = person.send("awake again, 3am");
    assert_eq!(
        replies,
        [person.message("use_buttons"), "How are you?".into()]
    );
    // A long text is kept even when met (a letter typed a step too early), in the short line.
    let mut person = Person::at_practice();
    let letter = "I lie awake every night thinking of what to say to you, and this is it: \
        I want us to talk slowly, one evening a week, with no phones and no shouting at all.";
    let replies = person.send(letter);
    assert_eq!(
        replies,
        [
            "Not sleeping after a shock is your body on alert.".to_owned(),
            person.message("kept_text_brief"),
            "How are you?".into()
        ]
    );
    assert!(person.state.kept.is_some());
    // Nothing it mentions, with words kept already: they are replaced, in the short line.
    let replies = person.send("work piles up daily");
    assert_eq!(
        replies,
        [person.message("kept_text_brief"), "How are you?".into()]
    );
    // Nothing it mentions and nothing kept yet: the whole note, once.
    let mut fresh = Person::at_practice();
    let replies = fresh.send("work piles up daily");
    assert_eq!(replies, [fresh.message("kept_text"), "How are you?".into()]);
    assert_ne!(fresh.message("kept_text"), fresh.message("kept_text_brief"));
}

#[test]
fn kept_text_gives_way_to_a_typed_answer_and_is_not_offered_after_a_day() {
    let mut person = Person::at_practice();
    person.send("work piles up daily");
    person.press("Calm");
    person.send("family");
    assert_eq!(
        person.answer("practice", "thought").as_deref(),
        Some("family")
    );
    assert_eq!(person.state.kept, None);

    let mut person = Person::in_practice();
    person.send("/cancel");
    person.press("Practice");
    person.send("the kids were upset today");
    person.state.kept.as_mut().expect("kept").at -= 24 * 60 * 60;
    person.press("Calm");
    assert!(person.buttons().is_empty());
    assert_eq!(person.state.kept, None);
}

#[test]
fn typing_what_a_button_says_presses_it() {
    let mut person = Person::at_practice();
    // More than the label in the same breath: not a press; the step is shown again.
    let replies = person.send("upset and i dont know why");
    assert_eq!(
        replies,
        [person.message("kept_text"), "How are you?".into()]
    );
    // The label, closed off, with more after it: the press, met by what it mentions.
    let replies = person.send("Upset. I lie awake every night");
    assert_eq!(
        replies,
        [
            "Not sleeping after a shock is your body on alert.".to_owned(),
            "What's on your mind?".into()
        ]
    );
    assert_eq!(person.answer("practice", "mood").as_deref(), Some("upset"));
    assert_eq!(person.step(), Some(("practice".into(), "name".into())));
}

#[test]
fn kept_text_is_offered_only_within_the_flow_it_was_typed_in() {
    let mut person = Person::at_practice();
    person.send("it was a 7 today honestly");
    assert!(person.state.kept.is_some());
    // A number the check-in's question would take, but typed in another flow.
    assert_eq!(person.send("/start check"), ["From 1 to 10?"]);
    assert!(
        person.buttons().is_empty(),
        "the practice's words are not the check-in's rating"
    );
    assert_eq!(person.state.kept, None);
}

#[test]
fn kept_text_too_long_for_the_question_is_not_offered_for_it() {
    let mut person = Person::at_practice();
    // Kept (more than a few words), but longer than the question's twenty characters.
    let replies = person.send("work piles up daily and nobody helps");
    assert_eq!(
        replies,
        [person.message("kept_text"), "How are you?".into()]
    );
    let replies = person.press("Calm");
    assert_eq!(replies, ["What's on your mind?"]);
    assert!(
        person.buttons().is_empty(),
        "a button that could only meet \"too long\""
    );
    person.send("family");
    assert_eq!(
        person.answer("practice", "thought").as_deref(),
        Some("family")
    );
    assert_eq!(person.state.kept, None);
}

#[test]
fn a_question_typed_at_buttons_is_looked_up_in_the_faq() {
    let mut person = Person::at_practice();
    let replies = person.send("how long does recovery take?");
    assert_eq!(
        replies,
        [person.message("faq_suggest"), "How are you?".into()]
    );
    assert_eq!(person.state.kept, None);
}

#[test]
fn a_flow_s_suggestions_fit_the_person_s_role() {
    let mut person = Person::new();
    person.send("/start");
    person.press("Hurt");
    assert_eq!(
        person.buttons(),
        ["Practice", &person.message("menu_button")]
    );
    let mut person = Person::new();
    person.send("/start");
    person.press("Broke");
    assert_eq!(person.buttons(), [person.message("menu_button")]);
}

#[test]
fn cancel_leaves_the_flow_and_keeps_the_answers() {
    let mut person = Person::in_practice();
    person.send("work");
    let replies = person.send("/cancel");
    assert_eq!(
        replies,
        [person.message("cancelled"), person.message("menu")]
    );
    assert_eq!(person.step(), None);
    assert_eq!(
        person.answer("practice", "thought").as_deref(),
        Some("work")
    );
    assert_eq!(
        person.send("/cancel")[0],
        person.message("nothing_to_cancel")
    );
}

#[test]
fn help_inside_a_flow_shows_help_then_the_current_step() {
    let mut person = Person::in_practice();
    assert_eq!(
        person.send("/help"),
        [person.message("help"), "What's on your mind?".to_owned()]
    );
    assert_eq!(person.step(), Some(("practice".into(), "name".into())));
}

#[test]
fn continue_shows_the_current_step_again() {
    let mut person = Person::in_practice();
    assert_eq!(person.send("/continue"), ["What's on your mind?"]);
}

#[test]
fn an_unknown_command_says_so_and_shows_where_we_are() {
    let mut person = Person::in_practice();
    assert_eq!(
        person.send("/dance"),
        [
            person.message("unknown_command"),
            "What's on your mind?".to_owned()
        ]
    );
}

#[test]
fn help_outside_a_flow_changes_no_state() {
    let mut person = Person::new();
    person.send("/help");
    assert!(!person.last_outcome_changed);
    person.send("/start");
    assert!(person.last_outcome_changed);
}

#[test]
fn a_step_that_no_longer_exists_restarts_its_flow_with_a_note() {
    let mut person = Person::in_practice();
    person.state.position = Some(Position {
        flow: kintsugi::dialogue::FlowId("practice".into()),
        step: kintsugi::dialogue::StepId("removed_step".into()),
        version: 1,
    });
    let replies = person.send("an answer for a question that is gone");
    assert_eq!(
        replies,
        [person.message("flow_changed"), "How are you?".to_owned()]
    );
    assert_eq!(
        person.answer("practice", "thought"),
        None,
        "the text was not saved anywhere"
    );
}

#[test]
fn a_flow_that_no_longer_exists_lands_on_the_menu_with_a_note() {
    let mut person = Person::in_practice();
    person.state.position = Some(Position {
        flow: kintsugi::dialogue::FlowId("deleted".into()),
        step: kintsugi::dialogue::StepId("anywhere".into()),
        version: 3,
    });
    let replies = person.send("hello");
    assert_eq!(
        replies,
        [person.message("flow_gone"), person.message("menu")]
    );
    assert_eq!(person.step(), None);
}

#[test]
fn a_new_version_keeps_the_person_on_their_step_and_records_the_version() {
    let mut person = Person::in_practice();
    if let Some(position) = &mut person.state.position {
        position.version = 0;
    }
    assert_eq!(person.send("work"), ["From 1 to 10?"]);
    assert_eq!(person.state.position.as_ref().map(|p| p.version), Some(1));
}

#[test]
fn the_real_dialogues_start_with_the_welcome_flow() {
    let library = compile_dir(Path::new("dialogues")).expect("the shipped dialogues are valid");
    let start = library.bot.start_flow.clone();
    let mut person = Person::with_library(library);
    let replies = person.send("/start");
    assert!(!replies.is_empty());
    assert_eq!(person.step().map(|(flow, _)| flow), Some(start.0));
    assert_eq!(
        person.buttons().len(),
        3,
        "the welcome asks who the person is"
    );
}

#[test]
fn a_review_shows_every_note_that_applies_in_one_message_then_moves_on() {
    let mut person = Person::new();
    assert_eq!(person.send("/start draft"), ["Write your apology."]);
    assert_eq!(
        person.send("I'm sorry, but I was stressed."),
        [
            "Here's what I notice:\n\nA \"but\" can undo what comes before it.\n\nIt doesn't name the hurt yet.",
            "Your draft: I'm sorry, but I was stressed."
        ]
    );
}

#[test]
fn a_review_with_no_note_that_applies_shows_the_all_clear() {
    let mut person = Person::new();
    person.send("/start draft");
    assert_eq!(
        person.send("I know how much pain I caused you. I'm sorry."),
        [
            "Here's what I notice:\n\nIt names the hurt and owns it.",
            "Your draft: I know how much pain I caused you. I'm sorry."
        ]
    );
}

#[test]
fn faq_lists_the_questions_as_numbered_buttons_without_leaving_the_step() {
    let mut person = Person::in_practice();
    let before = person.state.clone();
    assert_eq!(person.send("/faq"), [person.message("faq")]);
    assert_eq!(
        person.buttons(),
        ["1. How long it takes", "2. Is their remorse real?"]
    );
    assert_eq!(person.state, before, "the FAQ changes nothing");
}

#[test]
fn faq_with_a_number_answers_that_question_and_a_wrong_number_says_how_many_there_are() {
    let mut person = Person::new();
    assert_eq!(
        person.send("/faq 2"),
        ["How can I tell if remorse is genuine?\n\nWatch what they do over time."]
    );
    assert_eq!(
        person.send("/faq 9"),
        [person.message("faq_missing").replace("{max}", "2")]
    );
}

#[test]
fn an_faq_button_answers_even_from_an_old_message_and_changes_nothing() {
    let mut person = Person::new();
    person.send("/faq");
    let old = person.data_of("1. How long it takes");
    person.send("/start");
    let before = person.state.clone();
    assert_eq!(
        person.input(Input::Press(old)),
        ["How long does rebuilding trust take?\n\nUsually months, sometimes years."]
    );
    assert_eq!(person.state, before);
    assert!(!person.last_outcome_changed);
}

#[test]
fn an_faq_question_worded_for_the_partner_who_broke_trust_is_theirs_alone() {
    let mut person = Person::new();
    person.state.role = Some(Role::BrokeTrust);
    person.send("/faq");
    assert_eq!(
        person.buttons(),
        ["1. How long it takes", "2. Showing I'm truly sorry"]
    );
    assert_eq!(
        person.press("2. Showing I'm truly sorry"),
        ["How do I show my remorse is real?\n\nOwn it without excuses, and keep showing it."]
    );
    let replies = person.send("is the apology genuine?");
    assert_eq!(replies[0], person.message("faq_suggest"));
    assert!(
        person
            .buttons()
            .contains(&"2. Showing I'm truly sorry".to_owned())
    );

    for role in [None, Some(Role::Hurt), Some(Role::Together)] {
        let mut other = Person::new();
        other.state.role = role;
        assert_eq!(
            other.send("/faq 2"),
            ["How can I tell if remorse is genuine?\n\nWatch what they do over time."],
            "{role:?} sees the main wording"
        );
    }
}

#[test]
fn an_faq_answer_read_mid_flow_has_one_tap_back_to_the_step() {
    let mut person = Person::in_practice();
    let at = person.step();
    person.send("/faq 1");
    assert_eq!(person.buttons(), ["Back to where we were"]);
    assert_eq!(
        person.press("Back to where we were"),
        ["What's on your mind?"]
    );
    assert_eq!(person.step(), at);

    let mut outside = Person::new();
    outside.send("/faq 1");
    assert!(outside.buttons().is_empty(), "{:?}", outside.buttons());
}

#[test]
fn a_question_that_also_says_what_is_happening_is_met_first_then_offered_the_faq() {
    let mut person = Person::new();
    person.send("/start");
    person.press("Hurt");
    let replies = person.send("i cant sleep at all. how long will this take?");
    assert_eq!(
        replies,
        [
            "Not sleeping after a shock is your body on alert.".to_owned(),
            person.message("faq_suggest"),
            person.message("listen_offer"),
        ]
    );
    assert!(
        person
            .buttons()
            .contains(&"1. How long it takes".to_owned())
    );
}

#[test]
fn takeaways_are_one_message_in_the_words_written_for_the_person_s_role() {
    let mut person = Person::new();
    assert_eq!(
        person.send("/takeaways"),
        ["Go slowly. Be honest. Look after yourself."]
    );
    for (role, takeaways) in [
        (Role::Hurt, "Go slowly. Be honest. Look after yourself."),
        (Role::Together, "Go slowly. Be honest. Look after yourself."),
        (
            Role::BrokeTrust,
            "Own what you did. Answer honestly. Let them set the pace.",
        ),
    ] {
        let mut person = Person::new();
        person.state.role = Some(role);
        assert_eq!(person.send("/takeaways"), [takeaways], "{role:?}");
    }
}

#[test]
fn a_typed_question_outside_a_flow_is_offered_the_matching_faq_and_the_menu() {
    let mut person = Person::new();
    let replies = person.send("how long will this take?");
    // The questions, with the whole list and the menu a tap away, not the whole menu under
    // them.
    assert_eq!(replies, [person.message("faq_suggest")]);
    let buttons = person.buttons();
    assert_eq!(buttons[0], "1. How long it takes");
    assert_eq!(buttons.last(), Some(&person.message("menu_button")));
    assert_eq!(
        person.press(&person.message("menu_button")),
        [person.message("menu")]
    );
}

#[test]
fn a_typed_question_inside_a_flow_is_an_answer_not_an_faq_lookup() {
    let mut person = Person::in_practice();
    person.send("how long will this take?");
    assert_eq!(
        person.answer("practice", "thought"),
        None,
        "too long for this question's 20 characters, so it is not saved"
    );
    person.send("how long?");
    assert_eq!(
        person.answer("practice", "thought").as_deref(),
        Some("how long?")
    );
}

#[test]
fn a_command_from_bot_toml_opens_its_flow() {
    let mut person = Person::new();
    assert_eq!(person.send("/again"), ["How are you?"]);
    assert_eq!(
        person.step(),
        Some(("practice".to_owned(), "intro".to_owned()))
    );
}

#[test]
fn a_show_command_fills_in_saved_answers_or_says_there_are_none_yet() {
    let mut person = Person::new();
    person.send("/start");
    // Inside a flow it is said alone: the flow's own buttons stay the ones to press.
    assert_eq!(person.send("/thought"), ["Nothing yet."]);
    assert!(person.buttons().is_empty());
    person.send("Hurt");
    assert_eq!(person.state.role, Some(Role::Hurt));
    // Between flows, with the flow on the menu: "nothing yet" comes with the way to it.
    assert_eq!(person.send("/thought"), ["Nothing yet."]);
    assert_eq!(person.buttons(), ["Practice", "Back to the menu"]);
    assert_eq!(person.press("Practice"), ["How are you?"]);
    let mut person = Person::in_practice();
    person.send("my worry");
    assert_eq!(person.send("/thought"), ["You said: my worry (…)"]);
    let before = person.state.clone();
    person.send("/thought");
    assert_eq!(person.state, before, "showing answers changes nothing");
}

#[test]
fn a_time_question_saves_the_time_of_day_however_it_was_typed() {
    let mut person = Person::new();
    person.send("/start when");
    assert_eq!(person.send("soon"), [person.message("answer_not_a_time")]);
    assert_eq!(person.send("8:15 pm"), ["Where are you?"]);
    assert_eq!(person.answer("when", "time").as_deref(), Some("20:15"));
}

#[test]
fn a_zone_question_finds_the_zone_and_the_local_time_there() {
    let mut person = Person::new();
    person.send("/start when");
    person.send("9am");
    assert_eq!(
        person.send("my kitchen"),
        [person.message("answer_not_a_zone")]
    );
    // NOW is 2027-01-15T08:00:00Z: 03:00 in New York.
    assert_eq!(
        person.send("new york"),
        ["09:00 in America/New_York, where it is 03:00 now."]
    );
}

#[test]
fn checkin_sets_up_reminders_from_the_answers_and_schedules_the_first() {
    let mut person = Person::new();
    assert_eq!(person.send("/checkin"), ["How often?"]);
    person.press("Weekly");
    person.press("Sunday");
    person.send("9am");
    let outcome = advance(
        &person.library,
        &person.state,
        &Input::Press(person.data_of("Berlin")),
        NOW,
    );
    assert_eq!(
        outcome.effects,
        [kintsugi::dialogue::engine::Effect::ScheduleNextCheckin]
    );
    assert_eq!(
        outcome.replies[0].text,
        "Set for 09:00; it is 09:00 there now."
    );
    let schedule = outcome.state.checkin.expect("a schedule");
    assert_eq!(schedule.zone, chrono_tz::Europe::Berlin);
}

#[test]
fn checkin_off_stops_the_reminders_and_says_so() {
    let mut person = Person::new();
    assert_eq!(
        person.send("/checkin off"),
        [person.message("checkin_none")]
    );
    person.send("/checkin");
    person.press("Daily");
    person.send("18:30");
    person.press("Berlin");
    assert!(person.state.checkin.is_some());
    let outcome = advance(
        &person.library,
        &person.state,
        &Input::from_text("/checkin off"),
        NOW,
    );
    assert_eq!(
        outcome.effects,
        [kintsugi::dialogue::engine::Effect::CancelReminder]
    );
    assert_eq!(outcome.replies[0].text, person.message("checkin_off"));
    assert!(outcome.state.checkin.is_none());
}

/// Once reminders are set, a plain `/checkin` starts a check-in (saying how to change or stop
/// the reminders); `/checkin change` sets them up again.
#[test]
fn checkin_with_reminders_set_starts_a_check_in_and_change_sets_them_again() {
    let mut person = Person::new();
    person.send("/checkin");
    person.press("Daily");
    person.send("18:30");
    person.press("Berlin");
    assert!(person.state.checkin.is_some());
    assert_eq!(
        person.send("/checkin"),
        [person.message("checkin_already"), "From 1 to 10?".into()]
    );
    assert_eq!(person.send("/checkin change"), ["How often?"]);
}

#[test]
fn a_check_in_is_recorded_and_progress_reports_it() {
    let mut person = Person::new();
    assert_eq!(person.send("/progress"), [person.message("progress_empty")]);
    assert_eq!(person.send("/checkin now"), ["From 1 to 10?"]);
    person.send("7");
    assert_eq!(person.send("A calm evening."), ["Saved: 7."]);
    assert_eq!(person.state.history.len(), 1);
    assert_eq!(person.state.history[0].at, NOW);
    assert_eq!(person.state.history[0].answers["note"], "A calm evening.");
    let progress = person.send("/progress");
    assert!(progress[0].contains("Check-ins so far: 1."), "{progress:?}");
    assert!(progress[0].contains("7 out of 10"), "{progress:?}");
    assert!(progress[0].contains("15 January 2027"), "{progress:?}");
    // The chart goes out as data for the rings to draw: the rating, when, in the person's zone.
    match &person.last[0].attachment {
        Some(kintsugi::dialogue::engine::Attachment::Chart(chart)) => {
            assert_eq!(chart.ratings, [(NOW, 7)]);
            assert_eq!(chart.zone, chrono_tz::UTC);
        }
        other => panic!("no chart: {other:?}"),
    }
}

#[test]
fn a_reminder_can_start_the_check_in_or_come_back_later_from_any_screen() {
    let mut person = Person::new();
    let reminder = kintsugi::dialogue::engine::reminder(&person.library);
    let data = |label: &str| {
        reminder
            .buttons
            .iter()
            .find(|button| button.label == person.message(label))
            .map(|button| button.data.clone())
            .expect("a reminder button")
    };
    let (start, hour, skip) = (
        data("reminder_start"),
        data("reminder_hour"),
        data("reminder_skip"),
    );
    // Without reminders set up, a stray press says so.
    assert_eq!(
        person.input(Input::Press(hour.clone())),
        [person.message("checkin_none")]
    );
    person.send("/checkin");
    person.press("Daily");
    // A bare hour asks which half of the day; the answer is then taken.
    assert_eq!(
        person.send("9"),
        ["Is that 9 in the morning or in the evening? Write 9am or 9pm, or a time like 21:00."]
    );
    person.send("9am");
    person.press("Berlin");
    person.send("/start practice");
    let outcome = advance(&person.library, &person.state, &Input::Press(hour), NOW);
    assert_eq!(
        outcome.effects,
        [kintsugi::dialogue::engine::Effect::ScheduleReminder { due: NOW + 3600 }]
    );
    assert_eq!(
        outcome.replies[0].text,
        person.message("reminder_snoozed_hour")
    );
    assert_eq!(
        person.input(Input::Press(skip)),
        [person.message("reminder_skipped")]
    );
    assert_eq!(person.input(Input::Press(start)), ["From 1 to 10?"]);
}

// --- Safety: the crisis screen comes before the flow -----------------------------------------

#[test]
fn crisis_words_mid_flow_get_the_safety_reply_and_the_flow_waits_with_its_answers() {
    let mut person = Person::in_practice();
    assert_eq!(person.step(), Some(("practice".into(), "name".into())));
    assert_eq!(
        person.send("honestly I want to kill myself"),
        ["Safety: self-harm."]
    );
    assert_eq!(person.buttons(), ["I'm safe", "Not what I meant"]);
    assert_eq!(person.answer("practice", "mood").as_deref(), Some("calm"));
    assert_eq!(
        person.answer("practice", "thought"),
        None,
        "crisis words are never saved"
    );
    assert!(person.state.safety.is_some());

    // The flow does not resume by itself: typing keeps the safety reply in front.
    assert_eq!(person.send("ok"), ["Still here."]);
    assert_eq!(person.buttons(), ["I'm safe", "Not what I meant"]);
    assert_eq!(person.answer("practice", "thought"), None);
    assert_eq!(person.send("/continue"), ["Still here."]);

    // "I'm safe" after words about hurting oneself asks first whether there is someone to
    // reach; the reply stays open until they answer.
    assert_eq!(person.press("I'm safe"), ["Someone to reach?"]);
    assert_eq!(person.buttons(), ["Someone", "No one"]);
    assert!(person.state.safety.is_some());
    assert_eq!(person.step(), None, "the flow still waits");

    // Then going back offers the resources once more, then the step it left.
    assert_eq!(
        person.press("Someone"),
        ["Resources again. Back we go.", "What's on your mind?"]
    );
    assert!(person.state.safety.is_none());
    assert_eq!(person.step(), Some(("practice".into(), "name".into())));
    person.send("Just tired");
    assert_eq!(
        person.answer("practice", "thought").as_deref(),
        Some("Just tired")
    );
}

#[test]
fn unsure_words_get_a_gentle_question_first() {
    let mut person = Person::in_practice();
    assert_eq!(
        person.send("i just want it all to stop"),
        ["Ask: self-harm?"]
    );
    assert_eq!(person.buttons(), ["Yes", "No"]);
    // "No": the words are then taken as the answer they were (here, too long for it).
    assert_eq!(
        person.press("No"),
        [
            "Resources again. Sorry, back we go.",
            "That's a lot to hold in one message. Could you keep it under 20 characters? You can shorten it and send it again."
        ]
    );
    assert_eq!(person.step(), Some(("practice".into(), "name".into())));

    let mut person = Person::in_practice();
    assert_eq!(
        person.send("i just want it all to stop now"),
        ["Ask: self-harm?"]
    );
    assert_eq!(person.press("Yes"), ["Safety: self-harm."]);
    assert!(
        person
            .state
            .safety
            .as_ref()
            .is_some_and(|episode| episode.confirmed)
    );
}

#[test]
fn an_unsure_self_harm_message_while_a_violence_reply_waits_gets_the_self_harm_question() {
    use kintsugi::safety::ConcernKind;
    let kind = |person: &Person| {
        person
            .state
            .safety
            .as_ref()
            .map(|episode| (episode.kind, episode.confirmed))
    };
    let mut person = Person::in_practice();
    assert_eq!(person.send("i am going to hurt him"), ["Safety: violence."]);
    assert_eq!(
        person.send("i just want it all to stop now"),
        ["Ask: self-harm?"]
    );
    assert_eq!(person.buttons(), ["Yes", "No"]);
    assert_eq!(person.send("/continue"), ["Ask: self-harm?"]);

    // "No" to the question leaves the violence reply waiting, not closed.
    assert_eq!(person.press("No"), ["Still here."]);
    assert_eq!(kind(&person), Some((ConcernKind::Violence, true)));
    assert_eq!(person.step(), None, "the flow still waits");

    // "Yes" turns the reply to the self-harm one.
    assert_eq!(
        person.send("i just want it all to stop now"),
        ["Ask: self-harm?"]
    );
    assert_eq!(person.press("Yes"), ["Safety: self-harm."]);
    assert_eq!(kind(&person), Some((ConcernKind::SelfHarm, true)));
    assert_eq!(person.press("I'm safe"), ["Someone to reach?"]);
    assert_eq!(
        person.press("Someone"),
        ["Resources again. Back we go.", "What's on your mind?"]
    );
}

#[test]
fn i_am_safe_after_words_about_hurting_oneself_asks_once_who_they_could_reach() {
    // Asked once an episode: the waiting reply's "I'm safe" then goes back at once.
    let mut person = Person::in_practice();
    person.send("I want to kill myself");
    assert_eq!(person.press("I'm safe"), ["Someone to reach?"]);
    assert_eq!(person.send("hmm"), ["Still here."]);
    assert_eq!(
        person.press("I'm safe").last().map(String::as_str),
        Some("What's on your mind?")
    );
    assert_eq!(person.state.safety, None);

    // A new episode asks again.
    person.send("I want to kill myself");
    assert_eq!(person.press("I'm safe"), ["Someone to reach?"]);

    // After violence or abuse, "I'm safe" goes back at once, as before.
    let mut person = Person::in_practice();
    person.send("i am going to hurt him");
    assert_eq!(
        person.press("I'm safe"),
        ["Resources again. Back we go.", "What's on your mind?"]
    );

    // "That's not what I meant" is never asked about.
    let mut person = Person::in_practice();
    person.send("I want to kill myself");
    assert_eq!(
        person.press("Not what I meant")[0],
        person.message("safety_not_meant_back")
    );
    assert_eq!(person.state.safety, None);
}

#[test]
fn words_the_screen_stopped_at_are_never_kept_for_a_button_even_once_misread() {
    let mut person = Person::new();
    person.send("/start practice");
    assert!(person.buttons().contains(&"Calm".to_owned()));
    let words =
        "i still have the pills saved and i want to kill myself this weekend when he is away";
    assert_eq!(person.send(words), ["Safety: self-harm."]);
    let replies = person.press("Not what I meant");
    assert_eq!(replies[0], person.message("safety_not_meant_back"));
    assert_eq!(person.state.safety, None);
    assert_eq!(
        person.state.kept, None,
        "never offered back as an answer: {replies:?}"
    );
    assert!(
        !replies.contains(&person.message("kept_text")),
        "{replies:?}"
    );
}

#[test]
fn crisis_words_in_a_command_or_outside_any_flow_are_caught_too() {
    let mut person = Person::new();
    assert_eq!(
        person.send("/faq I want to kill myself"),
        ["Safety: self-harm."]
    );
    let mut person = Person::new();
    person.state.screened = Some(0);
    assert_eq!(person.send("i am going to hurt him"), ["Safety: violence."]);
    assert_eq!(
        person.state.screened, None,
        "a later screen asks each question"
    );
    assert_eq!(person.step(), None);
    assert_eq!(person.press("I'm safe")[1], person.message("menu"));
}

#[test]
fn an_everyday_phrase_on_the_ignore_list_is_not_a_concern() {
    let mut person = Person::in_practice();
    assert_eq!(person.send("dying to know"), ["From 1 to 10?"]);
    assert!(person.state.safety.is_none());
}

#[test]
fn buttons_shown_before_a_crisis_message_are_stale_after_it() {
    let mut person = Person::new();
    person.send("/start practice");
    let calm = person.data_of("Calm");
    person.send("he hits me");
    assert_eq!(
        person.input(Input::Press(calm)),
        [person.message("stale_button"), "Still here.".to_owned()]
    );
    assert_eq!(person.answer("practice", "mood"), None);
}

#[test]
fn the_safety_reply_s_buttons_can_be_typed_as_any_button_can() {
    // The gentle question: "no im ok" is its No, and the words answer the step.
    let mut person = Person::in_practice();
    person.send("cant go on");
    assert_eq!(
        person.send("no im ok"),
        [
            person.message("safety_not_meant_back"),
            "From 1 to 10?".into()
        ]
    );
    assert_eq!(person.state.safety, None);

    // The clear reply: its buttons' words press them; anything else keeps it waiting.
    let mut person = Person::in_practice();
    person.send("kill myself");
    let waiting = person.send("hmm");
    assert!(person.state.safety.is_some(), "{waiting:?}");
    let replies = person.send("not what i meant");
    assert_eq!(replies[0], person.message("safety_not_meant_back"));
    assert_eq!(person.state.safety, None);

    let mut person = Person::in_practice();
    person.send("kill myself");
    assert_eq!(person.send("I'm safe"), ["Someone to reach?"]);
    assert_eq!(
        person.send("yes").last().map(String::as_str),
        Some("What's on your mind?")
    );
    assert_eq!(person.state.safety, None);

    // Everyday ways of saying so: "im ok, ..." is the safe button; "god no. ..." the No.
    let mut person = Person::in_practice();
    person.send("kill myself");
    assert_eq!(
        person.send("im ok. im not going to do anything, just tired"),
        ["Someone to reach?"]
    );
    assert_eq!(person.send("not really"), ["A line to call."]);
    assert_eq!(person.buttons(), ["Go on"]);
    assert_eq!(
        person.send("go on"),
        ["Lines are there.", "What's on your mind?"]
    );
    assert_eq!(person.state.safety, None);
    let mut person = Person::in_practice();
    person.send("cant go on");
    person.send("oh god no. i mean done with the arguing");
    assert_eq!(person.state.safety, None);
}

#[test]
fn being_checked_on_is_no_sign_of_abuse_from_the_one_who_broke_trust_alone() {
    let drafting = || {
        let mut person = Person::new();
        person.send("/start");
        person.press("Broke");
        person.send("/start draft");
        person
    };
    let mut broke = drafting();
    broke.send("she checks my phone every night");
    assert!(broke.state.safety.is_none());
    assert_eq!(
        broke.answer("draft", "apology").as_deref(),
        Some("she checks my phone every night")
    );
    // Fear beside it is more than checking.
    let mut broke = drafting();
    broke.send("she checks my phone and i'm scared of her");
    assert!(broke.state.safety.is_some());
    // From the one who was hurt, being checked on is asked about.
    let mut hurt = Person::in_practice();
    hurt.send("he checks my phone every night");
    assert!(hurt.state.safety.is_some());
}

#[test]
fn a_question_beside_a_typed_button_is_offered_and_the_button_pressed() {
    let mut person = Person::at_practice();
    let replies = person.send("calm. how long does rebuilding trust take?");
    assert_eq!(person.answer("practice", "mood").as_deref(), Some("calm"));
    assert_eq!(replies.first(), Some(&person.message("faq_in_answer")));
    assert_eq!(
        replies.last().map(String::as_str),
        Some("What's on your mind?")
    );
}

#[test]
fn after_a_no_to_the_gentle_question_an_unsure_word_is_not_asked_about_again_so_soon() {
    let mut person = Person::in_practice();
    person.send("cant go on");
    assert!(person.state.safety.is_some());
    // "what? no." is the question's No; the words answer the step.
    assert_eq!(
        person.send("what? no."),
        [
            person.message("safety_not_meant_back"),
            "From 1 to 10?".into()
        ]
    );
    assert_eq!(person.state.safety, None);
    person.send("5");
    // The same kind of unsure word again, the same day: taken as words, not asked about.
    person.send("cant go on with these fights");
    assert!(person.state.safety.is_none());
    // A clear one is always answered.
    person.send("/start practice");
    person.press("Calm");
    person.send("kill myself");
    assert!(person.state.safety.is_some());
}

#[test]
fn saying_it_was_misread_in_any_words_closes_the_safety_reply() {
    let mut person = Person::in_practice();
    person.send("he hits me");
    person.send("what?? no. thats not what i meant");
    assert_eq!(person.state.safety, None);
}

#[test]
fn an_faq_button_typed_opens_its_answer_and_back_typed_shows_the_step() {
    let mut person = Person::in_practice();
    assert_eq!(
        person.send("How long it takes"),
        ["How long does rebuilding trust take?\n\nUsually months, sometimes years."]
    );
    person.send("/continue");
    assert_eq!(
        person.send("1. How long it takes"),
        ["How long does rebuilding trust take?\n\nUsually months, sometimes years."]
    );
    assert_eq!(person.answer("practice", "thought"), None);
    let back = person.message("faq_back");
    assert_eq!(person.send(&back), ["What's on your mind?"]);
    assert_eq!(person.answer("practice", "thought"), None);
}

#[test]
fn a_menu_title_typed_outside_a_flow_opens_it() {
    let mut person = Person::new();
    person.send("/start");
    person.press("Hurt");
    person.send("/menu");
    person.send("other");
    assert_eq!(person.step(), None, "the one-step flow ran to its end");
    assert!(person.state.done.contains(&FlowId("other".into())));
    person.send("/menu");
    assert_eq!(person.send("practice please"), ["How are you?"]);
    assert_eq!(
        person.step().map(|(flow, _)| flow),
        Some("practice".to_owned())
    );
}

#[test]
fn an_answer_misread_as_a_concern_is_taken_once_the_person_says_so() {
    let mut person = Person::in_practice();
    // At "What's on your mind?": the gentle question, then "No": the words answer it.
    person.send("cant go on");
    assert_eq!(
        person.state.safety.as_ref().map(|e| e.confirmed),
        Some(false)
    );
    let replies = person.press("No");
    assert_eq!(
        replies,
        [
            person.message("safety_not_meant_back"),
            "From 1 to 10?".into()
        ]
    );
    assert_eq!(
        person.answer("practice", "thought").as_deref(),
        Some("cant go on")
    );
    assert_eq!(person.state.safety, None);

    // "I'm safe" after a clear concern goes back to the question, the words not taken.
    let mut person = Person::in_practice();
    person.send("kill myself");
    person.press("I'm safe");
    let replies = person.press("Someone");
    assert_eq!(
        replies.last().map(String::as_str),
        Some("What's on your mind?")
    );
    assert_eq!(person.answer("practice", "thought"), None);

    // A command misread ("/faq" with words the screen stops at) is answered as the command.
    let mut unscreened = Person::in_practice();
    let expected = unscreened.input(Input::Command {
        name: "faq".into(),
        argument: "cant go on".into(),
    });
    let mut person = Person::in_practice();
    person.send("/faq cant go on");
    assert!(person.state.safety.is_some());
    let replies = person.press("No");
    assert_eq!(replies[0], person.message("safety_not_meant_back"));
    assert_eq!(replies[1..], expected[..]);
    assert_ne!(expected, ["What's on your mind?"]);
}

#[test]
fn abuse_sets_the_flows_about_staying_aside_until_it_was_not_meant() {
    let mut person = Person::new();
    person.send("/start");
    person.press("Hurt");
    person.send("he hits me");
    assert!(person.state.coaching_off);
    person.press("I'm safe");
    assert!(
        person.state.coaching_off,
        "being safe now does not undo what was said"
    );
    person.send("/menu");
    assert!(
        !person.buttons().contains(&"Practice".to_owned()),
        "{:?}",
        person.buttons()
    );
    assert_eq!(
        person.send("/start practice")[0],
        "Rebuilding is set aside.",
        "nor can it be opened directly"
    );

    // "That's not what I meant" gives back what that message took away, and only that.
    person.send("he hits me");
    person.press("Not what I meant");
    assert!(person.state.coaching_off, "the first message still stands");
    let mut person = Person::new();
    person.send("/start");
    person.press("Hurt");
    person.send("he hits me");
    person.press("Not what I meant");
    assert!(!person.state.coaching_off);
    person.send("/menu");
    assert!(person.buttons().contains(&"Practice".to_owned()));
}

#[test]
fn a_flow_set_aside_by_abuse_is_not_picked_up_again_after_i_am_safe() {
    let mut person = Person::in_practice();
    person.send("he hits me");
    assert_eq!(
        person.press("I'm safe"),
        [
            "Resources again. Back we go.",
            "Rebuilding is set aside.",
            "What would you like to work on?"
        ]
    );
    assert_eq!(person.step(), None);
    assert!(!person.buttons().contains(&"Practice".to_owned()));
}

#[test]
fn an_faq_answer_names_the_flows_it_offers_only_while_they_are_not_set_aside() {
    let mut library = library();
    library.faq.questions[1].flows = vec![
        kintsugi::dialogue::FlowId("practice".to_owned()),
        kintsugi::dialogue::FlowId("other".to_owned()),
    ];
    let mut person = Person::with_library(library);
    person.send("/start");
    person.press("Hurt");
    let try_line = |flows: &str| {
        format!(
            "How can I tell if remorse is genuine?\n\nWatch what they do over time. When you're ready, send /menu and try {flows}."
        )
    };
    assert_eq!(person.send("/faq 2"), [try_line("'Practice' or 'Other'")]);
    person.send("he hits me");
    person.press("I'm safe");
    assert_eq!(person.send("/faq 2"), [try_line("'Other'")]);
}

#[test]
fn an_open_episode_ends_when_the_person_chooses_another_flow() {
    let mut person = Person::in_practice();
    person.send("he hits me");
    person.send("/start other");
    assert!(person.state.safety.is_none());
}

// --- Privacy: /export and /forget -----------------------------------------------------------

#[test]
fn export_asks_the_rings_for_the_export_file() {
    let mut person = Person::in_practice();
    person.send("A quiet walk");
    assert_eq!(person.send("/export"), ["Your data."]);
    assert_eq!(
        person.last[0].attachment,
        Some(kintsugi::dialogue::engine::Attachment::Export)
    );
}

#[test]
fn forget_asks_first_and_then_asks_storage_to_delete_everything() {
    let mut person = Person::in_practice();
    assert_eq!(person.send("/forget"), ["Delete everything?"]);
    assert_eq!(person.press("Keep"), ["Kept.", "What's on your mind?"]);
    assert!(person.answer("practice", "mood").is_some());

    person.send("/forget");
    let outcome = advance(
        &person.library,
        &person.state,
        &Input::Press(person.data_of("Delete")),
        NOW,
    );
    assert_eq!(outcome.state, PersonState::default());
    assert_eq!(
        outcome.effects,
        [kintsugi::dialogue::engine::Effect::Forget]
    );
    assert_eq!(outcome.replies[0].text, "Deleted.");
}

#[test]
fn privacy_explains_itself() {
    let mut person = Person::new();
    assert_eq!(person.send("/privacy"), ["What is kept: 180 days."]);
    let with = |retention_days| {
        kintsugi::dialogue_dir::compile_dir_with(
            Path::new("tests/fixtures/engine"),
            kintsugi::dialogue::compile::Options { retention_days },
        )
        .expect("the engine fixtures are valid")
    };
    let mut person = Person::with_library(with(Some(30)));
    assert_eq!(person.send("/privacy"), ["What is kept: 30 days."]);
    let mut person = Person::with_library(with(None));
    assert_eq!(person.send("/privacy"), ["What is kept: until deleted."]);
}

#[test]
fn a_number_alone_is_never_read_as_a_crisis() {
    // A rating, an FAQ number or a time carries no words; the classifier once read "19" as
    // self-harm and "24" as abuse, so `/faq 19` got the safety reply.
    let library = library();
    let mut inputs: Vec<String> = (0..=100).map(|n| n.to_string()).collect();
    inputs.extend(["3/10", "12:30", "7.5", "#2", "1)", "100%"].map(String::from));
    for input in &inputs {
        assert!(
            library.screen(input).is_none(),
            "{input:?} was read as a crisis"
        );
        assert!(
            kintsugi::dialogue::Input::from_text(&format!("/faq {input}"))
                .concern(&library)
                .is_none()
        );
    }
    // Words still count, however short the message.
    assert!(library.screen("I want to die").is_some());
}

/// The summary document the latest replies carry, if any.
fn summary_of(person: &Person) -> Option<kintsugi::dialogue::engine::SummaryDocument> {
    person
        .last
        .iter()
        .find_map(|reply| match &reply.attachment {
            Some(kintsugi::dialogue::engine::Attachment::Summary(document)) => {
                Some((**document).clone())
            }
            _ => None,
        })
}

fn with_checkins(person: &mut Person, notes: &[&str]) {
    person.state.history = notes
        .iter()
        .enumerate()
        .map(|(index, note)| kintsugi::dialogue::state::CheckinEntry {
            at: NOW - 86_400 * (notes.len() - index) as i64,
            answers: [
                ("trust".to_owned(), "6".to_owned()),
                ("note".to_owned(), (*note).to_owned()),
            ]
            .into_iter()
            .collect(),
        })
        .collect();
}

#[test]
fn a_summary_holds_only_the_parts_the_person_picks() {
    let mut person = Person::new();
    assert_eq!(person.send("/summary"), [person.message("summary_nothing")]);
    let mut person = Person::in_practice();
    person.send("my worry");
    with_checkins(&mut person, &["slept better", "a calm talk"]);
    let replies = person.send("/summary");
    assert_eq!(
        replies,
        [
            person.message("summary_intro"),
            "Put in what you said in practice?".into()
        ]
    );
    person.press("Put it in");
    assert_eq!(person.last[0].text, "Put in the trend?");
    person.press("Leave it out");
    assert_eq!(person.last[0].text, "Put in the notes?");
    person.press("Put it in");
    let document = summary_of(&person).expect("a summary");
    assert_eq!(person.last[0].text, person.message("summary_ready"));
    let headings: Vec<&str> = document
        .sections
        .iter()
        .map(|s| s.heading.as_str())
        .collect();
    assert_eq!(headings, ["What you said in practice", "The notes"]);
    assert_eq!(document.sections[0].paragraphs, ["You said: my worry (…)"]);
    assert!(document.sections[1].paragraphs[0].ends_with(": slept better"));
    assert!(
        document
            .sections
            .iter()
            .all(|section| section.chart.is_none())
    );
    assert_eq!(person.state.summary, None);
}

#[test]
fn a_summary_s_buttons_can_be_typed_and_other_words_ask_again() {
    let mut person = Person::in_practice();
    person.send("my worry");
    with_checkins(&mut person, &["slept better", "a calm talk"]);
    person.send("/summary");
    assert_eq!(
        person.send("hmm not sure"),
        [
            person.message("use_buttons"),
            "Put in what you said in practice?".into()
        ]
    );
    person.send("put it in");
    assert_eq!(person.last[0].text, "Put in the trend?");
    person.send("no");
    assert_eq!(person.last[0].text, "Put in the notes?");
    person.send("yes please");
    let document = summary_of(&person).expect("a summary");
    assert_eq!(document.sections.len(), 2);
}

#[test]
fn a_summary_with_everything_left_out_or_stopped_makes_nothing() {
    let mut person = Person::in_practice();
    person.send("my worry");
    person.send("/summary");
    person.press("Leave it out");
    assert_eq!(person.last[0].text, person.message("summary_none_picked"));
    assert!(summary_of(&person).is_none());
    person.send("/summary");
    person.press("Stop");
    assert_eq!(person.last[0].text, person.message("summary_stopped"));
    assert!(summary_of(&person).is_none());
    assert_eq!(person.state.summary, None);
    // Its buttons are stale once it has stopped.
    assert_eq!(
        person.input(Input::Press(format!("{}|y:in", person.state.seq))),
        {
            let mut expected = vec![person.message("stale_button")];
            expected.push(person.message("menu"));
            expected
        }
    );
}

#[test]
fn a_summary_never_carries_crisis_words_and_says_a_line_was_left_out() {
    let mut person = Person::new();
    with_checkins(
        &mut person,
        &["I want to kill myself", "we walked by the sea"],
    );
    person.send("/summary");
    person.press("Leave it out");
    person.press("Put it in");
    let document = summary_of(&person).expect("a summary");
    let text = format!("{document:?}");
    assert!(!text.contains("kill"), "{text}");
    assert!(text.contains("we walked by the sea"));
    assert!(
        person.last[0]
            .text
            .ends_with(&person.message("summary_left_out"))
    );
    // The trend, when picked, brings its chart.
    let mut person = Person::new();
    with_checkins(&mut person, &["fine"]);
    person.send("/summary");
    person.press("Put it in");
    person.press("Leave it out");
    let document = summary_of(&person).expect("a summary");
    assert!(document.sections[0].chart.is_some());
}

#[test]
fn faq_with_words_it_cannot_place_offers_the_closest_questions_and_with_nothing_to_go_by_the_list()
{
    let library = compile_dir(Path::new("dialogues")).expect("the shipped dialogues are valid");
    let words = "he laughed when i said we should see someone together";
    assert!(
        library.faq.suggest(words).is_empty(),
        "typed in passing, the matcher offers nothing"
    );
    let questions = library.faq.questions.len();
    let mut person = Person::with_library(library);
    let before = person.state.clone();
    assert_eq!(
        person.send(&format!("/faq {words}")),
        [person.message("faq_suggest")]
    );
    let offered = person.buttons();
    assert!((4..=6).contains(&offered.len()), "{offered:?}");
    let all = person.message("faq_all_button");
    assert_eq!(offered.last(), Some(&all), "the last lists them all");
    let refuses = person
        .library
        .faq
        .by_id("no-counselling")
        .expect("the question")
        .button
        .clone();
    assert!(
        offered.iter().any(|label| label.ends_with(&refuses)),
        "{offered:?}"
    );
    assert_eq!(person.state, before, "the FAQ changes nothing");
    // When the offered few are not it, the whole list is one tap away.
    assert_eq!(person.press(&all), [person.message("faq")]);
    assert_eq!(person.buttons().len(), questions);
    assert_eq!(person.state, before, "the list changes nothing");
    // A text with no word to go by still gets the whole list.
    assert_eq!(person.send("/faq ?!"), [person.message("faq")]);
    assert_eq!(person.buttons().len(), questions);
}

#[test]
fn an_faq_answer_found_from_words_keeps_the_whole_list_one_tap_away() {
    // A small FAQ, with too few examples for a learned order, answers at once when sure.
    let mut person = Person::new();
    let words = "how long does recovery take?";
    let found = person.library.faq.suggest(words);
    assert_eq!(found.len(), 1, "sure of one");
    let answer = found[0].question.clone();
    let questions = person.library.faq.questions.len();
    let replies = person.send(&format!("/faq {words}"));
    assert_eq!(replies.len(), 1);
    assert!(replies[0].starts_with(&answer), "{replies:?}");
    let all = person.message("faq_all_button");
    assert_eq!(person.buttons(), vec![all.clone()]);
    // Pressed later, under a flow's step, it still lists them, and the step stays.
    let data = person.data_of(&all);
    person.send("/start");
    let step = person.step();
    assert!(step.is_some());
    assert_eq!(person.input(Input::Press(data)), [person.message("faq")]);
    assert_eq!(person.buttons().len(), questions);
    assert_eq!(person.step(), step);
}
