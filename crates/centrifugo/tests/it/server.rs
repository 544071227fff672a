//! Starts a real Centrifugo per test with the repository's centrifugo.json, overriding its
//! address, port and secrets through environment variables.
//! Shared with the server's integration tests (`tests/api`), which include this file.
#![allow(dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use centrifugo::ApiClient;

pub const SECRET: &str = "test-hmac-secret-0123456789abcdef";
pub const API_KEY: &str = "test-api-key";

/// The repository's `centrifugo.json` (namespaces and options users run); the settings below
/// override its address, port and secrets.
pub fn shipped_config() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("centrifugo.json"))
        .find(|path| path.is_file())
        .expect("centrifugo.json in the repository root")
}

/// A running Centrifugo, killed on drop.
pub struct Centrifugo {
    child: Child,
    pub port: u16,
    pub api: ApiClient,
    log: PathBuf,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

impl Centrifugo {
    /// Starts a server, or returns `None` (after a notice) when `CENTRIFUGO_BIN` is unset
    /// outside CI. In CI a missing binary fails the test.
    pub async fn start() -> Option<Self> {
        Self::start_with(&[]).await
    }

    /// Like [`Centrifugo::start`] with extra `CENTRIFUGO_*` settings.
    pub async fn start_with(extra_env: &[(&str, &str)]) -> Option<Self> {
        let bin = match std::env::var("CENTRIFUGO_BIN") {
            Ok(bin) if !bin.is_empty() => bin,
            _ if std::env::var_os("CI").is_some() => {
                panic!(
                    "CENTRIFUGO_BIN is not set: CI must run the Centrifugo tests against a real server"
                )
            }
            _ => {
                eprintln!("notice: CENTRIFUGO_BIN is not set; skipping a real-Centrifugo test");
                return None;
            }
        };
        let mut last_error = String::new();
        // A port found free can be taken before the server binds it; try a few.
        for _ in 0..3 {
            match Self::spawn(&bin, extra_env).await {
                Ok(server) => return Some(server),
                Err(e) => last_error = e,
            }
        }
        panic!("Centrifugo did not start: {last_error}");
    }

    /// Starts a server on a given port (to restart one where it was).
    pub async fn start_on(port: u16) -> Self {
        let bin = std::env::var("CENTRIFUGO_BIN").expect("CENTRIFUGO_BIN");
        Self::spawn_on(&bin, &[], port)
            .await
            .expect("Centrifugo restarts")
    }

    async fn spawn(bin: &str, extra_env: &[(&str, &str)]) -> Result<Self, String> {
        Self::spawn_on(bin, extra_env, free_port()).await
    }

    async fn spawn_on(bin: &str, extra_env: &[(&str, &str)], port: u16) -> Result<Self, String> {
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("centrifugo-{port}.log"));
        let log_file = File::create(&log).map_err(|e| format!("log file: {e}"))?;
        let log_err = log_file.try_clone().map_err(|e| format!("log file: {e}"))?;
        let mut command = Command::new(bin);
        // The shipped file plus the settings below: nothing from the caller's environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CENTRIFUGO_") {
                command.env_remove(key);
            }
        }
        command
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .arg("-c")
            .arg(shipped_config())
            .env("CENTRIFUGO_HTTP_SERVER_ADDRESS", "127.0.0.1")
            .env("CENTRIFUGO_HTTP_SERVER_PORT", port.to_string())
            .env("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY", SECRET)
            .env("CENTRIFUGO_HTTP_API_KEY", API_KEY)
            .env("CENTRIFUGO_HEALTH_ENABLED", "true")
            .env("CENTRIFUGO_USAGE_STATS_DISABLED", "true")
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file))
            .stderr(Stdio::from(log_err));
        let child = command.spawn().map_err(|e| format!("spawn {bin}: {e}"))?;
        let api = ApiClient::new(
            format!("http://127.0.0.1:{port}"),
            API_KEY,
            Duration::from_secs(2),
        )
        .map_err(|e| e.to_string())?;
        let mut server = Centrifugo {
            child,
            port,
            api,
            log,
        };
        server.wait_healthy(Duration::from_secs(15)).await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}: {}", self.log_text()));
            }
            if self.api.health().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no healthy answer within {limit:?}: {}",
                    self.log_text()
                ));
            }
            // Poll interval while it starts; the loop ends on the answer or the deadline.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The HTTP base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The WebSocket endpoint of the JSON client protocol.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/connection/websocket", self.port)
    }
}

impl Drop for Centrifugo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
