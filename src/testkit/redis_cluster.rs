//! [`RedisCluster`]: a real Redis Cluster of three masters, each a `redis-server` with
//! `--cluster-enabled yes` on free loopback ports in its own temporary directory, the 16,384
//! slots split between them and the nodes introduced to each other (what `redis-cli --cluster
//! create` does, without its prompt). Killed when dropped.

use std::time::{Duration, Instant};

use super::redis_server::RedisServer;

/// How many slots a Redis Cluster has.
const SLOTS: u16 = 16_384;
/// How long the nodes may take to agree that the cluster is up.
const FORMING_TIMEOUT: Duration = Duration::from_secs(20);

/// Three master nodes forming one cluster.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three nodes, gives each a third of the slots, and waits until every node reports
    /// the cluster healthy.
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::start_with(
                    false,
                    [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "2000",
                        // The bus port is picked free, not the default port + 10000 (which
                        // may be taken, or past 65535).
                        "--cluster-port",
                        "{free_port}",
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                )
            })
            .collect();
        let share = SLOTS / 3;
        for (index, node) in nodes.iter().enumerate() {
            let first = share * index as u16;
            let last = if index == 2 {
                SLOTS - 1
            } else {
                first + share - 1
            };
            node.command(&[
                "CLUSTER",
                "ADDSLOTSRANGE",
                &first.to_string(),
                &last.to_string(),
            ]);
        }
        let first = &nodes[0];
        for other in &nodes[1..] {
            let bus: Vec<String> = other.query(&["CONFIG", "GET", "cluster-port"]);
            first.command(&[
                "CLUSTER",
                "MEET",
                "127.0.0.1",
                &other.port().to_string(),
                &bus[1],
            ]);
        }
        let cluster = RedisCluster { nodes };
        cluster.wait_until_formed();
        cluster
    }

    /// `redis+cluster://127.0.0.1:<port>,…`: every node, as the bot's `REDIS_URL`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The nodes, to inspect each one's keys directly.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Every key on every node (matching `pattern`), sorted.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .nodes
            .iter()
            .flat_map(|node| node.query::<Vec<String>>(&["KEYS", pattern]))
            .collect();
        keys.sort();
        keys
    }

    /// The node that holds `key`.
    pub fn node_of(&self, key: &str) -> &RedisServer {
        let slot: i64 = self.nodes[0].query(&["CLUSTER", "KEYSLOT", key]);
        let port = owner_port(&self.nodes[0], slot);
        self.nodes
            .iter()
            .find(|node| i64::from(node.port()) == port)
            .unwrap_or_else(|| panic!("no node owns slot {slot}"))
    }

    fn wait_until_formed(&self) {
        let deadline = Instant::now() + FORMING_TIMEOUT;
        loop {
            let formed = self.nodes.iter().all(|node| {
                let info: String = node.query(&["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3")
            });
            if formed {
                return;
            }
            if Instant::now() >= deadline {
                let logs: Vec<String> = self.nodes.iter().map(RedisServer::log).collect();
                panic!(
                    "the cluster did not form within {FORMING_TIMEOUT:?}; the nodes' logs:\n{}",
                    logs.join("\n---\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The port of the master that serves `slot`, as `node` sees the cluster (`CLUSTER SLOTS`:
/// one `[first, last, [ip, port, id], replicas…]` entry a range).
fn owner_port(node: &RedisServer, slot: i64) -> i64 {
    let redis::Value::Array(ranges) = node.command(&["CLUSTER", "SLOTS"]) else {
        panic!("CLUSTER SLOTS did not answer with a list");
    };
    for range in ranges {
        let redis::Value::Array(fields) = range else {
            continue;
        };
        let number = |value: &redis::Value| match value {
            redis::Value::Int(number) => *number,
            _ => -1,
        };
        if fields.len() < 3 || !(number(&fields[0])..=number(&fields[1])).contains(&slot) {
            continue;
        }
        if let redis::Value::Array(master) = &fields[2] {
            return master.get(1).map_or(-1, number);
        }
    }
    panic!("no range of CLUSTER SLOTS holds slot {slot}")
}
