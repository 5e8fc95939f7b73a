//! The loader's diagnostics, one test per kind of problem. Each test loads a small inline flow
//! through the pure API and asserts the exact text an author sees from `kintsugi check`:
//! `path:line:col: error: message`, with `    help: ...` on the next line when there is a hint.

use std::path::Path;

use kintsugi::dialogue::model::BOT_MESSAGES;
use kintsugi::dialogue::{SourceFile, compile};

const BOT_PATH: &str = "dialogues/bot.toml";
const FLOW_PATH: &str = "dialogues/start.toml";

/// A valid `bot.toml` whose `/start` opens `start_flow`, with every message the bot uses.
fn bot_toml(start_flow: &str) -> String {
    let mut text = format!("start_flow = \"{start_flow}\"\n\n[messages]\n");
    for (key, _) in BOT_MESSAGES {
        text.push_str(&format!("{key} = \"The {key} message.\"\n"));
    }
    text
}

/// The line just below a generated `bot.toml`, where a test appends its own lines.
fn after_bot_toml() -> usize {
    bot_toml("start").lines().count() + 1
}

/// Every message key the bot uses, as the loader lists them.
fn message_keys() -> String {
    BOT_MESSAGES
        .iter()
        .map(|(key, _)| *key)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A flow file with the id `id` whose entry step is `hello`. Its first six lines are the
/// flow's header and line 7 is blank, so `steps` starts on line 8.
fn flow(id: &str, steps: &str) -> String {
    format!(
        "id = \"{id}\"\nversion = 1\ntitle = \"A test flow\"\nsummary = \"One line.\"\n\
         audience = [\"hurt\"]\nentry = \"hello\"\n\n{steps}"
    )
}

fn source(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: path.to_owned(),
        text: text.to_owned(),
    }
}

/// Every problem `load` reports for `files`, rendered as an author reads it.
fn problems(files: &[SourceFile]) -> Vec<String> {
    match compile(files) {
        Ok(library) => panic!(
            "expected problems, but {} flows loaded cleanly",
            library.flows.len()
        ),
        Err(diagnostics) => diagnostics.0.iter().map(ToString::to_string).collect(),
    }
}

/// The problems of one flow file `dialogues/start.toml` (id "start"), beside a valid bot.toml
/// that starts it.
fn flow_problems(steps: &str) -> Vec<String> {
    problems(&[
        source(BOT_PATH, &bot_toml("start")),
        source(FLOW_PATH, &flow("start", steps)),
    ])
}

/// The problems of `bot_text` as `dialogues/bot.toml`, beside a valid flow "start".
fn bot_problems(bot_text: &str) -> Vec<String> {
    problems(&[
        source(BOT_PATH, bot_text),
        source(FLOW_PATH, &flow("start", GOODBYE)),
    ])
}

/// A valid one-step flow body.
const GOODBYE: &str = "[steps.hello]\nsay = \"Hello and goodbye.\"\nend = true\n";

#[test]
fn a_valid_flow_loads_with_no_problems() {
    let library = compile(&[
        source(BOT_PATH, &bot_toml("start")),
        source(FLOW_PATH, &flow("start", GOODBYE)),
    ])
    .expect("a valid flow loads");
    assert_eq!(library.flows.len(), 1);
    assert_eq!(library.bot.start_flow.0, "start");
}

#[test]
fn the_real_dialogue_folder_loads_with_no_problems() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues");
    match kintsugi::dialogue_dir::compile_dir(&folder) {
        Ok(library) => {
            assert!(library.flow("welcome").is_some());
            assert!(library.flow("forgiveness").is_some());
            assert!(library.flow("ground-rules").is_some());
        }
        Err(diagnostics) => panic!("dialogues/ has problems:\n{diagnostics}"),
    }
}

#[test]
fn a_toml_syntax_error_is_reported_where_the_text_breaks() {
    let steps = "[steps.hello]\nsay = \"Hi\nend = true\n";
    assert_eq!(
        flow_problems(steps),
        ["dialogues/start.toml:9:10: error: invalid basic string, expected `\"`"]
    );
}

#[test]
fn an_unknown_field_suggests_the_closest_allowed_field() {
    let steps = "[steps.hello]\nsya = \"Hi\"\nend = true\n";
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:9:1: error: unknown field `sya`\n    help: did you mean `say`? fields allowed here: say, next, save, choices, ask, branch, otherwise, jump, end, suggest, review, notes, all_clear, effect"
        ]
    );
}

#[test]
fn a_missing_field_is_named_with_how_to_add_it() {
    let text = "id = \"start\"\nversion = 1\ntitle = \"A test flow\"\naudience = [\"hurt\"]\n\
                entry = \"hello\"\n\n[steps.hello]\nsay = \"Bye.\"\nend = true\n";
    assert_eq!(
        problems(&[
            source(BOT_PATH, &bot_toml("start")),
            source(FLOW_PATH, text)
        ]),
        [
            "dialogues/start.toml:1:1: error: missing field `summary`\n    help: add `summary = ...` here (see dialogues/FORMAT.md)"
        ]
    );
}

#[test]
fn two_files_with_the_same_flow_id_point_at_each_other() {
    assert_eq!(
        problems(&[
            source(BOT_PATH, &bot_toml("start")),
            source("dialogues/a.toml", &flow("start", GOODBYE)),
            source("dialogues/b.toml", &flow("start", GOODBYE)),
        ]),
        [
            "dialogues/b.toml:1:6: error: two flows have the id \"start\"\n    help: the other is in dialogues/a.toml:1; give this one another id"
        ]
    );
}

#[test]
fn a_step_table_written_twice_is_a_toml_error() {
    let steps =
        "[steps.hello]\nsay = \"Hi.\"\nend = true\n\n[steps.hello]\nsay = \"Again.\"\nend = true\n";
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:12:8: error: duplicate key\n    help: this name is written twice in the same table: rename one or merge the two"
        ]
    );
}

#[test]
fn an_unknown_step_is_reported_with_line_and_column_and_the_steps_of_the_flow() {
    let steps =
        "[steps.hello]\nsay = \"Hi.\"\nnext = \"by\"\n\n[steps.bye]\nsay = \"Bye.\"\nend = true\n";
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:10:8: error: step \"hello\" goes to unknown step \"by\"\n    help: did you mean \"bye\"? steps in this flow: hello, bye"
        ]
    );
}

#[test]
fn a_missing_entry_step_suggests_the_closest_step() {
    let text = flow("start", GOODBYE).replace("entry = \"hello\"", "entry = \"helo\"");
    assert_eq!(
        problems(&[
            source(BOT_PATH, &bot_toml("start")),
            source(FLOW_PATH, &text)
        ]),
        [
            "dialogues/start.toml:6:9: error: the entry step \"helo\" does not exist\n    help: did you mean \"hello\"? steps in this flow: hello"
        ]
    );
}

#[test]
fn a_step_no_path_reaches_is_unreachable() {
    let steps = "[steps.hello]\nsay = \"Hi.\"\nend = true\n\n[steps.lost]\nsay = \"Nobody comes here.\"\nend = true\n";
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:12:8: error: step \"lost\" can never be reached from the entry \"hello\"\n    help: point a button, `next` or branch at it, or remove it"
        ]
    );
}

#[test]
fn choice_steps_that_only_lead_to_each_other_are_traps() {
    let steps = r#"[steps.hello]
say = "Where to?"
choices = [
  { label = "Leave", goto = "bye" },
  { label = "Go round", goto = "ping" },
]

[steps.ping]
say = "Ping."
choices = [{ label = "On", goto = "pong" }]

[steps.pong]
say = "Pong."
choices = [{ label = "Back", goto = "ping" }]

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:15:8: error: step \"ping\" is a trap: no path from it reaches an end\n    help: give it a way on to an `end = true` step or a `jump`",
            "dialogues/start.toml:19:8: error: step \"pong\" is a trap: no path from it reaches an end\n    help: give it a way on to an `end = true` step or a `jump`"
        ]
    );
}

#[test]
fn a_loop_of_steps_that_never_wait_is_reported_on_each_step() {
    let steps = r#"[steps.hello]
say = "Round we go."
next = "check"

[steps.check]
branch = [{ role = "together", goto = "bye" }]
otherwise = "hello"

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:8:8: error: step \"hello\" is in a loop that never waits for the person\n    help: put a step with buttons or a question in the loop",
            "dialogues/start.toml:12:8: error: step \"check\" is in a loop that never waits for the person\n    help: put a step with buttons or a question in the loop"
        ]
    );
}

#[test]
fn a_placeholder_saved_on_only_one_branch_is_reported() {
    let steps = r#"[steps.hello]
say = "Tell me your name?"
choices = [
  { label = "Sure", goto = "ask_name" },
  { label = "Skip", goto = "bye" },
]

[steps.ask_name]
say = "What is it?"
ask = { save = "name", max_length = 50 }
next = "bye"

[steps.bye]
say = "Bye, {name}."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:21:7: error: step \"bye\" shows {name}, but not every path to it saves \"name\"\n    help: make sure \"name\" is saved before every way into this step, and not cleared"
        ]
    );
}

#[test]
fn a_placeholder_a_button_clears_is_not_saved_on_that_path() {
    let steps = r#"[steps.hello]
say = "Write a letter."
ask = { save = "letter", max_length = 500 }
next = "keep"

[steps.keep]
say = "Keep it?"
choices = [
  { label = "Delete it", goto = "bye", id = "delete", clear = ["letter"] },
  { label = "Keep it", goto = "bye", id = "keep" },
]

[steps.bye]
say = "Your letter: {letter}"
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:21:7: error: step \"bye\" shows {letter}, but not every path to it saves \"letter\"\n    help: make sure \"letter\" is saved before every way into this step, and not cleared"
        ]
    );
}

#[test]
fn a_placeholder_no_step_saves_suggests_the_closest_answer() {
    let steps = r#"[steps.hello]
say = "What is your name?"
ask = { save = "name", max_length = 50 }
next = "bye"

[steps.bye]
say = "Bye, {nmae}."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:14:7: error: step \"bye\" shows {nmae}, but not every path to it saves \"nmae\"\n    help: did you mean {name}?"
        ]
    );
}

#[test]
fn a_message_too_long_once_its_answers_are_filled_in_is_reported() {
    let steps = r#"[steps.hello]
say = "First?"
ask = { save = "one", max_length = 1500 }
next = "two"

[steps.two]
say = "Second?"
ask = { save = "two", max_length = 1500 }
next = "three"

[steps.three]
say = "Third?"
ask = { save = "three", max_length = 1500 }
next = "bye"

[steps.bye]
say = "You said {one}, {two} and {three}."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:24:7: error: step \"bye\" can grow to 4517 characters with its answers filled in; Telegram allows 4096\n    help: shorten the text, or lower `max_length` on the questions it shows"
        ]
    );
}

#[test]
fn more_than_eight_buttons_are_too_many_for_a_phone() {
    let buttons: String = (1..=9)
        .map(|n| format!("  {{ label = \"Option {n}\", goto = \"bye\", id = \"option_{n}\" }},\n"))
        .collect();
    let steps = format!(
        "[steps.hello]\nsay = \"Pick one.\"\nchoices = [\n{buttons}]\n\n[steps.bye]\nsay = \"Bye.\"\nend = true\n"
    );
    assert_eq!(
        flow_problems(&steps),
        [
            "dialogues/start.toml:10:11: error: step \"hello\" has 9 buttons; at most 8 fit on a phone\n    help: split the step in two"
        ]
    );
}

#[test]
fn a_button_label_over_forty_characters_is_too_long() {
    let steps = r#"[steps.hello]
say = "Ready?"
choices = [{ label = "Yes, I am ready to begin this conversation now", goto = "bye" }]

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:10:22: error: the button \"Yes, I am ready to begin this conversation now\" of step \"hello\" is 46 characters long; at most 40 show whole on a phone\n    help: shorten the label"
        ]
    );
}

#[test]
fn two_buttons_with_the_same_id_are_reported_on_the_second() {
    let steps = r#"[steps.hello]
say = "Ready?"
choices = [
  { label = "Yes", goto = "bye" },
  { label = "Also yes", goto = "bye" },
]

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:12:3: error: two buttons of step \"hello\" have the id \"bye\"\n    help: give one of them its own `id = \"...\"`"
        ]
    );
}

#[test]
fn a_jump_to_an_unknown_flow_suggests_the_closest_flow() {
    let steps = "[steps.hello]\nsay = \"Off we go.\"\njump = \"forgivness\"\n";
    assert_eq!(
        problems(&[
            source(BOT_PATH, &bot_toml("start")),
            source("dialogues/forgiveness.toml", &flow("forgiveness", GOODBYE)),
            source(FLOW_PATH, &flow("start", steps)),
        ]),
        [
            "dialogues/start.toml:10:8: error: step \"hello\" jumps to unknown flow \"forgivness\"\n    help: did you mean \"forgiveness\"? flows: forgiveness, start"
        ]
    );
}

#[test]
fn a_suggestion_of_an_unknown_flow_lists_the_flows() {
    let steps =
        "[steps.hello]\nsay = \"Bye.\"\nend = true\nsuggest = [\"start\", \"boundaries\"]\n";
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:11:21: error: step \"hello\" suggests unknown flow \"boundaries\"\n    help: flows: start"
        ]
    );
}

#[test]
fn a_misspelt_role_suggests_the_closest_role() {
    let steps = r#"[steps.hello]
say = "Who are you?"
choices = [{ label = "I was hurt", goto = "bye", role = "hurted" }]

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:10:57: error: \"hurted\" is not a role\n    help: did you mean \"hurt\"? roles: hurt, broke_trust, together"
        ]
    );
}

#[test]
fn a_misspelt_audience_is_a_bad_role() {
    let text = flow("start", GOODBYE).replace("[\"hurt\"]", "[\"hurt\", \"togther\"]");
    assert_eq!(
        problems(&[
            source(BOT_PATH, &bot_toml("start")),
            source(FLOW_PATH, &text)
        ]),
        [
            "dialogues/start.toml:5:21: error: \"togther\" is not a role\n    help: did you mean \"together\"? roles: hurt, broke_trust, together"
        ]
    );
}

#[test]
fn a_step_of_two_kinds_is_reported_on_the_step() {
    let steps = r#"[steps.hello]
say = "How are you?"
ask = { save = "mood" }
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:8:1: error: step \"hello\" mixes ask and end\n    help: a step is exactly one kind: split it into two steps"
        ]
    );
}

#[test]
fn a_branch_without_otherwise_is_reported() {
    let steps = r#"[steps.hello]
branch = [{ role = "hurt", goto = "bye" }]

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:8:1: error: step \"hello\" has a branch without `otherwise`\n    help: add `otherwise = \"<step>\"`: where to go when no rule holds"
        ]
    );
}

#[test]
fn a_question_without_next_is_reported() {
    let steps = r#"[steps.hello]
say = "How are you?"
ask = { save = "mood" }
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:8:1: error: step \"hello\" asks a question but has no `next`\n    help: add `next = \"<step>\"`: where to go once the person answers"
        ]
    );
}

#[test]
fn a_number_question_with_min_above_max_is_an_empty_range() {
    let steps = r#"[steps.hello]
say = "From 1 to 10?"
ask = { save = "score", min = 10, max = 1 }
next = "bye"

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:10:31: error: step \"hello\" asks for a number from 10 to 1, which is empty\n    help: swap `min` and `max`"
        ]
    );
}

#[test]
fn a_message_missing_from_bot_toml_is_named_with_its_purpose() {
    let text = bot_toml("start").replace("help = \"The help message.\"\n", "");
    assert_eq!(
        bot_problems(&text),
        [
            "dialogues/bot.toml:3:1: error: message \"help\" is missing (the reply to /help)\n    help: add `help = \"...\"` under [messages]"
        ]
    );
}

#[test]
fn an_unknown_message_in_bot_toml_suggests_the_closest_key() {
    let text = format!("{}menu_buton = \"Back\"\n", bot_toml("start"));
    assert_eq!(
        bot_problems(&text),
        [format!(
            "dialogues/bot.toml:{}:1: error: unknown message \"menu_buton\"\n    help: did you mean \"menu_button\"?",
            after_bot_toml()
        )]
    );
}

#[test]
fn a_start_flow_naming_an_unknown_flow_lists_the_flows() {
    assert_eq!(
        bot_problems(&bot_toml("stat")),
        [
            "dialogues/bot.toml:1:14: error: `start_flow` names unknown flow \"stat\"\n    help: did you mean \"start\"? flows: start"
        ]
    );
}

#[test]
fn a_folder_without_bot_toml_is_reported() {
    assert_eq!(
        problems(&[source(FLOW_PATH, &flow("start", GOODBYE))]),
        [
            "dialogues/bot.toml:1:1: error: the folder has no bot.toml, which holds the bot's own messages\n    help: copy bot.toml from the project's dialogues/ folder"
        ]
    );
}

#[test]
fn every_problem_in_every_file_is_reported_at_once_sorted_by_path_line_and_column() {
    let start = r#"[steps.hello]
say = "Hi."
next = "nowhere"

[steps.bye]
say = "Bye."
end = true
suggest = ["nope"]
"#;
    let other = r#"[steps.hello]
say = "Pick."
choices = [{ label = "Go", goto = "bye", role = "hurts" }]

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        problems(&[
            // Given out of order: the report is sorted all the same.
            source("dialogues/zz.toml", &flow("other", other)),
            source(BOT_PATH, &format!("{}oops = \"?\"\n", bot_toml("start"))),
            source(FLOW_PATH, &flow("start", start)),
            source("dialogues/broken.toml", "id = \n"),
        ]),
        [
            format!(
                "dialogues/bot.toml:{}:1: error: unknown message \"oops\"\n    help: messages the bot uses: {}",
                after_bot_toml(),
                message_keys()
            ),
            "dialogues/broken.toml:1:6: error: string values must be quoted, expected literal string".to_owned(),
            "dialogues/start.toml:10:8: error: step \"hello\" goes to unknown step \"nowhere\"\n    help: steps in this flow: hello, bye".to_owned(),
            "dialogues/zz.toml:10:49: error: \"hurts\" is not a role\n    help: did you mean \"hurt\"? roles: hurt, broke_trust, together".to_owned()
        ]
    );
}

#[test]
fn a_review_of_an_answer_not_saved_on_every_path_is_reported() {
    let steps = r#"[steps.hello]
say = "Write?"
choices = [
  { label = "Yes", goto = "write" },
  { label = "No", goto = "notes" },
]

[steps.write]
say = "Write it."
ask = { save = "draft" }
next = "notes"

[steps.notes]
review = "draft"
next = "bye"

[[steps.notes.notes]]
id = "but"
when_any = ["but"]
say = "A but."

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:21:10: error: step \"notes\" reviews \"draft\", but not every path to it saves it\n    help: make sure \"draft\" is saved before every way into this step, and not cleared"
        ]
    );
}

#[test]
fn a_note_needs_exactly_one_of_when_any_and_when_none() {
    let steps = r#"[steps.hello]
say = "Write it."
ask = { save = "draft" }
next = "notes"

[steps.notes]
review = "draft"
next = "bye"

[[steps.notes.notes]]
id = "but"
when_any = ["but"]
when_none = ["sorry"]
say = "A but."

[[steps.notes.notes]]
id = "empty"
say = "Nothing to look for."

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:17:1: error: note \"but\" of step \"notes\" has both `when_any` and `when_none`\n    help: give it `when_any = [...]` (shown when the answer says one of these) or `when_none = [...]` (shown when it says none of them)",
            "dialogues/start.toml:23:1: error: note \"empty\" of step \"notes\" has neither `when_any` nor `when_none`\n    help: give it `when_any = [...]` (shown when the answer says one of these) or `when_none = [...]` (shown when it says none of them)"
        ]
    );
}

#[test]
fn notes_without_review_belong_to_no_step_kind() {
    let steps = r#"[steps.hello]
say = "Hi."
all_clear = "Fine."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:8:1: error: step \"hello\" has `all_clear`, which only a `review` step uses\n    help: remove `all_clear`"
        ]
    );
}

#[test]
fn faq_questions_need_their_own_ids_and_short_buttons() {
    let faq = r#"takeaways = "Go gently."

[[questions]]
id = "how-long"
button = "How long it takes"
question = "How long does it take?"
answer = "A while."

[[questions]]
id = "how-long"
button = "How long until it feels steady again after everything?"
question = "How long, really?"
answer = "Longer."
"#;
    assert_eq!(
        problems(&[
            source(BOT_PATH, &bot_toml("start")),
            source("dialogues/faq.toml", faq),
            source(FLOW_PATH, &flow("start", GOODBYE)),
        ]),
        [
            "dialogues/faq.toml:10:6: error: questions 1 and 2 have the same id \"how-long\"\n    help: give each question its own id",
            "dialogues/faq.toml:11:10: error: question 2: the button must be one line of 1 to 40 characters, but it has 54\n    help: write a short label, such as \"How long it takes\""
        ]
    );
}

#[test]
fn a_command_cannot_take_a_built_in_name_or_show_answers_its_flow_never_saves() {
    let text = format!(
        "{}\n[commands.menu]\nabout = \"Another menu\"\nopen = \"start\"\n\n\
         [commands.card]\nabout = \"Show the card\"\nshow = \"start\"\ntext = \"Card: {{nmae}}\"\nmissing = \"None yet.\"\n",
        bot_toml("start")
    );
    let steps = "[steps.hello]\nsay = \"Name?\"\nask = { save = \"name\" }\nnext = \"bye\"\n\n[steps.bye]\nsay = \"Bye.\"\nend = true\n";
    assert_eq!(
        problems(&[
            source(BOT_PATH, &text),
            source(FLOW_PATH, &flow("start", steps)),
        ]),
        [
            format!(
                "dialogues/bot.toml:{}:11: error: /menu is one of the bot's own commands\n    help: pick another name; the bot's own are /start, /menu, /help, /continue, /cancel, /faq, /takeaways, /checkin, /progress, /privacy, /export, /forget",
                after_bot_toml() + 1
            ),
            format!(
                "dialogues/bot.toml:{}:8: error: /card shows {{nmae}}, which flow \"start\" never saves\n    help: did you mean {{name}}?",
                after_bot_toml() + 8
            )
        ]
    );
}

#[test]
fn an_unknown_kind_of_answer_suggests_the_kinds_there_are() {
    let steps = r#"[steps.hello]
say = "When?"
ask = { save = "when", kind = "tme" }
next = "bye"

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:10:31: error: step \"hello\" asks for an unknown kind of answer \"tme\"\n    help: did you mean \"time\"? kinds: time, zone"
        ]
    );
}

#[test]
fn a_zone_answer_brings_its_local_time_as_a_placeholder() {
    let steps = r#"[steps.hello]
say = "Where?"
ask = { save = "zone", kind = "zone" }
next = "bye"

[steps.bye]
say = "It is {zone_time} in {zone}."
end = true
"#;
    let library = compile(&[
        source(BOT_PATH, &bot_toml("start")),
        source(FLOW_PATH, &flow("start", steps)),
    ]);
    assert!(library.is_ok(), "{:?}", library.err());
}

#[test]
fn an_end_that_schedules_check_ins_needs_its_answers_and_readable_words() {
    let steps = r#"[steps.hello]
say = "How often?"
save = "frequency"
choices = [
  { label = "Daily", goto = "time", value = "daily", id = "daily" },
  { label = "Fortnightly", goto = "time", value = "fortnightly", id = "fortnightly" },
]

[steps.time]
say = "What time?"
ask = { save = "time", kind = "time" }
next = "bye"

[steps.bye]
say = "Done."
end = true
effect = "schedule_checkins"
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:8:8: error: step \"hello\": the button \"Fortnightly\" saves frequency \"fortnightly\", which a schedule cannot read\n    help: give it `value = \"...\"`, one of: daily, every 2 days ... every 6 days, weekly",
            "dialogues/start.toml:21:8: error: step \"bye\" ends with `effect = \"schedule_checkins\"`, which needs the answer \"zone\" saved on every path to it\n    help: save \"zone\" before every way into this step"
        ]
    );
}

#[test]
fn an_unknown_effect_suggests_the_effects_there_are() {
    let steps = "[steps.hello]\nsay = \"Bye.\"\nend = true\neffect = \"record_checkins\"\n";
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:11:10: error: step \"hello\" has an unknown effect \"record_checkins\"\n    help: did you mean \"record_checkin\"? effects: schedule_checkins, record_checkin"
        ]
    );
}

#[test]
fn safety_steps_must_exist_and_show_nothing_asked_before_them() {
    let steps = r#"[steps.hello]
say = "Are you safe?"
ask = { save = "danger" }
next = "ground"

[steps.ground]
say = "Breathe."
next = "close"

[steps.close]
say = "You said {danger}."
end = true
"#;
    let text = format!(
        "{}\n[safety]\nflow = \"start\"\ngrounding = \"ground\"\nplan = \"plna\"\n",
        bot_toml("start")
    );
    let line = after_bot_toml() + 2;
    assert_eq!(
        problems(&[
            source(BOT_PATH, &text),
            source(FLOW_PATH, &flow("start", steps))
        ]),
        [
            format!(
                "dialogues/bot.toml:{}:13: error: a safety reply opens flow \"start\" at step \"ground\", and from there step \"close\" shows {{danger}}, which is never asked on the way\n    help: remove {{danger}} from step \"close\", or start the safety reply's button at a step before the one that saves it",
                line + 1
            ),
            format!(
                "dialogues/bot.toml:{}:8: error: `plan` names step \"plna\", which flow \"start\" does not have",
                line + 2
            ),
        ]
    );
}

#[test]
fn a_button_that_speaks_of_fear_without_a_concern_is_a_warning_and_the_flow_still_loads() {
    let steps = r#"[steps.hello]
say = "How do you feel around them?"
choices = [
  { label = "Safe", goto = "bye" },
  { label = "I feel afraid of them", goto = "bye", id = "afraid" },
  { label = "Threatened or controlled", goto = "bye", id = "controlled", safety = "concern" },
]

[steps.bye]
say = "Bye."
end = true
"#;
    let library = compile(&[
        source(BOT_PATH, &bot_toml("start")),
        source(FLOW_PATH, &flow("start", steps)),
    ])
    .expect("a warning does not stop the flow loading");
    let warnings: Vec<String> = library.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "dialogues/start.toml:12:13: warning: the button \"I feel afraid of them\" of step \"hello\" speaks of fear, threats or control but sets no concern\n    help: add `safety = \"concern\"`, so the flows about staying together are set aside once it is pressed"
        ]
    );
}

#[test]
fn a_warning_is_listed_beside_the_errors_of_a_folder_that_does_not_load() {
    let steps = r#"[steps.hello]
say = "How do you feel around them?"
choices = [{ label = "Scared", goto = "gone" }]
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:10:22: warning: the button \"Scared\" of step \"hello\" speaks of fear, threats or control but sets no concern\n    help: add `safety = \"concern\"`, so the flows about staying together are set aside once it is pressed",
            "dialogues/start.toml:10:39: error: step \"hello\" goes to unknown step \"gone\"\n    help: steps in this flow: hello"
        ]
    );
}

#[test]
fn a_concern_rule_names_a_known_concern_and_tests_nothing_else() {
    let steps = r#"[steps.hello]
branch = [
  { concern = "self-harm", goto = "bye" },
  { concern = "anger", goto = "bye" },
  { concern = "abuse", role = "hurt", goto = "bye" },
]
otherwise = "bye"

[steps.bye]
say = "Bye."
end = true
"#;
    assert_eq!(
        flow_problems(steps),
        [
            "dialogues/start.toml:11:15: error: a rule of step \"hello\" tests an unknown concern \"anger\"\n    help: use \"self-harm\", \"violence\" or \"abuse\"",
            "dialogues/start.toml:12:3: error: a rule of step \"hello\" must test exactly one of an `answer`, a `role` or a `concern`"
        ]
    );
}

#[test]
fn an_faq_question_offering_an_unknown_flow_lists_the_flows() {
    let faq = r#"takeaways = "Go gently."

[[questions]]
id = "how-long"
button = "How long it takes"
question = "How long does it take?"
answer = "A while."
flows = ["strat"]
"#;
    assert_eq!(
        problems(&[
            source(BOT_PATH, &bot_toml("start")),
            source("dialogues/faq.toml", faq),
            source(FLOW_PATH, &flow("start", GOODBYE)),
        ]),
        [
            "dialogues/faq.toml:8:10: error: question 1 offers unknown flow \"strat\"\n    help: did you mean \"start\"? flows: start"
        ]
    );
}
