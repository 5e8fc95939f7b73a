//! The link to Redis: one server (a reconnecting multiplexed connection) or a Redis Cluster
//! (redis-rs's async cluster client, which follows slots as they move), chosen by the URL.
//! Both connect lazily, so the bot starts while Redis is down and recovers when it is back.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::storage::StorageError;

/// How long connecting, and then each answer, may take before the operation fails.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A connection to one Redis or to a cluster; cheap to clone, shared by every clone.
#[derive(Clone)]
pub enum Link {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// The schemes that name a cluster: `redis+cluster://host1:port1,host2:port2`.
const CLUSTER_SCHEMES: [(&str, &str); 2] = [
    ("redis+cluster://", "redis"),
    ("valkey+cluster://", "valkey"),
];

impl Link {
    /// A lazy link for `url`: `redis://…` (or any URL redis-rs reads) for one server, and
    /// `redis+cluster://[user:password@]host:port,host:port,…` for a cluster, given any of its
    /// nodes (it finds the others).
    pub fn open(url: &str) -> Result<Link, StorageError> {
        let Some(nodes) = cluster_nodes(url)? else {
            let client = redis::Client::open(url)?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(TIMEOUT))
                .set_response_timeout(Some(TIMEOUT))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(500));
            return Ok(Link::Single(ConnectionManager::new_lazy_with_config(
                client, config,
            )?));
        };
        let client = ClusterClient::builder(nodes)
            .retries(3)
            .max_retry_wait(500)
            .build()?;
        let config = ClusterConfig::new()
            .set_connection_timeout(TIMEOUT)
            .set_response_timeout(TIMEOUT);
        Ok(Link::Cluster(
            client.get_pending_async_connection_with_config(config),
        ))
    }

    /// Whether this is a cluster (where a command may only touch keys of one slot).
    pub fn is_cluster(&self) -> bool {
        matches!(self, Link::Cluster(_))
    }

    /// Runs `cmd` on the server that holds `key`'s slot: on one Redis, simply runs it. For
    /// commands that name no key but must reach a certain node (a SCAN for one person's keys).
    pub async fn on_node_of(&mut self, key: &str, cmd: &Cmd) -> Result<Value, StorageError> {
        Ok(match self {
            Link::Single(connection) => cmd.query_async(connection).await?,
            Link::Cluster(connection) => {
                let route = Route::with_key(key.as_bytes(), SlotAddr::Master);
                connection
                    .route_command(
                        cmd.clone(),
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await?
            }
        })
    }
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Link::Single(connection) => connection.req_packed_command(cmd),
            Link::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Link::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Link::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Link::Single(connection) => connection.get_db(),
            Link::Cluster(connection) => connection.get_db(),
        }
    }
}

/// The node URLs of a cluster URL, `None` for any other URL, or why it cannot be read.
fn cluster_nodes(url: &str) -> Result<Option<Vec<String>>, StorageError> {
    let Some((scheme, rest)) = CLUSTER_SCHEMES
        .iter()
        .find_map(|(prefix, scheme)| url.strip_prefix(prefix).map(|rest| (*scheme, rest)))
    else {
        return Ok(None);
    };
    let invalid =
        |why: &str| StorageError::Config(format!("REDIS_URL is not a cluster URL: {why}"));
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?']) {
        return Err(invalid(
            "a cluster has no database number or options (write host:port,host:port)",
        ));
    }
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
        None => (String::new(), rest),
    };
    let nodes: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(|host| format!("{scheme}://{credentials}{host}/"))
        .collect();
    if nodes.is_empty() {
        return Err(invalid("it names no node (write host:port,host:port)"));
    }
    for node in &nodes {
        redis::parse_redis_url(node).ok_or_else(|| invalid("a node is not host:port"))?;
    }
    Ok(Some(nodes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_url_is_not_a_cluster() {
        assert_eq!(cluster_nodes("redis://127.0.0.1:6379/").unwrap(), None);
    }

    #[test]
    fn a_cluster_url_names_each_node_with_the_credentials() {
        assert_eq!(
            cluster_nodes("redis+cluster://user:pw@10.0.0.1:7000,10.0.0.2:7001/").unwrap(),
            Some(vec![
                "redis://user:pw@10.0.0.1:7000/".to_owned(),
                "redis://user:pw@10.0.0.2:7001/".to_owned()
            ])
        );
        assert_eq!(
            cluster_nodes("valkey+cluster://a:1").unwrap(),
            Some(vec!["valkey://a:1/".to_owned()])
        );
    }

    #[test]
    fn a_cluster_url_without_nodes_or_with_a_database_is_refused() {
        for url in [
            "redis+cluster://",
            "redis+cluster://a:1/2",
            "redis+cluster://,",
        ] {
            let error = cluster_nodes(url).expect_err(url).to_string();
            assert!(error.contains("REDIS_URL"), "{error}");
        }
    }
}
