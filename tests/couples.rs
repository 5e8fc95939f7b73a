//! Couples mode through the conversation, two people at a time, on the shipped flows:
//!
//! Ana:   /invite
//! Bot:   what linking means; a few private questions first ... [Yes, I'm on my own] ...
//! Ana:   (answers the private check)
//! Bot:   Here's your invitation ... / "I'd like us to use Kintsugi together ... /start <token>"
//! Ben:   /start <token>
//! Bot:   what is shared, what never is, how to unlink     [Yes, link us] [Not now]
//! Ben:   [Yes, link us], then the private check
//! Bot:   You're linked.                 (Ana gets: "Your invitation in Kintsugi was accepted")
//!
//! Each test checks what each person is told, what the other is told (never why), and what
//! storage keeps.

use std::path::Path;

use kintsugi::conversation::{Notice, respond};
use kintsugi::dialogue::state::Couple;
use kintsugi::dialogue::{Input, Library};
use kintsugi::dialogue_dir::compile_dir;
use kintsugi::storage::{MemoryStore, PairId, PersonId, Retention, Storage};

const NOW: i64 = 1_800_000_000;
const ANA: PersonId = PersonId(4242);
const BEN: PersonId = PersonId(5151);
const CAL: PersonId = PersonId(6363);

/// Words that must never reach the other partner when linking stops for someone's safety.
const REVEALING: &[&str] = &[
    "safe", "safety", "afraid", "concern", "abuse", "hurt", "danger", "worr",
];

fn library() -> Library {
    compile_dir(Path::new("dialogues")).expect("the shipped flows load")
}

/// One person talking to the bot: presses buttons by label, and keeps what they were told and
/// the notices they sent.
struct Person {
    id: PersonId,
    buttons: Vec<(String, String)>,
    said: Vec<String>,
}

impl Person {
    fn new(id: PersonId) -> Person {
        Person {
            id,
            buttons: Vec::new(),
            said: Vec::new(),
        }
    }

    /// Sends `text` (`press:<label>` presses a button) at `now`; returns the notices it sent.
    async fn send(
        &mut self,
        library: &Library,
        storage: &Storage,
        text: &str,
        now: i64,
    ) -> Vec<Notice> {
        let input = match text.strip_prefix("press:") {
            Some(label) => Input::Press(
                self.buttons
                    .iter()
                    .find(|(shown, _)| shown == label)
                    .map(|(_, data)| data.clone())
                    .unwrap_or_else(|| panic!("no button {label:?} in {:?}", self.buttons)),
            ),
            None => Input::from_text(text),
        };
        let response = respond(storage, library, self.id, &input, now, None)
            .await
            .expect("handled");
        self.buttons = response
            .replies
            .iter()
            .flat_map(|ready| ready.reply.buttons.iter())
            .map(|button| (button.label.clone(), button.data.clone()))
            .collect();
        self.said = response
            .replies
            .iter()
            .map(|ready| ready.reply.text.clone())
            .collect();
        response.notices
    }

    fn heard(&self, words: &str) -> bool {
        self.said.iter().any(|text| text.contains(words))
    }

    /// Whether the latest reply shows a button labelled `label`.
    fn shows(&self, label: &str) -> bool {
        self.buttons.iter().any(|(shown, _)| shown == label)
    }

    /// Walks the private check with the answers that let linking go ahead, each question
    /// asked again (the welcome's screen, answered minutes before, would allow one).
    async fn pass_check(&mut self, library: &Library, storage: &Storage, now: i64) -> Vec<Notice> {
        self.send(library, storage, "press:Yes, I'm on my own", now)
            .await;
        assert!(self.heard("still true today"), "{:?}", self.said);
        self.send(library, storage, "press:Ask me each one", now)
            .await;
        self.send(library, storage, "press:Yes", now).await;
        self.send(library, storage, "press:No", now).await;
        self.send(library, storage, "press:No", now).await;
        self.send(library, storage, "press:No", now).await
    }

    /// The invitation token in what the bot said last (`/start <token>` in the shell form).
    fn token(&self) -> String {
        let card = self
            .said
            .iter()
            .find(|text| text.contains("/start "))
            .unwrap_or_else(|| panic!("no invitation in {:?}", self.said));
        let token = card
            .split("/start ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("a token");
        token.trim_end_matches(['.', ',']).to_owned()
    }
}

/// A fresh store with Ana and Ben through the welcome as a couple working on it together.
async fn two_people() -> (Library, Storage, Person, Person) {
    let library = library();
    let storage = Storage::new(MemoryStore::new(Retention(None)));
    let mut ana = Person::new(ANA);
    let mut ben = Person::new(BEN);
    for person in [&mut ana, &mut ben] {
        person.send(&library, &storage, "/start", NOW).await;
        person
            .send(&library, &storage, "press:I was the one hurt", NOW)
            .await;
        person.send(&library, &storage, "press:Yes", NOW).await;
        for _ in 0..3 {
            person.send(&library, &storage, "press:No", NOW).await;
        }
    }
    (library, storage, ana, ben)
}

/// Ana invites; returns the token.
async fn invite(library: &Library, storage: &Storage, ana: &mut Person, now: i64) -> String {
    ana.send(library, storage, "/invite", now).await;
    assert!(ana.heard("private"), "{:?}", ana.said);
    let notices = ana.pass_check(library, storage, now).await;
    assert!(notices.is_empty());
    ana.token()
}

/// Ana invites and Ben accepts; returns the pair's id.
async fn link(library: &Library, storage: &Storage, ana: &mut Person, ben: &mut Person) -> i64 {
    let token = invite(library, storage, ana, NOW).await;
    ben.send(library, storage, &format!("/start {token}"), NOW + 60)
        .await;
    assert!(ben.heard("Never shared"), "{:?}", ben.said);
    ben.send(library, storage, "press:Yes, link us", NOW + 60)
        .await;
    let notices = ben.pass_check(library, storage, NOW + 60).await;
    assert!(ben.heard("You're linked"), "{:?}", ben.said);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].to, ANA);
    assert!(notices[0].replies[0].text.contains("accepted"));
    let state = storage.read(BEN, NOW + 60).await.expect("read").state;
    match state.couple {
        Some(Couple::Linked { pair, .. }) => pair,
        other => panic!("Ben is not linked: {other:?}"),
    }
}

#[tokio::test]
async fn an_invitation_accepted_after_both_private_checks_links_the_two() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    let record = storage
        .read_pair(PairId(pair), NOW + 60)
        .await
        .expect("read")
        .expect("the pair's record");
    assert_eq!(record.state.partners, [ANA.0, BEN.0]);
    // Ana's state learns of the link at her next message.
    ana.send(&library, &storage, "/together", NOW + 120).await;
    assert!(
        ana.heard("What you and your partner share"),
        "{:?}",
        ana.said
    );
    let state = storage.read(ANA, NOW + 120).await.expect("read").state;
    assert!(
        matches!(state.couple, Some(Couple::Linked { .. })),
        "{state:?}"
    );
    // A link is with one partner at a time.
    ana.send(&library, &storage, "/invite", NOW + 130).await;
    assert!(ana.heard("already linked"), "{:?}", ana.said);
}

#[tokio::test]
async fn a_forged_an_expired_a_used_and_ones_own_invitation_get_a_kind_clear_reply() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let mut cal = Person::new(CAL);
    let forged = "A".repeat(32);
    ben.send(&library, &storage, &format!("/start {forged}"), NOW)
        .await;
    assert!(ben.heard("can't be used"), "{:?}", ben.said);

    let token = invite(&library, &storage, &mut ana, NOW).await;
    ana.send(&library, &storage, &format!("/start {token}"), NOW)
        .await;
    assert!(ana.heard("your own invitation"), "{:?}", ana.said);
    let a_day_later = NOW + 24 * 60 * 60 + 1;
    ben.send(&library, &storage, &format!("/start {token}"), a_day_later)
        .await;
    assert!(ben.heard("can't be used"), "expired: {:?}", ben.said);

    let token = invite(&library, &storage, &mut ana, NOW).await;
    ben.send(&library, &storage, &format!("/start {token}"), NOW)
        .await;
    ben.send(&library, &storage, "press:Yes, link us", NOW)
        .await;
    ben.pass_check(&library, &storage, NOW).await;
    assert!(ben.heard("You're linked"));
    // Cal is new: the reply is kind, and the welcome follows.
    cal.send(&library, &storage, &format!("/start {token}"), NOW)
        .await;
    assert!(cal.heard("can't be used"), "used: {:?}", cal.said);
    assert!(cal.heard("I'm Kintsugi"), "{:?}", cal.said);
}

#[tokio::test]
async fn a_worrying_answer_in_the_private_check_stops_linking_and_the_inviter_learns_nothing_of_why()
 {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let token = invite(&library, &storage, &mut ana, NOW).await;
    ben.send(&library, &storage, &format!("/start {token}"), NOW)
        .await;
    ben.send(&library, &storage, "press:Yes, link us", NOW)
        .await;
    ben.send(&library, &storage, "press:Yes, I'm on my own", NOW)
        .await;
    ben.send(&library, &storage, "press:Something's changed", NOW)
        .await;
    ben.send(&library, &storage, "press:Yes", NOW).await;
    let notices = ben.send(&library, &storage, "press:Sometimes", NOW).await;
    assert!(ben.heard("leave linking aside"), "{:?}", ben.said);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].to, ANA);
    let told = &notices[0].replies[0].text;
    assert!(told.contains("be completed"), "{told}");
    for word in REVEALING {
        assert!(!told.to_lowercase().contains(word), "{word:?} in {told:?}");
    }
    let state = storage.read(BEN, NOW).await.expect("read").state;
    assert_eq!(state.couple, None);
    // The invitation is gone: no one else can use it.
    let mut cal = Person::new(CAL);
    cal.send(&library, &storage, &format!("/start {token}"), NOW)
        .await;
    assert!(cal.heard("can't be used"), "{:?}", cal.said);
}

/// The welcome's screen, answered with nothing worrying within a day, is confirmed in one
/// question; after a day, or once a concern was raised, each question is asked again.
#[tokio::test]
async fn a_screen_answered_within_a_day_is_confirmed_in_one_question_and_not_after() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    ana.send(&library, &storage, "/invite", NOW + 60).await;
    ana.send(&library, &storage, "press:Yes, I'm on my own", NOW + 60)
        .await;
    assert!(ana.heard("still true today"), "{:?}", ana.said);
    ana.send(&library, &storage, "press:Yes, all still true", NOW + 60)
        .await;
    assert!(ana.heard("/start "), "{:?}", ana.said);

    // A day on, each question again.
    let day = 24 * 60 * 60;
    ben.send(&library, &storage, "/invite", NOW + day).await;
    ben.send(&library, &storage, "press:Yes, I'm on my own", NOW + day)
        .await;
    assert!(!ben.heard("still true today"), "{:?}", ben.said);
    assert!(ben.heard("Do you feel safe"), "{:?}", ben.said);
    // Answered in full, it is trusted for a day again.
    ben.send(&library, &storage, "press:Yes", NOW + day).await;
    for _ in 0..3 {
        ben.send(&library, &storage, "press:No", NOW + day).await;
    }
    let token = ben.token();
    ben.send(&library, &storage, "/invite", NOW + day + 60)
        .await;
    ben.send(
        &library,
        &storage,
        "press:Yes, I'm on my own",
        NOW + day + 60,
    )
    .await;
    assert!(ben.heard("still true today"), "{:?}", ben.said);
    assert!(!token.is_empty());

    // A worrying answer since clears it: a fresh person screened, then a concern at /safety's
    // question, then an invitation asks each question.
    let mut cal = Person::new(CAL);
    cal.send(&library, &storage, "/start", NOW).await;
    cal.send(&library, &storage, "press:I was the one hurt", NOW)
        .await;
    cal.send(&library, &storage, "press:Yes", NOW).await;
    for _ in 0..3 {
        cal.send(&library, &storage, "press:No", NOW).await;
    }
    cal.send(&library, &storage, "/invite", NOW + 60).await;
    cal.send(&library, &storage, "press:Yes, I'm on my own", NOW + 60)
        .await;
    cal.send(&library, &storage, "press:Something's changed", NOW + 60)
        .await;
    cal.send(&library, &storage, "press:Not always", NOW + 60)
        .await;
    let state = storage.read(CAL, NOW + 60).await.expect("read").state;
    assert_eq!(state.screened, None);
    assert!(state.coaching_off);
}

/// The private check's answers typed rather than tapped make the invitation all the same
/// (the last "no" typed once met "I couldn't make an invitation just now").
#[tokio::test]
async fn a_private_check_answered_by_typing_makes_the_invitation() {
    let (library, storage, mut ana, _ben) = two_people().await;
    ana.send(&library, &storage, "/invite", NOW).await;
    for typed in ["yes, i'm on my own", "ask me each one", "yes", "no", "no"] {
        ana.send(&library, &storage, typed, NOW).await;
        assert!(!ana.heard("/start "), "{typed}: {:?}", ana.said);
    }
    ana.send(&library, &storage, "no", NOW).await;
    assert!(!ana.heard("couldn't make"), "{:?}", ana.said);
    assert!(!ana.token().is_empty());
}

#[tokio::test]
async fn an_inviter_whose_own_answers_raise_a_concern_makes_no_invitation() {
    let (library, storage, mut ana, _ben) = two_people().await;
    ana.send(&library, &storage, "/invite", NOW).await;
    ana.send(&library, &storage, "press:Yes, I'm on my own", NOW)
        .await;
    ana.send(&library, &storage, "press:Something's changed", NOW)
        .await;
    ana.send(&library, &storage, "press:No", NOW).await;
    assert!(ana.heard("leave linking aside"), "{:?}", ana.said);
    assert!(!ana.heard("/start "));
    let state = storage.read(ANA, NOW).await.expect("read").state;
    assert_eq!(state.couple, None);
}

#[tokio::test]
async fn a_sign_of_abuse_after_linking_ends_the_link_quietly_as_an_unlink_would() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    let notices = ben
        .send(
            &library,
            &storage,
            "He hits me when he is angry and I am scared to go home",
            NOW + 300,
        )
        .await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].to, ANA);
    let quiet = notices[0].replies[0].text.clone();
    for word in REVEALING {
        assert!(
            !quiet.to_lowercase().contains(word),
            "{word:?} in {quiet:?}"
        );
    }
    assert_eq!(
        storage
            .read_pair(PairId(pair), NOW + 300)
            .await
            .expect("read"),
        None
    );
    assert!(ben.heard("set linking aside"), "{:?}", ben.said);

    // The same notice as an unlink asked for: nothing in it tells the two apart.
    let (library, storage, mut ana, mut ben) = two_people().await;
    link(&library, &storage, &mut ana, &mut ben).await;
    ben.send(&library, &storage, "/unlink", NOW + 300).await;
    let notices = ben
        .send(&library, &storage, "press:Yes, end the link", NOW + 300)
        .await;
    assert_eq!(notices[0].replies[0].text, quiet);
}

#[tokio::test]
async fn unlinking_deletes_the_pair_for_both_and_tells_the_other_neutrally() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    ana.send(&library, &storage, "/unlink", NOW + 100).await;
    assert!(ana.heard("end the link?"), "{:?}", ana.said);
    ana.send(&library, &storage, "press:No, keep it", NOW + 100)
        .await;
    assert!(
        storage
            .read_pair(PairId(pair), NOW + 100)
            .await
            .expect("read")
            .is_some()
    );
    ana.send(&library, &storage, "/unlink", NOW + 100).await;
    let notices = ana
        .send(&library, &storage, "press:Yes, end the link", NOW + 100)
        .await;
    assert!(ana.heard("The link is ended"), "{:?}", ana.said);
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, BEN);
    assert_eq!(
        storage
            .read_pair(PairId(pair), NOW + 100)
            .await
            .expect("read"),
        None
    );
    assert!(
        storage
            .keys_of_pair(PairId(pair), NOW + 100)
            .await
            .expect("keys")
            .is_empty()
    );
    ben.send(&library, &storage, "/together", NOW + 200).await;
    assert!(ben.heard("not linked"), "{:?}", ben.said);
    let state = storage.read(BEN, NOW + 200).await.expect("read").state;
    assert_eq!(state.couple, None);
}

#[tokio::test]
async fn forgetting_everything_while_linked_unlinks_first() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    ben.send(&library, &storage, "/forget", NOW + 100).await;
    let yes = ben
        .buttons
        .iter()
        .find(|(label, _)| label.starts_with("Yes"))
        .map(|(label, _)| label.clone())
        .expect("a yes button");
    let notices = ben
        .send(&library, &storage, &format!("press:{yes}"), NOW + 100)
        .await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].to, ANA);
    assert_eq!(
        storage
            .read_pair(PairId(pair), NOW + 100)
            .await
            .expect("read"),
        None
    );
    assert!(
        storage
            .keys_of(BEN, NOW + 100)
            .await
            .expect("keys")
            .is_empty()
    );
}

/// Opens the shared exercise `safe-this-week` and walks to its question.
async fn to_the_question(library: &Library, storage: &Storage, person: &mut Person, now: i64) {
    person
        .send(library, storage, "/start safe-this-week", now)
        .await;
    person
        .send(library, storage, "press:Let's begin", now)
        .await;
    assert!(
        person.heard("What would help you feel a little safer"),
        "{:?}",
        person.said
    );
}

const ANAS: &str = "A text when plans change, please.";
const BENS: &str = "One evening a week with our phones away.";

#[tokio::test]
async fn a_shared_answer_stays_private_until_both_have_answered_in_either_order() {
    for ana_first in [true, false] {
        let (library, storage, mut ana, mut ben) = two_people().await;
        let pair = link(&library, &storage, &mut ana, &mut ben).await;
        let (first, second, first_words, second_words) = if ana_first {
            (&mut ana, &mut ben, ANAS, BENS)
        } else {
            (&mut ben, &mut ana, BENS, ANAS)
        };
        to_the_question(&library, &storage, first, NOW + 200).await;
        to_the_question(&library, &storage, second, NOW + 200).await;
        let notices = first.send(&library, &storage, first_words, NOW + 210).await;
        assert!(first.heard("Saved, privately"), "{:?}", first.said);
        assert!(!first.heard(second_words));
        assert_eq!(notices.len(), 1, "the partner hears something waits");
        assert_eq!(notices[0].to, second.id);
        let notice = &notices[0].replies[0].text;
        assert!(
            !notice.contains(first_words),
            "a notice never holds the words"
        );

        // The second sees nothing of the first's answer before writing their own.
        second
            .send(&library, &storage, "/together", NOW + 215)
            .await;
        assert!(
            second.heard("your partner has answered"),
            "{:?}",
            second.said
        );
        assert!(!second.heard(first_words));

        to_the_question(&library, &storage, second, NOW + 220).await;
        let notices = second
            .send(&library, &storage, second_words, NOW + 230)
            .await;
        let reveal = second
            .said
            .iter()
            .find(|text| text.contains("You've both answered"))
            .unwrap_or_else(|| panic!("no reveal in {:?}", second.said));
        assert!(
            reveal.contains(&format!("You wrote: {second_words}")),
            "{reveal}"
        );
        assert!(
            reveal.contains(&format!("Your partner wrote: {first_words}")),
            "{reveal}"
        );
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].to, first.id);

        // The first sees it when they come back.
        first.send(&library, &storage, "/continue", NOW + 240).await;
        assert!(
            first.heard(&format!("Your partner wrote: {second_words}")),
            "{:?}",
            first.said
        );
        let record = storage
            .read_pair(PairId(pair), NOW + 240)
            .await
            .expect("read")
            .expect("linked");
        assert_eq!(
            record.state.shared["safe-this-week/need"].revealed,
            Some(NOW + 230)
        );
        // Nothing shared is kept in either person's own state.
        for person in [ANA, BEN] {
            let state = storage.read(person, NOW + 240).await.expect("read").state;
            let json = serde_json::to_string(&state).expect("json");
            assert!(!json.contains(ANAS) && !json.contains(BENS), "{json}");
        }
    }
}

/// An answer with a hard word for the partner in it: the shared question's notes meet it.
const HARSH: &str = "You're selfish. A text when plans change, please.";

/// Whether the pair's record holds any answer from anyone to the shared question.
async fn answered_in_record(storage: &Storage, pair: i64, now: i64) -> bool {
    let record = storage
        .read_pair(PairId(pair), now)
        .await
        .expect("read")
        .expect("linked");
    record
        .state
        .shared
        .get("safe-this-week/need")
        .is_some_and(|item| item.answers.iter().any(Option::is_some))
}

#[tokio::test]
async fn notes_on_a_shared_answer_come_before_the_partner_can_read_it_and_new_words_are_read_afresh()
 {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    to_the_question(&library, &storage, &mut ana, NOW + 200).await;
    let notices = ana.send(&library, &storage, HARSH, NOW + 210).await;
    assert!(
        ana.heard("Before your partner reads this"),
        "{:?}",
        ana.said
    );
    assert!(ana.heard("hard word"), "{:?}", ana.said);
    assert!(!ana.heard("Saved, privately"), "{:?}", ana.said);
    assert!(ana.shows("Share it as it is"), "{:?}", ana.buttons);
    assert!(
        notices.is_empty(),
        "nothing shared, nothing to tell: {notices:?}"
    );
    assert!(!answered_in_record(&storage, pair, NOW + 210).await);

    // Other words a walk met that were shared unchecked: each, written instead, is read
    // afresh and held back too.
    for words in [
        "You're acting crazy, checking my phone at 3am like a psycho",
        "Maybe be less of a liar this week",
        "You never give me credit for anything",
        // A later walk: a ban on raising the affair was praised after the reveal.
        "if u could stop bringing it up every single night. i said sorry like 100 times",
    ] {
        ana.send(&library, &storage, words, NOW + 212).await;
        assert!(
            ana.heard("Before your partner reads this"),
            "{words}: {:?}",
            ana.said
        );
        assert!(!answered_in_record(&storage, pair, NOW + 212).await);
    }

    // Ben answers and is told he waits: Ana's words are not in.
    to_the_question(&library, &storage, &mut ben, NOW + 220).await;
    ben.send(&library, &storage, BENS, NOW + 230).await;
    assert!(ben.heard("Saved, privately"), "{:?}", ben.said);

    // Ana writes it again without the word: read afresh, clear, shared and revealed.
    let notices = ana.send(&library, &storage, ANAS, NOW + 240).await;
    assert!(ana.heard(&format!("You wrote: {ANAS}")), "{:?}", ana.said);
    assert_eq!(notices.len(), 1);
    ben.send(&library, &storage, "/continue", NOW + 250).await;
    assert!(
        ben.heard(&format!("Your partner wrote: {ANAS}")),
        "{:?}",
        ben.said
    );
    assert!(!ben.heard("selfish"));
    // The held words are gone from Ana's own state once she answered.
    let state = storage.read(ANA, NOW + 250).await.expect("read").state;
    assert_eq!(state.unshared, None);
}

#[tokio::test]
async fn an_answer_held_by_its_notes_goes_as_it_is_by_the_button_or_by_writing_it_again() {
    for how in ["press", "label", "again"] {
        let (library, storage, mut ana, mut ben) = two_people().await;
        let pair = link(&library, &storage, &mut ana, &mut ben).await;
        to_the_question(&library, &storage, &mut ana, NOW + 200).await;
        ana.send(&library, &storage, HARSH, NOW + 210).await;
        assert!(!answered_in_record(&storage, pair, NOW + 210).await);
        // Still there after a detour: the question comes back with the same button.
        ana.send(&library, &storage, "/continue", NOW + 215).await;
        assert!(ana.shows("Share it as it is"), "{:?}", ana.buttons);
        // Pressed, its label typed (never saved as the answer), or the words written again.
        let sent = match how {
            "press" => "press:Share it as it is",
            "label" => "share it as it is",
            _ => HARSH,
        };
        let notices = ana.send(&library, &storage, sent, NOW + 220).await;
        assert!(ana.heard("Saved, privately"), "{:?}", ana.said);
        assert!(!ana.heard("Before your partner reads this"));
        assert_eq!(notices.len(), 1, "the partner hears something waits");
        assert!(answered_in_record(&storage, pair, NOW + 220).await);
        to_the_question(&library, &storage, &mut ben, NOW + 230).await;
        ben.send(&library, &storage, BENS, NOW + 240).await;
        assert!(
            ben.heard(&format!("Your partner wrote: {HARSH}")),
            "{:?}",
            ben.said
        );
    }
}

#[tokio::test]
async fn not_yet_holds_both_answers_back_until_the_one_who_said_it_is_ready() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    link(&library, &storage, &mut ana, &mut ben).await;
    to_the_question(&library, &storage, &mut ana, NOW + 200).await;
    ana.send(&library, &storage, ANAS, NOW + 210).await;
    ana.send(&library, &storage, "press:Not yet", NOW + 211)
        .await;
    assert!(ana.heard("held back"), "{:?}", ana.said);

    to_the_question(&library, &storage, &mut ben, NOW + 220).await;
    ben.send(&library, &storage, BENS, NOW + 230).await;
    assert!(ben.heard("isn't ready"), "{:?}", ben.said);
    assert!(!ben.heard(ANAS));
    ben.send(&library, &storage, "/continue", NOW + 231).await;
    assert!(!ben.heard(ANAS));

    ana.send(&library, &storage, "/continue", NOW + 240).await;
    let notices = ana
        .send(&library, &storage, "press:I'm ready to see them", NOW + 241)
        .await;
    assert!(
        ana.heard(&format!("Your partner wrote: {BENS}")),
        "{:?}",
        ana.said
    );
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, BEN);
    ben.send(&library, &storage, "/continue", NOW + 250).await;
    assert!(
        ben.heard(&format!("Your partner wrote: {ANAS}")),
        "{:?}",
        ben.said
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_answering_at_the_same_moment_reveal_once_to_both() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    to_the_question(&library, &storage, &mut ana, NOW + 200).await;
    to_the_question(&library, &storage, &mut ben, NOW + 200).await;
    let (ana_notices, ben_notices) = tokio::join!(
        ana.send(&library, &storage, ANAS, NOW + 300),
        ben.send(&library, &storage, BENS, NOW + 300),
    );
    assert_eq!(ana_notices.len() + ben_notices.len(), 2);
    let record = storage
        .read_pair(PairId(pair), NOW + 300)
        .await
        .expect("read")
        .expect("linked");
    assert_eq!(
        record.state.shared["safe-this-week/need"].revealed,
        Some(NOW + 300)
    );
    for (person, partner_words) in [(&mut ana, BENS), (&mut ben, ANAS)] {
        person
            .send(&library, &storage, "/continue", NOW + 310)
            .await;
        let all = person.said.join("\n");
        assert!(
            all.contains(&format!("Your partner wrote: {partner_words}"))
                || all.contains("Now your partner's answer"),
            "{all}"
        );
    }
}

#[tokio::test]
async fn unlinking_after_a_reveal_leaves_nothing_shared_in_the_store() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    to_the_question(&library, &storage, &mut ana, NOW + 200).await;
    ana.send(&library, &storage, ANAS, NOW + 210).await;
    to_the_question(&library, &storage, &mut ben, NOW + 220).await;
    ben.send(&library, &storage, BENS, NOW + 230).await;
    ben.send(&library, &storage, "/unlink", NOW + 240).await;
    ben.send(&library, &storage, "press:Yes, end the link", NOW + 240)
        .await;
    assert_eq!(
        storage
            .read_pair(PairId(pair), NOW + 240)
            .await
            .expect("read"),
        None
    );
    // A couple flow is for linked partners: Ana is told the link is gone.
    ana.send(&library, &storage, "/start safe-this-week", NOW + 250)
        .await;
    assert!(ana.heard("not linked"), "{:?}", ana.said);
    assert!(!ana.buttons.iter().any(|(label, _)| label == "Let's begin"));
    assert!(!ana.heard(BENS));
}

/// The export a person gets from `/export`, as JSON.
async fn export(library: &Library, storage: &Storage, person: PersonId, now: i64) -> String {
    let response = respond(
        storage,
        library,
        person,
        &Input::from_text("/export"),
        now,
        None,
    )
    .await
    .expect("handled");
    let file = response
        .replies
        .iter()
        .find_map(|ready| ready.file.as_ref())
        .expect("an export file");
    String::from_utf8(file.bytes.clone()).expect("utf-8")
}

#[tokio::test]
async fn an_export_holds_the_shared_items_the_person_can_see_and_no_more() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    link(&library, &storage, &mut ana, &mut ben).await;
    to_the_question(&library, &storage, &mut ana, NOW + 200).await;
    ana.send(&library, &storage, ANAS, NOW + 210).await;
    let anas = export(&library, &storage, ANA, NOW + 220).await;
    assert!(
        anas.contains("with_your_partner") && anas.contains(ANAS),
        "{anas}"
    );
    let bens = export(&library, &storage, BEN, NOW + 220).await;
    assert!(bens.contains("safe-this-week/need"), "{bens}");
    assert!(!bens.contains(ANAS), "not revealed yet: {bens}");
    to_the_question(&library, &storage, &mut ben, NOW + 230).await;
    ben.send(&library, &storage, BENS, NOW + 240).await;
    let bens = export(&library, &storage, BEN, NOW + 250).await;
    assert!(bens.contains(ANAS) && bens.contains(BENS), "{bens}");
}

#[tokio::test]
async fn couples_buttons_typed_instead_of_tapped_are_pressed() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let token = invite(&library, &storage, &mut ana, NOW).await;
    ben.send(&library, &storage, &format!("/start {token}"), NOW + 60)
        .await;
    // A walk typed the consent button's words and met a listening reply and the menu.
    ben.send(&library, &storage, "Yes, link us", NOW + 60).await;
    assert!(ben.heard("a few private questions"), "{:?}", ben.said);
    ben.pass_check(&library, &storage, NOW + 60).await;
    assert!(ben.heard("You're linked"), "{:?}", ben.said);

    to_the_question(&library, &storage, &mut ana, NOW + 200).await;
    ana.send(&library, &storage, ANAS, NOW + 210).await;
    ana.send(&library, &storage, "not yet", NOW + 211).await;
    assert!(ana.heard("held back"), "{:?}", ana.said);
    let notices = ana
        .send(&library, &storage, "I'm ready to see them", NOW + 212)
        .await;
    assert!(!ana.heard("hurting yourself"), "{:?}", ana.said);
    assert!(notices.is_empty() || notices[0].to == BEN, "{notices:?}");
    assert!(ana.shows("Not yet"), "ready again: {:?}", ana.buttons);

    ana.send(&library, &storage, "/rules", NOW + 220).await;
    ana.send(&library, &storage, "propose a rule", NOW + 221)
        .await;
    ana.send(&library, &storage, "No phones at dinner", NOW + 222)
        .await;
    assert!(ana.heard("Sent to your partner"), "{:?}", ana.said);
}

#[tokio::test]
async fn a_rule_is_shared_only_once_the_partner_accepts_it_and_either_can_withdraw_it() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    ana.send(&library, &storage, "/rules", NOW + 100).await;
    assert!(ana.heard("Nothing yet"), "{:?}", ana.said);
    ana.send(&library, &storage, "press:Propose a rule", NOW + 100)
        .await;
    ana.send(&library, &storage, "ok", NOW + 101).await;
    assert!(ana.heard("between 3 and 200"), "{:?}", ana.said);
    let notices = ana
        .send(&library, &storage, "No phones at dinner", NOW + 102)
        .await;
    assert!(ana.heard("Sent to your partner"), "{:?}", ana.said);
    assert!(ana.heard("Proposed by you, waiting for your partner:\n1. No phones at dinner"));
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, BEN);
    assert!(
        !notices[0].replies[0].text.contains("phones"),
        "a notice is discreet"
    );
    // Ana cannot accept her own rule: she has no such button.
    assert!(!ana.buttons.iter().any(|(label, _)| label == "Accept 1"));

    ben.send(&library, &storage, "/rules", NOW + 110).await;
    assert!(
        ben.heard("Proposed by your partner, waiting for you:\n1. No phones at dinner"),
        "{:?}",
        ben.said
    );
    let accept = ben
        .buttons
        .iter()
        .find(|(label, _)| label == "Accept 1")
        .map(|(_, data)| data.clone())
        .expect("an accept button");
    let notices = ben
        .send(&library, &storage, "press:Accept 1", NOW + 111)
        .await;
    assert!(
        ben.heard("Agreed by you both:\n1. No phones at dinner"),
        "{:?}",
        ben.said
    );
    assert_eq!(notices[0].to, ANA);
    let record = storage
        .read_pair(PairId(pair), NOW + 111)
        .await
        .expect("read")
        .expect("linked");
    assert_eq!(record.state.rules[0].agreed_at, Some(NOW + 111));

    ana.send(&library, &storage, "/rules", NOW + 120).await;
    assert!(ana.heard("Agreed by you both:\n1. No phones at dinner"));
    // An agreed rule is both partners': withdrawing it is asked about first, and "Keep it"
    // changes nothing.
    let notices = ana
        .send(&library, &storage, "press:Withdraw 1", NOW + 121)
        .await;
    assert!(notices.is_empty(), "{notices:?}");
    assert!(ana.heard("No phones at dinner"), "{:?}", ana.said);
    assert!(!ana.heard("Withdrawn"), "{:?}", ana.said);
    ana.send(&library, &storage, "press:Keep it", NOW + 121)
        .await;
    assert!(ana.heard("Agreed by you both:\n1. No phones at dinner"));
    ana.send(&library, &storage, "press:Withdraw 1", NOW + 121)
        .await;
    let notices = ana
        .send(&library, &storage, "press:Yes, withdraw it", NOW + 121)
        .await;
    assert!(ana.heard("Withdrawn"), "{:?}", ana.said);
    assert!(!ana.heard("Changed lately"), "{:?}", ana.said);
    assert_eq!(notices[0].to, BEN);
    assert!(!notices[0].replies[0].text.contains("phones"), "discreet");
    // Ben's list names the rule that went, not just a shorter list.
    ben.send(&library, &storage, "/rules", NOW + 122).await;
    assert!(
        ben.heard("Changed lately, by your partner:\n“No phones at dinner”: withdrawn."),
        "{:?}",
        ben.said
    );
    let bens = export(&library, &storage, BEN, NOW + 123).await;
    assert!(bens.contains("rules_gone_lately"), "{bens}");
    assert!(bens.contains("\"how\": \"withdrawn\""), "{bens}");
    let record = storage
        .read_pair(PairId(pair), NOW + 121)
        .await
        .expect("read")
        .expect("linked");
    assert!(record.state.rules.is_empty());
    // The old Accept button does nothing now.
    let stale = respond(
        &storage,
        &library,
        BEN,
        &Input::Press(accept),
        NOW + 130,
        None,
    )
    .await
    .expect("handled");
    assert!(stale.notices.is_empty());
    assert!(
        storage
            .read_pair(PairId(pair), NOW + 130)
            .await
            .expect("read")
            .expect("linked")
            .state
            .rules
            .is_empty()
    );
}

#[tokio::test]
async fn a_proposed_rule_can_be_declined_and_the_proposer_hears_something_changed() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    ana.send(&library, &storage, "/rules", NOW + 100).await;
    ana.send(&library, &storage, "press:Propose a rule", NOW + 100)
        .await;
    ana.send(&library, &storage, "No talk of it after 9pm", NOW + 101)
        .await;
    ben.send(&library, &storage, "/rules", NOW + 110).await;
    let notices = ben
        .send(&library, &storage, "press:Not for me 1", NOW + 111)
        .await;
    assert!(ben.heard("no longer waiting for you"), "{:?}", ben.said);
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, ANA);
    assert!(!notices[0].replies[0].text.contains("9pm"), "discreet");
    ana.send(&library, &storage, "/rules", NOW + 112).await;
    assert!(
        ana.heard("“No talk of it after 9pm”: declined."),
        "{:?}",
        ana.said
    );
    // Two weeks on, it is no longer named.
    ana.send(&library, &storage, "/rules", NOW + 112 + 15 * 24 * 3600)
        .await;
    assert!(!ana.heard("9pm"), "{:?}", ana.said);
    let record = storage
        .read_pair(PairId(pair), NOW + 111)
        .await
        .expect("read")
        .expect("linked");
    assert!(record.state.rules.is_empty());
}

#[tokio::test]
async fn a_proposed_rule_meets_its_notes_before_the_partner_reads_it() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    let rules = |now| {
        let storage = &storage;
        async move {
            storage
                .read_pair(PairId(pair), now)
                .await
                .expect("read")
                .expect("linked")
                .state
                .rules
                .iter()
                .map(|rule| rule.text.clone())
                .collect::<Vec<_>>()
        }
    };
    ana.send(&library, &storage, "/rules", NOW + 100).await;
    ana.send(&library, &storage, "press:Propose a rule", NOW + 100)
        .await;
    let notices = ana
        .send(
            &library,
            &storage,
            "You must share your location with me",
            NOW + 101,
        )
        .await;
    assert!(notices.is_empty(), "the partner hears nothing: {notices:?}");
    assert!(
        ana.heard("Before your partner reads this:"),
        "{:?}",
        ana.said
    );
    assert!(ana.heard("a rule for one of you"), "{:?}", ana.said);
    assert!(ana.heard("Shared access works best"), "{:?}", ana.said);
    assert!(!ana.heard("Sent to your partner"), "{:?}", ana.said);
    assert!(ana.shows("Send it as it is"), "{:?}", ana.buttons);
    assert!(rules(NOW + 101).await.is_empty());
    // Kept in her own state only, and in her export.
    let anas = export(&library, &storage, ANA, NOW + 101).await;
    assert!(
        anas.contains("\"rule_waiting_after_notes\": \"You must share"),
        "{anas}"
    );

    // A walk's rules that went straight through before: checking, and an insult.
    for (rule, note) in [
        (
            "i get to check your phone whenever i want",
            "Shared access works best",
        ),
        (
            "stop being such a lying selfish bitch",
            "a hard word for your partner",
        ),
    ] {
        let notices = ana.send(&library, &storage, rule, NOW + 101).await;
        assert!(notices.is_empty(), "{rule}: {notices:?}");
        assert!(ana.heard(note), "{rule}: {:?}", ana.said);
    }

    // Written again differently, it is read afresh: this one has no notes and goes.
    let notices = ana
        .send(&library, &storage, "We say when plans change", NOW + 102)
        .await;
    assert!(ana.heard("Sent to your partner"), "{:?}", ana.said);
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, BEN);
    assert_eq!(rules(NOW + 102).await, ["We say when plans change"]);

    // Held, then sent as it is by the button.
    ana.send(&library, &storage, "press:Propose a rule", NOW + 103)
        .await;
    ana.send(
        &library,
        &storage,
        "No questions about it after 9pm",
        NOW + 103,
    )
    .await;
    assert!(
        ana.heard("limits when the affair can be raised"),
        "{:?}",
        ana.said
    );
    assert_eq!(rules(NOW + 103).await.len(), 1);
    ana.send(&library, &storage, "press:Send it as it is", NOW + 104)
        .await;
    assert!(ana.heard("Sent to your partner"), "{:?}", ana.said);
    assert_eq!(rules(NOW + 104).await[1], "No questions about it after 9pm");

    // Held, then sent by the button's words typed, or by the same words again.
    ana.send(&library, &storage, "press:Propose a rule", NOW + 105)
        .await;
    ana.send(
        &library,
        &storage,
        "We keep phones away at dinner, forever",
        NOW + 105,
    )
    .await;
    assert!(ana.heard("\"Forever\" is heavy"), "{:?}", ana.said);
    ana.send(&library, &storage, "send it as it is", NOW + 106)
        .await;
    assert!(ana.heard("Sent to your partner"), "{:?}", ana.said);
    ana.send(&library, &storage, "press:Propose a rule", NOW + 107)
        .await;
    ana.send(
        &library,
        &storage,
        "We never go to bed angry, forever",
        NOW + 107,
    )
    .await;
    assert!(!ana.heard("Sent to your partner"), "{:?}", ana.said);
    ana.send(
        &library,
        &storage,
        "We never go to bed angry, forever",
        NOW + 108,
    )
    .await;
    assert!(ana.heard("Sent to your partner"), "{:?}", ana.said);
    assert_eq!(
        rules(NOW + 108).await,
        [
            "We say when plans change",
            "No questions about it after 9pm",
            "We keep phones away at dinner, forever",
            "We never go to bed angry, forever"
        ]
    );
}

#[tokio::test]
async fn a_partner_is_told_once_of_news_in_a_row_not_once_for_each() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    link(&library, &storage, &mut ana, &mut ben).await;
    ana.send(&library, &storage, "/rules", NOW + 100).await;
    let mut told = Vec::new();
    for (at, rule) in [
        (101, "We say when plans change"),
        (102, "No phones at dinner"),
        (103, "We walk on Sundays"),
    ] {
        ana.send(&library, &storage, "press:Propose a rule", NOW + at)
            .await;
        told.push(ana.send(&library, &storage, rule, NOW + at).await.len());
    }
    assert_eq!(told, [1, 0, 0], "one notice for three rules in a row");
    // Ben answers: Ana is told, and Ben's next news is told to him again.
    ben.send(&library, &storage, "/rules", NOW + 200).await;
    let notices = ben
        .send(&library, &storage, "press:Accept 1", NOW + 201)
        .await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, ANA);
    ana.send(&library, &storage, "press:Propose a rule", NOW + 202)
        .await;
    let notices = ana
        .send(&library, &storage, "We keep Fridays for us", NOW + 202)
        .await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, BEN);
    // An hour after the last notice, news is told again even if he did nothing.
    ana.send(&library, &storage, "/rules", NOW + 202 + 3600)
        .await;
    ana.send(&library, &storage, "press:Propose a rule", NOW + 202 + 3600)
        .await;
    let notices = ana
        .send(
            &library,
            &storage,
            "We cook together on Mondays",
            NOW + 202 + 3600,
        )
        .await;
    assert_eq!(notices.len(), 1);
}

#[tokio::test]
async fn continue_shows_the_couples_screen_the_person_was_on_so_their_next_words_still_count() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let token = invite(&library, &storage, &mut ana, NOW).await;
    ben.send(&library, &storage, &format!("/start {token}"), NOW + 60)
        .await;
    // A shell started again sends /continue: the consent question comes back, not the menu.
    ben.send(&library, &storage, "/continue", NOW + 61).await;
    assert!(ben.shows("Yes, link us"), "{:?}", ben.buttons);
    ben.send(&library, &storage, "Yes, link us", NOW + 62).await;
    assert!(ben.heard("a few private questions"), "{:?}", ben.said);
    ben.pass_check(&library, &storage, NOW + 62).await;
    assert!(ben.heard("You're linked"), "{:?}", ben.said);

    ana.send(&library, &storage, "/rules", NOW + 100).await;
    ana.send(&library, &storage, "/continue", NOW + 101).await;
    assert!(ana.shows("Propose a rule"), "{:?}", ana.buttons);
    ana.send(&library, &storage, "Propose a rule", NOW + 102)
        .await;
    ana.send(&library, &storage, "/continue", NOW + 103).await;
    assert!(ana.heard("Write the rule in one line"), "{:?}", ana.said);
    ana.send(&library, &storage, "We say when plans change", NOW + 104)
        .await;
    assert!(ana.heard("Sent to your partner"), "{:?}", ana.said);
}

/// A quick check-in rating trust `rating`.
async fn check_in(
    library: &Library,
    storage: &Storage,
    person: &mut Person,
    rating: &str,
    now: i64,
) -> Vec<Notice> {
    person.send(library, storage, "/checkin now", now).await;
    person
        .send(library, storage, "press:Let's start", now)
        .await;
    person.send(library, storage, rating, now).await;
    person
        .send(library, storage, "A walk after dinner", now)
        .await;
    person.send(library, storage, "Whether it lasts", now).await;
    person.send(library, storage, "press:That's all", now).await
}

#[tokio::test]
async fn couple_check_ins_are_shared_only_when_both_opt_in_and_seen_only_after_giving_ones_own() {
    let (library, storage, mut ana, mut ben) = two_people().await;
    let pair = link(&library, &storage, &mut ana, &mut ben).await;
    // Ana opts in; Ben has not: her check-in shares nothing.
    ana.send(&library, &storage, "/together", NOW + 100).await;
    ana.send(
        &library,
        &storage,
        "press:Share check-in ratings",
        NOW + 100,
    )
    .await;
    assert!(
        ana.heard("Nothing is shared until your partner"),
        "{:?}",
        ana.said
    );
    check_in(&library, &storage, &mut ana, "3", NOW + 200).await;
    assert!(!ana.heard("Your rating is shared"), "{:?}", ana.said);
    let record = storage
        .read_pair(PairId(pair), NOW + 200)
        .await
        .expect("read")
        .expect("linked");
    assert!(record.state.ratings.is_empty());

    ben.send(&library, &storage, "/together", NOW + 300).await;
    assert!(
        ben.heard("Your partner would like to share"),
        "{:?}",
        ben.said
    );
    ben.send(
        &library,
        &storage,
        "press:Share check-in ratings",
        NOW + 300,
    )
    .await;
    assert!(ben.heard("You're both sharing"), "{:?}", ben.said);
    check_in(&library, &storage, &mut ben, "8", NOW + 400).await;
    assert!(ben.heard("Your rating is shared"), "{:?}", ben.said);
    // Ana gives hers; then she sees his, and how far apart they are.
    let notices = check_in(&library, &storage, &mut ana, "3", NOW + 500).await;
    assert!(
        ana.heard("Your rating today: 3. Your partner's latest: 8."),
        "{:?}",
        ana.said
    );
    assert!(ana.heard("quite differently"), "{:?}", ana.said);
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, BEN);
    // Ben's /progress shows her rating only once he has given one after it.
    let progress = respond(
        &storage,
        &library,
        BEN,
        &Input::from_text("/progress"),
        NOW + 600,
        None,
    )
    .await
    .expect("handled");
    assert!(
        !progress
            .replies
            .iter()
            .any(|ready| ready.reply.text.contains("slate line")),
        "Ben has not rated since Ana did"
    );
    check_in(&library, &storage, &mut ben, "7", NOW + 700).await;
    assert!(ben.heard("Your partner's latest: 3."), "{:?}", ben.said);
    let progress = respond(
        &storage,
        &library,
        BEN,
        &Input::from_text("/progress"),
        NOW + 800,
        None,
    )
    .await
    .expect("handled");
    assert!(
        progress
            .replies
            .iter()
            .any(|ready| ready.reply.text.contains("slate line")
                && ready.reply.text.contains("quite differently")
                && ready.file.is_some()),
        "{progress:?}"
    );
    // Either stops: every shared rating is deleted.
    ana.send(&library, &storage, "/together", NOW + 900).await;
    ana.send(&library, &storage, "press:Stop sharing ratings", NOW + 900)
        .await;
    let record = storage
        .read_pair(PairId(pair), NOW + 900)
        .await
        .expect("read")
        .expect("linked");
    assert!(record.state.ratings.is_empty());
    assert!(!record.state.sharing_ratings());
}
