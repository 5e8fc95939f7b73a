//! Storage benchmarks: one state round trip (load, then compare-and-set save) on each backend,
//! beside a baseline in the same run: a bare PING for Redis, a bare JSON encode/decode of the
//! state for the embedded store. Redis runs on a real `redis-server` started on loopback by the
//! testkit. Run with `cargo bench --bench storage`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kintsugi::dialogue::{Input, PersonState, advance};
use kintsugi::dialogue_dir::compile_dir;
use kintsugi::storage::{EmbeddedStore, PersonId, RedisStore, Retention, Saved, Storage};

fn sample_state() -> PersonState {
    let library = compile_dir(std::path::Path::new("dialogues")).expect("valid dialogues");
    let start = Input::from_text("/start forgiveness");
    advance(&library, &PersonState::default(), &start, 0).state
}

async fn round_trip(storage: &Storage, person: PersonId, state: &PersonState) {
    let stored = storage.read(person, 0).await.expect("load");
    let saved = storage
        .write_handled(person, state, &stored, 0, None)
        .await
        .expect("save");
    assert!(matches!(saved, Saved::Written { .. }));
}

fn storage(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    // The Redis client attaches to the runtime it is created in.
    let _runtime_context = runtime.enter();
    let state = sample_state();
    let server = kintsugi::testkit::RedisServer::start();
    let retention = Retention(Some(std::time::Duration::from_secs(3600)));
    let redis_store = RedisStore::connect(&server.url(), "bench", retention).expect("redis");
    let redis = Storage::new(redis_store.clone());
    let key = kintsugi::vault::MasterKey::parse(&kintsugi::vault::MasterKey::generate("bench"))
        .expect("a key");
    let sealed = Storage::new(redis_store.clone())
        .with_vault(kintsugi::vault::Vault::new(key, Vec::new()).expect("a vault"));
    let directory = tempfile::tempdir().expect("a temporary directory");
    let embedded = Storage::new(EmbeddedStore::open(directory.path(), retention).expect("redb"));

    let mut group = c.benchmark_group("state round trip");
    group.bench_function("baseline: redis PING", |b| {
        b.to_async(&runtime)
            .iter(|| async { redis_store.ping().await.expect("ping") })
    });
    group.bench_function("redis: load + compare-and-set", |b| {
        b.to_async(&runtime)
            .iter(|| round_trip(&redis, PersonId(7), black_box(&state)))
    });
    group.bench_function("redis, encrypted: load + compare-and-set", |b| {
        b.to_async(&runtime)
            .iter(|| round_trip(&sealed, PersonId(8), black_box(&state)))
    });
    group.bench_function("baseline: JSON encode + decode", |b| {
        b.iter(|| {
            let json = serde_json::to_string(black_box(&state)).expect("encode");
            black_box(serde_json::from_str::<PersonState>(&json).expect("decode"))
        })
    });
    group.bench_function("embedded: load + compare-and-set", |b| {
        b.to_async(&runtime)
            .iter(|| round_trip(&embedded, PersonId(7), black_box(&state)))
    });
    group.finish();
}

criterion_group!(benches, storage);
criterion_main!(benches);
