//! `chatgql-bench`: a load generator for chatgql. It starts the server in this process (or
//! targets `--url`), prepares users and rooms, runs the named scenarios, prints a table per
//! scenario and optionally writes every figure as JSON. Every scenario also checks
//! correctness (no lost, no duplicated message, per-room order by id); any violation makes
//! the run fail with a non-zero exit status, however fast it was.

mod raw;
mod scenarios;
mod stats;
mod target;
mod ws;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, ValueEnum};
use serde_json::{Value, json};

use target::{Databases, Engine, Server};

/// Command line of `chatgql-bench`.
#[derive(Debug, Parser)]
#[command(
    name = "chatgql-bench",
    about = "Load generator and benchmarks for chatgql"
)]
pub struct Args {
    /// Scenarios to run, in order (default: all).
    #[arg(value_enum)]
    pub scenarios: Vec<Scenario>,
    /// Database engine for servers the bench starts.
    #[arg(long, value_enum, default_value_t = Engine::Sqlite)]
    pub database: Engine,
    /// PostgreSQL admin URL used to create a fresh database per server.
    #[arg(long, env = "CHATGQL_PG_ADMIN_URL")]
    pub pg_admin_url: Option<String>,
    /// Target a running server (`http://127.0.0.1:8080`) instead of starting one; the raw
    /// baseline and server RSS are then not measured.
    #[arg(long)]
    pub url: Option<String>,
    /// The `chatgql` binary run as a child process by `idle` (default: next to this one).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Also run `e2e` through a Centrifugo started from `CENTRIFUGO_BIN`.
    #[arg(long)]
    pub centrifugo: bool,
    /// A tiny version of every scenario (seconds in total); fails only on correctness.
    #[arg(long)]
    pub small: bool,
    /// Write every figure to this JSON file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Seconds per `send` and `query` measurement.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent clients for `send`.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub clients: Vec<usize>,
    /// Also run `send` with one room per client (the uncontended case).
    #[arg(long)]
    pub room_per_client: bool,
    /// Messages per second for `e2e`.
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Seconds of sending for `e2e`.
    #[arg(long, default_value_t = 10)]
    pub e2e_seconds: u64,
    /// Subscriber counts for `fanout`.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub fanout: Vec<usize>,
    /// Subscriptions per WebSocket connection in `fanout`.
    #[arg(long, default_value_t = 20)]
    pub subs_per_conn: usize,
    /// Idle subscriptions (one connection each) for `idle`.
    #[arg(long, default_value_t = 10_000)]
    pub idle: usize,
    /// Concurrent keep-alive connections for `query`.
    #[arg(long, default_value_t = 32)]
    pub query_conns: usize,
}

/// A named scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// `sendMessage` throughput and latency beside the raw database baseline.
    Send,
    /// Mutation-to-subscriber latency at a fixed rate.
    E2e,
    /// One room, many subscribers: deliveries per second.
    Fanout,
    /// Server memory per idle subscription.
    Idle,
    /// `{ me { id username } }` beside a bare axum handler.
    Query,
}

/// What every scenario shares.
pub struct Ctx {
    /// The command line (with `--small` applied).
    pub args: Args,
    /// Fresh databases.
    pub dbs: Databases,
}

impl Ctx {
    /// A server for one scenario: the `--url` target, or a fresh one in this process.
    pub async fn server(&self) -> anyhow::Result<Server> {
        match &self.args.url {
            Some(url) => {
                let s = Server::remote(url);
                s.wait_healthy(Duration::from_secs(10)).await?;
                Ok(s)
            }
            None => Server::in_process(self.dbs.fresh().await?, None).await,
        }
    }
}

/// A scenario's figures and the correctness problems it found.
#[derive(Default)]
pub struct Outcome {
    /// Figures for the JSON report.
    pub json: Value,
    /// Correctness violations; any makes the run fail.
    pub failures: Vec<String>,
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if args.scenarios.is_empty() {
        args.scenarios = vec![
            Scenario::Send,
            Scenario::E2e,
            Scenario::Fanout,
            Scenario::Idle,
            Scenario::Query,
        ];
    }
    if args.small {
        args.seconds = 1;
        args.clients = vec![1, 4];
        args.room_per_client = true;
        args.rate = 100;
        args.e2e_seconds = 1;
        args.fanout = vec![50];
        args.subs_per_conn = 5;
        args.idle = 50;
        args.query_conns = 4;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let dbs = match Databases::new(args.database, args.pg_admin_url.clone()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("chatgql-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    let ctx = Ctx { args, dbs };
    let machine = machine();
    let durability = match (&ctx.args.url, ctx.dbs.fresh().await) {
        (Some(_), _) => "unknown (remote server)".to_owned(),
        (None, Ok(url)) => ctx.dbs.durability(&url).await,
        (None, Err(e)) => {
            eprintln!("chatgql-bench: {e:#}");
            ctx.dbs.cleanup().await;
            return ExitCode::from(2);
        }
    };
    println!(
        "chatgql-bench{}",
        if ctx.args.small { " --small" } else { "" }
    );
    println!("machine:    {}", machine["summary"].as_str().unwrap_or(""));
    println!("database:   {:?}", ctx.args.database);
    println!("durability: {durability}");
    let mut report = json!({
        "machine": machine,
        "database": ctx.args.database,
        "durability": durability,
        "small": ctx.args.small,
        "started": chrono::Utc::now().to_rfc3339(),
        "scenarios": {},
    });
    let mut failures = Vec::new();
    for scenario in ctx.args.scenarios.clone() {
        let name = format!("{scenario:?}").to_lowercase();
        println!("\n== {name} ==");
        let outcome = match scenario {
            Scenario::Send => scenarios::send::run(&ctx).await,
            Scenario::E2e => scenarios::e2e::run(&ctx).await,
            Scenario::Fanout => scenarios::fanout::run(&ctx).await,
            Scenario::Idle => scenarios::idle::run(&ctx).await,
            Scenario::Query => scenarios::query::run(&ctx).await,
        };
        match outcome {
            Ok(o) => {
                for f in &o.failures {
                    println!("CORRECTNESS FAILURE [{name}]: {f}");
                    failures.push(format!("{name}: {f}"));
                }
                report["scenarios"][&name] = o.json;
            }
            Err(e) => {
                println!("ERROR [{name}]: {e:#}");
                failures.push(format!("{name}: error: {e:#}"));
                report["scenarios"][&name] = json!({"error": format!("{e:#}")});
            }
        }
    }
    ctx.dbs.cleanup().await;
    report["failures"] = json!(failures);
    if let Some(path) = &ctx.args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => {
                if let Err(e) = std::fs::write(path, text) {
                    eprintln!("chatgql-bench: cannot write {}: {e}", path.display());
                }
            }
            Err(e) => eprintln!("chatgql-bench: {e}"),
        }
    }
    if failures.is_empty() {
        println!("\nresult: OK (no message lost, duplicated or reordered)");
        ExitCode::SUCCESS
    } else {
        println!("\nresult: FAILED ({} problem(s))", failures.len());
        ExitCode::FAILURE
    }
}

/// CPU model, core count and memory of this machine.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let summary = format!(
        "{cores} cores, {:.1} GiB RAM, {model}",
        mem_kib as f64 / 1024.0 / 1024.0
    );
    json!({"cores": cores, "mem_kib": mem_kib, "cpu": model, "summary": summary})
}
