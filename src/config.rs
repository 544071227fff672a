//! Configuration from flags and environment variables, validated once at start.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret, SecretString};

/// The command line: `chatgql [serve|migrate|schema]` plus configuration flags.
#[derive(Debug, Parser)]
#[command(
    name = "chatgql",
    version,
    about = "A real-time chat backend: GraphQL over SeaORM, bridged to Centrifugo"
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub settings: Settings,
}

/// The subcommands.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Apply migrations, then serve the API (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) and exit.
    Schema,
}

/// Where the process runs: production refuses insecure fallbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Environment {
    /// Local use: dev fallbacks allowed, with a warning.
    #[default]
    Development,
    /// Secrets required, JSON logs by default.
    Production,
}

/// Raw settings as given by flags and environment variables.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Listen address.
    #[arg(long, env = "CHATGQL_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// `sqlite://…` or `postgres://…`; an SQLite file in the working directory by default.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// HMAC key for access tokens.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Centrifugo's HTTP base, e.g. `http://127.0.0.1:8000`; unset means in-process realtime.
    #[arg(long, env = "CENTRIFUGO_URL")]
    pub centrifugo_url: Option<String>,
    /// Centrifugo's `http_api.key`.
    #[arg(long, env = "CENTRIFUGO_API_KEY", hide_env_values = true)]
    pub centrifugo_api_key: Option<String>,
    /// Centrifugo's `client.token.hmac_secret_key`.
    #[arg(long, env = "CENTRIFUGO_TOKEN_SECRET", hide_env_values = true)]
    pub centrifugo_token_secret: Option<String>,
    /// The WebSocket URL handed to browsers; derived from `CENTRIFUGO_URL` by default.
    #[arg(long, env = "CENTRIFUGO_WS_URL")]
    pub centrifugo_ws_url: Option<String>,
    /// `development` or `production`.
    #[arg(long = "env", env = "CHATGQL_ENV", value_enum, default_value_t = Environment::Development)]
    pub environment: Environment,
    /// Folder of the built web client (`index.html`, `graphiql.html`).
    #[arg(long, env = "CHATGQL_WEB_DIR", default_value = "web/dist")]
    pub web_dir: PathBuf,
    /// Log format: `text` or `json` (default: text in development, json in production).
    #[arg(long, env = "CHATGQL_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Centrifugo connection settings, all present or none.
#[derive(Clone)]
pub struct CentrifugoConfig {
    /// HTTP base URL of the server API.
    pub url: String,
    /// Server API key.
    pub api_key: SecretString,
    /// HMAC secret for connection and subscription tokens.
    pub token_secret: SecretString,
    /// WebSocket URL for clients.
    pub ws_url: String,
}

impl std::fmt::Debug for CentrifugoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentrifugoConfig")
            .field("url", &self.url)
            .field("ws_url", &self.ws_url)
            .finish_non_exhaustive()
    }
}

/// Validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen address (port 0 picks a free port).
    pub addr: SocketAddr,
    /// Database URL.
    pub database_url: String,
    /// HMAC key for access tokens.
    pub jwt_secret: SecretString,
    /// Centrifugo, when configured.
    pub centrifugo: Option<CentrifugoConfig>,
    /// Development or production.
    pub environment: Environment,
    /// Folder of the built web client.
    pub web_dir: PathBuf,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Whether this process runs an outbox relay (one that does not leaves its events to
    /// the relays of other processes on the same database).
    pub run_relay: bool,
}

/// The SQLite file used when `DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://chatgql.db?mode=rwc";
const DEV_JWT_SECRET: &str = "chatgql-development-secret-do-not-use-in-production";

impl Settings {
    /// Checks the settings; the error is one line naming the problem.
    pub fn validate(self) -> Result<Config, String> {
        let production = self.environment == Environment::Production;
        let jwt_secret = match self.jwt_secret.filter(|s| !s.is_empty()) {
            Some(secret) if secret.len() < 32 && production => {
                return Err("JWT_SECRET must be at least 32 bytes in production".into());
            }
            Some(secret) => secret,
            None if production => {
                return Err("JWT_SECRET is required when CHATGQL_ENV=production".into());
            }
            None => {
                tracing::warn!(
                    "JWT_SECRET is not set: using an insecure development key; set JWT_SECRET before exposing this server"
                );
                DEV_JWT_SECRET.to_owned()
            }
        };
        let database_url = self
            .database_url
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(format!(
                "DATABASE_URL must start with sqlite: or postgres:// (got {:?})",
                redact_url(&database_url)
            ));
        }
        let centrifugo = match self.centrifugo_url.filter(|s| !s.is_empty()) {
            None => None,
            Some(url) => {
                let url = url.trim_end_matches('/').to_owned();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!(
                        "CENTRIFUGO_URL must be an http(s) URL (got {url:?})"
                    ));
                }
                let api_key = self
                    .centrifugo_api_key
                    .filter(|s| !s.is_empty())
                    .ok_or("CENTRIFUGO_API_KEY is required with CENTRIFUGO_URL")?;
                let token_secret = self
                    .centrifugo_token_secret
                    .filter(|s| !s.is_empty())
                    .ok_or("CENTRIFUGO_TOKEN_SECRET is required with CENTRIFUGO_URL")?;
                let ws_url = self.centrifugo_ws_url.unwrap_or_else(|| {
                    format!("{}/connection/websocket", url.replacen("http", "ws", 1))
                });
                Some(CentrifugoConfig {
                    url,
                    api_key: api_key.into(),
                    token_secret: token_secret.into(),
                    ws_url,
                })
            }
        };
        Ok(Config {
            addr: self.addr,
            database_url,
            jwt_secret: jwt_secret.into(),
            centrifugo,
            environment: self.environment,
            web_dir: self.web_dir,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            run_relay: true,
        })
    }
}

impl Config {
    /// A development configuration for the given database, listening on a free local port.
    pub fn for_tests(database_url: impl Into<String>) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            jwt_secret: SecretString::from("test-secret-test-secret-test-secret"),
            centrifugo: None,
            environment: Environment::Development,
            web_dir: PathBuf::from("web/dist"),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            run_relay: true,
        }
    }

    /// The JWT key bytes.
    pub fn jwt_key(&self) -> &[u8] {
        self.jwt_secret.expose_secret().as_bytes()
    }
}

/// `url` with any password replaced by `***`, safe to log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Cli::parse_from(["chatgql"]).settings
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let mut s = settings();
        s.database_url = None;
        s.jwt_secret = None;
        s.centrifugo_url = None;
        s.environment = Environment::Development;
        let c = s.validate().unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert!(c.centrifugo.is_none());
    }

    #[test]
    fn production_requires_a_secret() {
        let mut s = settings();
        s.environment = Environment::Production;
        s.jwt_secret = None;
        assert_eq!(
            s.validate().unwrap_err(),
            "JWT_SECRET is required when CHATGQL_ENV=production"
        );
    }

    #[test]
    fn centrifugo_needs_its_keys_and_derives_the_ws_url() {
        let mut s = settings();
        s.centrifugo_url = Some("http://127.0.0.1:8000/".into());
        s.centrifugo_api_key = None;
        assert!(
            s.clone()
                .validate()
                .unwrap_err()
                .contains("CENTRIFUGO_API_KEY")
        );
        s.centrifugo_api_key = Some("k".into());
        s.centrifugo_token_secret = Some("t".into());
        s.centrifugo_ws_url = None;
        let c = s.validate().unwrap().centrifugo.unwrap();
        assert_eq!(c.ws_url, "ws://127.0.0.1:8000/connection/websocket");
    }

    #[test]
    fn bad_database_scheme_is_named() {
        let mut s = settings();
        s.database_url = Some("mysql://x".into());
        assert!(s.validate().unwrap_err().starts_with("DATABASE_URL"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@host/db"),
            "postgres://u:***@host/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
