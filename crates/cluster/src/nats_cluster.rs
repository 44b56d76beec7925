//! A cluster of `nats-server` processes with JetStream on loopback, each node with its own
//! store directory under one temporary directory, on ports the operating system picked. Nodes
//! can be killed (SIGKILL) and restarted on the same ports and store, as a machine that died
//! and came back.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ClusterError;

/// The cluster's name in its routes.
const CLUSTER_NAME: &str = "dampwatch";
/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(100);

struct Node {
    name: String,
    client_port: u16,
    config: PathBuf,
    process: Option<Child>,
}

/// A running cluster; every node is killed when it is dropped.
pub struct NatsCluster {
    dir: tempfile::TempDir,
    nodes: Vec<Node>,
}

impl NatsCluster {
    /// Starts `size` nodes, each routed to every other, and waits until JetStream answers
    /// through every node (a meta leader is elected).
    pub async fn start(size: usize, limit: Duration) -> Result<NatsCluster, ClusterError> {
        let dir =
            tempfile::Builder::new().prefix("dampwatch-nats-").tempdir().map_err(ClusterError::Files)?;
        let ports: Vec<(u16, u16)> = (0..size)
            .map(|_| Ok::<_, ClusterError>((free_port()?, free_port()?)))
            .collect::<Result<_, _>>()?;
        let mut nodes = Vec::with_capacity(size);
        for (i, (client_port, cluster_port)) in ports.iter().enumerate() {
            let name = format!("n{i}");
            let routes: Vec<String> = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (_, p))| format!("\"nats-route://127.0.0.1:{p}\""))
                .collect();
            let config = dir.path().join(format!("{name}.conf"));
            let store = dir.path().join(&name);
            std::fs::write(&config, node_config(&name, *client_port, *cluster_port, &store, &routes))
                .map_err(ClusterError::Files)?;
            nodes.push(Node { name, client_port: *client_port, config, process: None });
        }
        let mut cluster = NatsCluster { dir, nodes };
        for i in 0..size {
            cluster.spawn(i)?;
        }
        cluster.wait_ready(limit).await?;
        Ok(cluster)
    }

    /// The URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].client_port)
    }

    /// Every node's URL, for a client that should fail over between them.
    pub fn urls(&self) -> Vec<String> {
        (0..self.nodes.len()).map(|i| self.url(i)).collect()
    }

    /// The index of the node whose server name is `name`.
    pub fn node_named(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Kills node `i` with SIGKILL and reaps it: no orderly shutdown, no flush.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.nodes[i].process.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }

    /// Starts node `i` again on its ports and store.
    pub async fn restart(&mut self, i: usize, limit: Duration) -> Result<(), ClusterError> {
        self.spawn(i)?;
        self.wait_ready(limit).await
    }

    /// Where the nodes keep their files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn spawn(&mut self, i: usize) -> Result<(), ClusterError> {
        let node = &mut self.nodes[i];
        let log = std::fs::File::create(self.dir.path().join(format!("{}.log", node.name)))
            .map_err(ClusterError::Files)?;
        let child = Command::new(nats_server())
            .arg("-c")
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(ClusterError::Spawn)?;
        node.process = Some(child);
        Ok(())
    }

    /// Waits until JetStream answers an account query through every running node.
    async fn wait_ready(&self, limit: Duration) -> Result<(), ClusterError> {
        let deadline = Instant::now() + limit;
        for (i, node) in self.nodes.iter().enumerate() {
            if node.process.is_none() {
                continue;
            }
            loop {
                let last = match jetstream_answers(&self.url(i)).await {
                    Ok(()) => break,
                    Err(e) => e,
                };
                if Instant::now() >= deadline {
                    return Err(ClusterError::NotReady { node: node.name.clone(), limit, last });
                }
                tokio::time::sleep(POLL).await;
            }
        }
        Ok(())
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// `Ok` once JetStream answers an account query through `url`; the reason otherwise.
async fn jetstream_answers(url: &str) -> Result<(), String> {
    let client = match tokio::time::timeout(Duration::from_secs(2), async_nats::connect(url)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("connecting timed out".into()),
    };
    // The raw API: the client's typed account info expects fields older servers lack.
    match tokio::time::timeout(Duration::from_secs(2), client.request("$JS.API.INFO", "".into())).await {
        Ok(Ok(reply)) => {
            let body = String::from_utf8_lossy(&reply.payload);
            if body.contains("\"error\"") {
                Err(body.into_owned())
            } else {
                Ok(())
            }
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("JetStream did not answer".into()),
    }
}

/// The server binary: on the PATH, or where Debian's package puts it (`/usr/sbin`, which is not
/// on every user's PATH).
fn nats_server() -> PathBuf {
    let debian = PathBuf::from("/usr/sbin/nats-server");
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nats-server"))
        .find(|f| f.is_file());
    on_path.unwrap_or(debian)
}

/// A port the operating system says is free now (it is released again at once; a test that
/// loses the race fails to start its node, never shares a port with another test).
fn free_port() -> Result<u16, ClusterError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(ClusterError::Files)?;
    Ok(l.local_addr().map_err(ClusterError::Files)?.port())
}

fn node_config(name: &str, client_port: u16, cluster_port: u16, store: &Path, routes: &[String]) -> String {
    format!(
        "server_name: {name}
listen: 127.0.0.1:{client_port}
jetstream {{
  store_dir: \"{store}\"
}}
cluster {{
  name: {CLUSTER_NAME}
  listen: 127.0.0.1:{cluster_port}
  routes: [{routes}]
}}
",
        store = store.display(),
        routes = routes.join(", "),
    )
}
