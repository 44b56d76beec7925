//! A cluster of `nats-server` processes with JetStream on loopback, each node with its own
//! store directory under one temporary directory, on ports the operating system picked. Nodes
//! can be killed (SIGKILL) and restarted on the same ports and store, as a machine that died
//! and came back.
//!
//! Nobody is trusted for being on loopback: every client logs in as one of the users of
//! [`Role`], each allowed only the subjects its role needs, with a password generated for this
//! cluster and kept in a 0600 file; the nodes' routes between themselves need a password too.
//! Clients reach the nodes over TLS only: the nodes present a server certificate for loopback
//! from a PKI made for the cluster (`dampwatch pki init` in its directory), and clients check it
//! against that PKI's CA. The routes between nodes are plain TCP on loopback (with their
//! password): a route's TLS needs a certificate for client authentication as well.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ClusterError;

/// The cluster's name in its routes.
const CLUSTER_NAME: &str = "dampwatch";
/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(100);
/// Each node's file store, stated: left out, a node sizes it from the disk free when it starts,
/// so a nearly full disk (a build beside the tests) left it too little to place the uplink
/// stream (1 GiB here) and the cluster refused it ("insufficient storage").
const MAX_FILE_STORE: u64 = 4 << 30;

/// Who connects to the cluster, each with its own user and permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Publishes uplinks, reads configurations, receives acknowledgements.
    Gateway,
    /// Consumes uplinks, sends acknowledgements and configurations, manages the streams.
    Collector,
}

impl Role {
    pub fn user(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Collector => "collector",
        }
    }

    /// The subjects the role may publish to and subscribe to.
    fn permissions(self) -> (Vec<String>, Vec<String>) {
        let inbox = format!("{}.>", crate::settings::inbox_prefix(self.user()));
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            // The JetStream API it needs, on the two streams by name: to make them if no
            // collector has yet, publish into the uplink stream, read one configuration from
            // the bucket's leader. Not the acknowledgement of uplinks, not downlinks, not any
            // other stream: a gateway cannot confirm or forge what only a collector may say.
            Role::Gateway => (
                s(&[
                    "dw.v1.up.>",
                    "$JS.API.STREAM.INFO.DW_UPLINKS",
                    "$JS.API.STREAM.CREATE.DW_UPLINKS",
                    "$JS.API.STREAM.INFO.KV_DW_CONFIG",
                    "$JS.API.STREAM.CREATE.KV_DW_CONFIG",
                    "$JS.API.STREAM.MSG.GET.KV_DW_CONFIG",
                ]),
                [s(&["dw.v1.down.>"]), vec![inbox]].concat(),
            ),
            // Its group on the uplink stream (make, read, fetch, acknowledge), downlinks and
            // configurations; not purging or deleting a stream or a consumer.
            Role::Collector => (
                s(&[
                    "dw.v1.down.>",
                    "$KV.DW_CONFIG.>",
                    "$JS.API.INFO",
                    "$JS.API.STREAM.INFO.DW_UPLINKS",
                    "$JS.API.STREAM.CREATE.DW_UPLINKS",
                    "$JS.API.STREAM.INFO.KV_DW_CONFIG",
                    "$JS.API.STREAM.CREATE.KV_DW_CONFIG",
                    "$JS.API.STREAM.MSG.GET.KV_DW_CONFIG",
                    "$JS.API.CONSUMER.CREATE.DW_UPLINKS",
                    "$JS.API.CONSUMER.CREATE.DW_UPLINKS.>",
                    "$JS.API.CONSUMER.DURABLE.CREATE.DW_UPLINKS.>",
                    "$JS.API.CONSUMER.INFO.DW_UPLINKS.>",
                    "$JS.API.CONSUMER.MSG.NEXT.DW_UPLINKS.>",
                    "$JS.ACK.DW_UPLINKS.>",
                ]),
                vec![inbox],
            ),
        }
    }
}

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

/// A password for one user: 128 random bits in hex.
fn new_password() -> Result<String, ClusterError> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| ClusterError::Files(std::io::Error::other("no randomness for a password")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `secret` to `path`, readable by its owner only.
fn write_secret(path: &Path, secret: &str) -> Result<(), ClusterError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(ClusterError::Files)?;
    f.write_all(secret.as_bytes()).map_err(ClusterError::Files)
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
        let mut users = Vec::new();
        for role in [Role::Gateway, Role::Collector] {
            let password = new_password()?;
            write_secret(&dir.path().join(format!("{}.password", role.user())), &password)?;
            users.push((role, password));
        }
        let route_password = new_password()?;
        let pki = dir.path().join("pki");
        dampwatch_pki::init(&pki, Default::default())
            .map_err(|e| ClusterError::Files(std::io::Error::other(e)))?;
        let tls = dampwatch_pki::Paths::new(&pki);
        let mut nodes = Vec::with_capacity(size);
        for (i, (client_port, cluster_port)) in ports.iter().enumerate() {
            let name = format!("n{i}");
            let routes: Vec<String> = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (_, p))| format!("\"nats-route://route:{route_password}@127.0.0.1:{p}\""))
                .collect();
            let config = dir.path().join(format!("{name}.conf"));
            let store = dir.path().join(&name);
            let text = node_config(
                &name,
                (*client_port, *cluster_port),
                &store,
                &routes,
                &users,
                &route_password,
                (&tls.web_cert(), &tls.web_key()),
            );
            write_secret(&config, &text)?;
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

    /// The `[upstream]` section a service of `role` uses to reach this cluster.
    pub fn upstream(&self, role: Role) -> crate::UpstreamConfig {
        crate::UpstreamConfig {
            kind: crate::UpstreamKind::Cluster,
            servers: self.urls(),
            replicas: self.nodes.len().min(3),
            user: role.user().to_owned(),
            password_file: self.dir.path().join(format!("{}.password", role.user())),
            ca_file: self.ca_file(),
            max_stream_bytes: 1 << 30,
            ack_wait: Duration::from_secs(30),
        }
    }

    /// A client logged in as `role`.
    pub async fn client(&self, role: Role) -> Result<async_nats::Client, ClusterError> {
        self.upstream(role).connect("dampwatch-test").await
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

    /// The CA that signed the nodes' certificate.
    pub fn ca_file(&self) -> PathBuf {
        dampwatch_pki::Paths::new(self.dir.path().join("pki")).ca_cert()
    }

    /// The process ids of the running nodes (for counting their CPU time).
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(|n| n.process.as_ref().map(Child::id)).collect()
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
                let last = match jetstream_answers(&self.url(i), &self.upstream(Role::Collector)).await {
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
async fn jetstream_answers(url: &str, login: &crate::UpstreamConfig) -> Result<(), String> {
    let password = std::fs::read_to_string(&login.password_file).map_err(|e| e.to_string())?;
    let options = async_nats::ConnectOptions::new()
        .user_and_password(login.user.clone(), password)
        .custom_inbox_prefix(crate::settings::inbox_prefix(&login.user))
        .add_root_certificates(login.ca_file.clone())
        .require_tls(true);
    let client = match tokio::time::timeout(Duration::from_secs(2), options.connect(url)).await {
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

fn node_config(
    name: &str,
    (client_port, cluster_port): (u16, u16),
    store: &Path,
    routes: &[String],
    users: &[(Role, String)],
    route_password: &str,
    (cert, key): (&Path, &Path),
) -> String {
    let quoted = |v: Vec<String>| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
    let users: Vec<String> = users
        .iter()
        .map(|(role, password)| {
            let (publish, subscribe) = role.permissions();
            format!(
                "    {{ user: {user}, password: \"{password}\", permissions: {{ publish: {{ allow: [{publish}] }}, subscribe: {{ allow: [{subscribe}] }} }} }}",
                user = role.user(),
                publish = quoted(publish),
                subscribe = quoted(subscribe),
            )
        })
        .collect();
    format!(
        "server_name: {name}
listen: 127.0.0.1:{client_port}
tls {{
  cert_file: \"{cert}\"
  key_file: \"{key}\"
  timeout: 2
}}
authorization {{
  users: [
{users}
  ]
}}
jetstream {{
  store_dir: \"{store}\"
  max_file_store: {MAX_FILE_STORE}
}}
cluster {{
  name: {CLUSTER_NAME}
  listen: 127.0.0.1:{cluster_port}
  authorization {{
    user: route
    password: \"{route_password}\"
  }}
  routes: [{routes}]
}}
",
        users = users.join("\n"),
        cert = cert.display(),
        key = key.display(),
        store = store.display(),
        routes = routes.join(", "),
    )
}
