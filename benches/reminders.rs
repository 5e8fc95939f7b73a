//! Reminder benchmarks on a real `redis-server`, beside a baseline in the same run:
//! - 100,000 reminders due at once, claimed in batches of 500 with a lease (Kintsugi's Lua
//!   claim), beside the cheapest possible claim (`ZPOPMIN`, no lease, no occurrence);
//! - the worker sending with the default limit of 25 a second: the rate it holds, and how many
//!   reminders arrived twice.
//!
//! Run with `cargo bench --bench reminders`. One-shot figures, so no criterion.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveTime, Utc};
use kintsugi::calendar::{Frequency, Schedule};
use kintsugi::dialogue::PersonState;
use kintsugi::reminders::{Deliver, DeliverError, Delivered, WorkerSettings, run_pass};
use kintsugi::storage::{PersonId, RedisStore, Retention, Storage};
use kintsugi::testkit::RedisServer;

const DUE: usize = 100_000;
const BATCH: usize = 500;
const PREFIX: &str = "bench";

/// Writes `count` reminders due at `due` straight into the index, in a few pipelines.
fn seed(server: &RedisServer, key: &str, count: usize, due: i64) {
    let mut connection = server.connection();
    for chunk in (1..=count as i64).collect::<Vec<_>>().chunks(10_000) {
        let mut pipe = redis::pipe();
        let members: Vec<(i64, i64)> = chunk.iter().map(|&person| (due, person)).collect();
        pipe.zadd_multiple(format!("{PREFIX}:{{reminders}}:{key}"), &members)
            .ignore();
        let fields: Vec<(i64, i64)> = chunk.iter().map(|&person| (person, due)).collect();
        pipe.hset_multiple(format!("{PREFIX}:{{reminders}}:occurrence"), &fields)
            .ignore();
        let _: () = pipe.query(&mut connection).expect("seeding");
    }
}

/// People `ids`, each with a daily check-in and a reminder due at `now`.
async fn people_due(storage: &Storage, ids: std::ops::RangeInclusive<i64>, now: i64) {
    let schedule = Schedule {
        frequency: Frequency::Daily,
        time: NaiveTime::from_hms_opt(9, 0, 0).expect("a time"),
        zone: chrono_tz::UTC,
        start: NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date"),
    };
    for id in ids {
        let state = PersonState {
            checkin: Some(schedule.clone()),
            ..PersonState::default()
        };
        storage
            .write(PersonId(id), &state, 0, now)
            .await
            .expect("save");
        storage
            .reminders()
            .schedule(PersonId(id), now)
            .await
            .expect("schedule");
    }
}

#[derive(Default)]
struct Count {
    sent: Mutex<HashMap<i64, usize>>,
}

impl Deliver for Count {
    async fn deliver(&self, person: PersonId, _: i64) -> Result<Delivered, DeliverError> {
        *self
            .sent
            .lock()
            .expect("the counter")
            .entry(person.0)
            .or_default() += 1;
        Ok(Delivered::Yes)
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let server = RedisServer::start();
    let _runtime_context = runtime.enter();
    let storage = Storage::new(
        RedisStore::connect(&server.url(), PREFIX, Retention(None)).expect("a redis client"),
    );
    let now = Utc::now().timestamp();

    // Baseline: ZPOPMIN, the least a claim can do.
    seed(&server, "baseline", DUE, now);
    let started = Instant::now();
    let mut popped = 0;
    let mut connection = server.connection();
    while popped < DUE {
        let batch: Vec<(i64, i64)> = redis::cmd("ZPOPMIN")
            .arg(format!("{PREFIX}:{{reminders}}:baseline"))
            .arg(BATCH)
            .query(&mut connection)
            .expect("zpopmin");
        if batch.is_empty() {
            break;
        }
        popped += batch.len();
    }
    let baseline = popped as f64 / started.elapsed().as_secs_f64();

    seed(&server, "due", DUE, now);
    let started = Instant::now();
    let mut claimed = 0;
    runtime.block_on(async {
        loop {
            let batch = storage
                .reminders()
                .claim_due(now, BATCH, 300)
                .await
                .expect("claim");
            if batch.is_empty() {
                break;
            }
            claimed += batch.len();
        }
    });
    let claim_rate = claimed as f64 / started.elapsed().as_secs_f64();
    println!("claiming {DUE} reminders due at once, {BATCH} a batch:");
    println!("  baseline (ZPOPMIN): {baseline:>9.0} a second");
    println!(
        "  kintsugi (Lua claim with lease): {claim_rate:>9.0} a second ({:.0} % of the baseline)",
        100.0 * claim_rate / baseline
    );
    assert_eq!(claimed, DUE, "every due reminder was claimed once");

    // The whole worker without a send limit: claim, read the schedule, mark, send (to
    // nobody), schedule the next, for 10,000 people due at once.
    let everyone = 10_000;
    let unlimited = Count::default();
    let worker_rate = runtime.block_on(async {
        people_due(&storage, 2_000_001..=2_000_000 + everyone, now).await;
        let at = chrono::DateTime::from_timestamp(now, 0).expect("now");
        let started = Instant::now();
        loop {
            let pass = run_pass(&storage, &unlimited, WorkerSettings::default(), at)
                .await
                .expect("a pass");
            if pass.claimed == 0 {
                break;
            }
        }
        everyone as f64 / started.elapsed().as_secs_f64()
    });
    println!(
        "the whole worker, no send limit, {everyone} due at once: {worker_rate:.0} reminders a second"
    );

    // The send limit: 100 people due at once, 25 a second.
    let people = 100;
    let count = Count::default();
    let settings = WorkerSettings {
        min_interval: Some(Duration::from_secs(1) / 25),
        ..WorkerSettings::default()
    };
    let elapsed = runtime.block_on(async {
        people_due(&storage, 1_000_001..=1_000_000 + people, now).await;
        let started = Instant::now();
        let at = chrono::DateTime::from_timestamp(now, 0).expect("now");
        run_pass(&storage, &count, settings, at)
            .await
            .expect("a pass");
        // A second pass at once finds nothing left to send.
        run_pass(&storage, &count, settings, at)
            .await
            .expect("a pass");
        started.elapsed()
    });
    let sent = count.sent.lock().expect("the counter");
    let total: usize = sent.values().sum();
    let twice = sent.values().filter(|&&times| times > 1).count();
    println!("sending {people} due reminders with the limit of 25 a second:");
    println!(
        "  {total} sent in {:.2} s: {:.1} a second; sent twice: {twice}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
}
