//! Real parts for tests and the load tool: a `redis-server` on a free loopback port, a Redis
//! Cluster of three of them, and a fake Telegram Bot API server. Telegram is the one thing
//! Kintsugi fakes; nothing here is used by the bot itself. Also the reader of the labelled
//! corpus folders that tests, benchmarks and tools share.

pub mod corpus;
pub mod fake_telegram;
pub mod redis_cluster;
pub mod redis_server;

pub use self::fake_telegram::FakeTelegram;
pub use self::redis_cluster::RedisCluster;
pub use self::redis_server::{RedisServer, free_port};
