//! [`RedisServer`]: a real `redis-server` started on a free loopback port with its own
//! temporary directory, killed when dropped, plus sync helpers to inspect its keys directly.
//! Modelled on the test support of redis-rs. Its setup panics with the server's log (or an
//! install hint) when the server cannot start: a test should fail loudly and say why.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to accept connections before the test fails.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many fresh ports `start` tries when another process takes the one it picked.
const PORT_ATTEMPTS: usize = 3;

const INSTALL_HINT: &str = "redis-server not found: install it (Debian/Ubuntu: apt-get install \
     redis-server; macOS: brew install redis) or set REDIS_SERVER to its path";

/// A `redis-server` process owned by one test; killed when dropped.
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    /// Whether it keeps its data on disk (an append-only file), so a restart keeps it.
    persistent: bool,
    /// More settings for its command line (a cluster node's, say).
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers PING.
    pub fn start() -> RedisServer {
        RedisServer::start_with(false, Vec::new())
    }

    /// Like `start`, but every write is appended to disk at once, so `restart` keeps the data.
    pub fn start_persistent() -> RedisServer {
        RedisServer::start_with(true, Vec::new())
    }

    /// Like `start`, with more command-line settings; `{free_port}` in one is replaced by a
    /// port free at the time (a cluster node's bus port, say).
    pub(crate) fn start_with(persistent: bool, extra: Vec<String>) -> RedisServer {
        let binary = find_binary();
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let mut server = RedisServer {
                binary: binary.clone(),
                port: free_port(),
                dir: tempfile::Builder::new()
                    .prefix("kintsugi-redis-")
                    .tempdir()
                    .expect("a temporary directory for redis-server"),
                child: None,
                persistent,
                extra: extra
                    .iter()
                    .map(|arg| arg.replace("{free_port}", &free_port().to_string()))
                    .collect(),
            };
            match server.spawn_and_wait() {
                Ok(()) => return server,
                // The port was taken between picking it and the server binding it: pick again.
                Err(log) if log.contains("Address already in use") => last_log = log,
                Err(log) => panic!(
                    "redis-server on port {} did not come up within {STARTUP_TIMEOUT:?}; its log:\n{log}",
                    server.port
                ),
            }
        }
        panic!(
            "redis-server could not bind a free port in {PORT_ATTEMPTS} attempts; its last log:\n{last_log}"
        );
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's working directory (its log file lives there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The contents of the server's log file (empty if it has none yet).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the server process is running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Kills the server and waits for it to exit; does nothing if it is already stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server and starts it again on the same port and directory; the data survives
    /// only when it was started with `start_persistent`. For testing recovery when Redis comes
    /// back.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(log) = self.spawn_and_wait() {
            panic!(
                "redis-server did not come back on port {} within {STARTUP_TIMEOUT:?}; its log:\n{log}",
                self.port
            );
        }
    }

    /// A new sync connection to the server.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", self.url()))
    }

    /// Runs one command on a new connection and returns the raw reply, e.g.
    /// `server.command(&["HGETALL", key])`. Panics if the command fails.
    pub fn command(&self, args: &[&str]) -> redis::Value {
        self.query(args)
    }

    /// Runs one command on a new connection and converts the reply, e.g.
    /// `let keys: Vec<String> = server.query(&["KEYS", "*"])`. Panics if the command fails.
    pub fn query<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let (name, rest) = args.split_first().expect("a command name");
        redis::cmd(name)
            .arg(rest)
            .query(&mut self.connection())
            .unwrap_or_else(|error| panic!("{args:?} failed: {error}"))
    }

    /// Whether our own process (not another test's server that took the port) answers.
    fn answers(&self) -> bool {
        let Some(pid) = self.child.as_ref().map(Child::id) else {
            return false;
        };
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            return false;
        }
        let info = redis::Client::open(self.url())
            .and_then(|client| client.get_connection_with_timeout(Duration::from_millis(500)))
            .and_then(|mut connection| {
                redis::cmd("INFO")
                    .arg("server")
                    .query::<String>(&mut connection)
            });
        // Fails with LOADING while the server is still starting.
        info.is_ok_and(|info| {
            info.lines()
                .any(|line| line.trim() == format!("process_id:{pid}"))
        })
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Spawns the server and waits until it answers PING; on failure, kills it and returns its
    /// log.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        // A restarted server appends to the same log; start it afresh so errors read clearly.
        let _ = std::fs::remove_file(self.log_path());
        let child = Command::new(&self.binary)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--save", ""])
            .args(if self.persistent {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "no"]
            })
            .arg("--logfile")
            .arg(self.log_path())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run {}: {error}\n{INSTALL_HINT}",
                    self.binary.display()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if self.answers() {
                return Ok(());
            }
            let exited = !self.is_running();
            if exited || Instant::now() >= deadline {
                let mut stderr = String::new();
                if let Some(mut child) = self.child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                    if let Some(mut pipe) = child.stderr.take() {
                        let _ = pipe.read_to_string(&mut stderr);
                    }
                }
                return Err(format!("{}{stderr}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `REDIS_SERVER` if set, else `redis-server` on `PATH`; panics with an install hint otherwise.
fn find_binary() -> PathBuf {
    redis_server_binary().unwrap_or_else(|hint| panic!("{hint}"))
}

/// `REDIS_SERVER` if set, else `redis-server` on `PATH`; otherwise what to install.
pub fn redis_server_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("REDIS_SERVER") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(format!(
                "REDIS_SERVER={} is not a file. {INSTALL_HINT}",
                path.display()
            ));
        }
        return Ok(path);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|directory| directory.join("redis-server"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| INSTALL_HINT.to_owned())
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a free loopback port");
    listener
        .local_addr()
        .expect("the bound port's address")
        .port()
}
