//! One input for one person against a real (embedded) store: the engine's decision written
//! with compare-and-set, and Telegram's redeliveries applied once.

use std::path::Path;

use kintsugi::conversation::{REDELIVERY_WINDOW_SECONDS, handle_update};
use kintsugi::dialogue::{Input, Library};
use kintsugi::dialogue_dir::load_dir;
use kintsugi::storage::{EmbeddedStore, PersonId, Retention, Storage};

const NOW: i64 = 1_800_000_000;
const PERSON: PersonId = PersonId(7);

fn setup() -> (Library, Storage, tempfile::TempDir) {
    let library = load_dir(Path::new("tests/fixtures/engine")).expect("the fixtures load");
    let directory = tempfile::tempdir().expect("a temporary folder");
    let storage = Storage::Embedded(
        EmbeddedStore::open(directory.path(), Retention(None)).expect("an embedded store"),
    );
    (library, storage, directory)
}

#[tokio::test]
async fn an_update_seen_before_gets_no_reply_and_changes_nothing() {
    let (library, storage, _directory) = setup();
    let start = Input::from_text("/start practice");
    let first = handle_update(&storage, &library, PERSON, &start, NOW, Some(10))
        .await
        .expect("handled");
    assert!(!first.is_empty());
    let before = storage.load(PERSON, NOW).await.expect("load");
    let again = handle_update(&storage, &library, PERSON, &start, NOW + 5, Some(10))
        .await
        .expect("handled");
    assert!(again.is_empty());
    assert_eq!(storage.load(PERSON, NOW).await.expect("load"), before);
    let older = handle_update(&storage, &library, PERSON, &start, NOW + 5, Some(9))
        .await
        .expect("handled");
    assert!(older.is_empty(), "an older id is a redelivery too");
}

#[tokio::test]
async fn a_lower_id_long_after_is_a_new_update_since_telegram_restarts_its_numbering() {
    let (library, storage, _directory) = setup();
    let help = Input::from_text("/help");
    handle_update(&storage, &library, PERSON, &help, NOW, Some(5000))
        .await
        .expect("handled");
    let later = NOW + REDELIVERY_WINDOW_SECONDS;
    let replies = handle_update(&storage, &library, PERSON, &help, later, Some(3))
        .await
        .expect("handled");
    assert!(!replies.is_empty());
    let stored = storage.load(PERSON, later).await.expect("load");
    assert_eq!(stored.last_update.map(|update| update.id), Some(3));
}

#[tokio::test]
async fn setting_up_check_ins_schedules_the_reminder_and_turning_them_off_removes_it() {
    let (library, storage, _directory) = setup();
    let mut state_buttons = Vec::new();
    for text in ["/checkin", "press:Daily", "18:30", "press:Berlin"] {
        let input = match text.strip_prefix("press:") {
            Some(label) => {
                let data = state_buttons
                    .iter()
                    .find(|(shown, _): &&(String, String)| shown == label)
                    .map(|(_, data)| data.clone())
                    .expect("the button was shown");
                Input::Press(data)
            }
            None => Input::from_text(text),
        };
        let replies = kintsugi::conversation::handle(&storage, &library, PERSON, &input, NOW)
            .await
            .expect("handled");
        state_buttons = replies
            .iter()
            .flat_map(|reply| reply.buttons.iter())
            .map(|button| (button.label.clone(), button.data.clone()))
            .collect();
    }
    // 18:30 in Berlin on 15 January 2027 is 17:30 UTC, later the same day as NOW.
    let due = storage.reminder_due(PERSON).await.expect("read");
    assert_eq!(due, Some(NOW + 9 * 3600 + 1800));
    kintsugi::conversation::handle(
        &storage,
        &library,
        PERSON,
        &Input::from_text("/checkin off"),
        NOW,
    )
    .await
    .expect("handled");
    assert_eq!(storage.reminder_due(PERSON).await.expect("read"), None);
}
