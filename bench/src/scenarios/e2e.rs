//! `e2e`: mutation-to-subscriber latency at a fixed send rate, over a GraphQL subscription
//! (`roomEvents` with `after: "0"`) fed in-process, and fed through Centrifugo with
//! `--centrifugo`.

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use chatgql::config::CentrifugoConfig;
use serde_json::json;
use tokio::sync::Semaphore;

use super::check_deliveries;
use crate::{
    Ctx, Outcome,
    stats::Latency,
    target::{Api, Server},
    ws,
};

const SENDERS: usize = 16;
const IN_FLIGHT: usize = 256;

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let mut rows = Vec::new();
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>12}",
        "transport",
        "target/s",
        "sent/s",
        "messages",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "mutation p99"
    );
    let server = ctx.server().await?;
    rows.push(measure(ctx, &server, "in-process", &mut out).await?);
    server.stop().await;
    if ctx.args.centrifugo {
        match std::env::var("CENTRIFUGO_BIN")
            .ok()
            .filter(|s| !s.is_empty())
        {
            Some(bin) if ctx.args.url.is_none() => {
                let cf = CentrifugoChild::start(&bin).await?;
                let server = Server::in_process(ctx.dbs.fresh().await?, Some(cf.config())).await?;
                let row = measure(ctx, &server, "centrifugo", &mut out).await;
                server.stop().await;
                drop(cf);
                rows.push(row?);
            }
            Some(_) => println!("note: --centrifugo is ignored with --url"),
            None => {
                println!(
                    "note: CENTRIFUGO_BIN is not set; the Centrifugo run is skipped (scripts/centrifugo.sh prints a path)"
                );
                rows.push(
                    json!({"transport": "centrifugo", "skipped": "CENTRIFUGO_BIN is not set"}),
                );
            }
        }
    }
    out.json = json!({"rows": rows});
    Ok(out)
}

async fn measure(
    ctx: &Ctx,
    server: &Server,
    transport: &str,
    out: &mut Outcome,
) -> anyhow::Result<serde_json::Value> {
    let api = Api::new(server);
    let users = api.users(SENDERS, 4).await?;
    let room = api
        .room(&users[0], &format!("e2e-{transport}"), &users[1..])
        .await?;
    let rate = ctx.args.rate.max(1);
    let total = (rate * ctx.args.e2e_seconds).clamp(1, 10_000_000) as usize;
    let base = Instant::now();
    let nanos = move |t: Instant| t.duration_since(base).as_nanos() as u64 + 1;
    let send_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let recv_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let ids: Arc<Vec<AtomicI64>> = Arc::new((0..total).map(|_| AtomicI64::new(0)).collect());
    let order: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let problems: Arc<Mutex<Vec<String>>> = Arc::default();
    let warm = Arc::new(AtomicBool::new(false));

    let (mut tx, rx) = ws::open(&server.ws_url(), &users[0].token, Duration::from_secs(10)).await?;
    tx.subscribe_room("1", &room, Some("0")).await?;
    let send_secs = ctx.args.e2e_seconds;
    let reader = {
        let (recv_at, order, problems, warm) = (
            recv_at.clone(),
            order.clone(),
            problems.clone(),
            warm.clone(),
        );
        let deadline = Instant::now() + Duration::from_secs(send_secs * 3 + 60);
        tokio::spawn(rx.run(deadline, move |d| match d {
            ws::Delivery::Message {
                id, content, at, ..
            } => {
                if content == "warm" {
                    warm.store(true, Ordering::Release);
                    return true;
                }
                let mut o = order.lock().expect("lock");
                o.push(id);
                if let Some(seq) = content
                    .strip_prefix('e')
                    .and_then(|s| s.parse::<usize>().ok())
                    && seq < recv_at.len()
                {
                    // A duplicate keeps the first arrival; the order check reports it.
                    let _ = recv_at[seq].compare_exchange(
                        0,
                        nanos(at),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                }
                o.len() < recv_at.len()
            }
            ws::Delivery::Problem(p) => {
                problems.lock().expect("lock").push(p);
                false
            }
        }))
    };
    // Warm-up: one message seen live proves the subscription is established.
    api.send(&users[0].token, &room, "warm").await?;
    let until = Instant::now() + Duration::from_secs(15);
    while !warm.load(Ordering::Acquire) {
        if Instant::now() > until || reader.is_finished() {
            bail!("{transport}: the warm-up message never reached the subscriber");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Fixed-rate sending: ticks of 1 ms (or slower for low rates), several sends per tick.
    let tick = Duration::from_nanos((1_000_000_000 / rate).max(1_000_000));
    let per_tick = ((rate as f64 * tick.as_secs_f64()).round() as usize).max(1);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut_lat: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let hard_stop = start + Duration::from_secs(send_secs * 3 + 30);
    let mut seq = 0usize;
    while seq < total && Instant::now() < hard_stop {
        interval.tick().await;
        for _ in 0..per_tick {
            if seq >= total {
                break;
            }
            let permit = permits.clone().acquire_owned().await?;
            let (api, room, token) = (
                api.clone(),
                room.clone(),
                users[seq % SENDERS].token.clone(),
            );
            let (send_at, ids, mut_lat, errors) = (
                send_at.clone(),
                ids.clone(),
                mut_lat.clone(),
                errors.clone(),
            );
            let i = seq;
            tokio::spawn(async move {
                let t = Instant::now();
                send_at[i].store(nanos(t), Ordering::Release);
                match api.send(&token, &room, &format!("e{i}")).await {
                    Ok(id) => {
                        ids[i].store(id, Ordering::Release);
                        mut_lat.lock().expect("lock").push(t.elapsed());
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("sendMessage failed: {e:#}");
                        }
                    }
                }
                drop(permit);
            });
            seq += 1;
        }
    }
    let _all = permits.acquire_many(IN_FLIGHT as u32).await?;
    let send_elapsed = start.elapsed();
    let wait_until = Instant::now() + Duration::from_secs(30);
    while order.lock().expect("lock").len() < seq
        && !reader.is_finished()
        && Instant::now() < wait_until
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    reader.abort();
    tx.close().await;

    let mut failures: Vec<String> = problems.lock().expect("lock").drain(..).collect();
    let errs = errors.load(Ordering::Relaxed);
    if errs > 0 {
        failures.push(format!("{transport}: {errs} sendMessage call(s) failed"));
    }
    if seq < total {
        failures.push(format!(
            "{transport}: only {seq} of {total} messages sent before the time bound"
        ));
    }
    let mut expected: Vec<i64> = ids[..seq]
        .iter()
        .map(|a| a.load(Ordering::Acquire))
        .filter(|&id| id > 0)
        .collect();
    expected.sort_unstable();
    let got = order.lock().expect("lock").clone();
    failures.extend(check_deliveries(transport, &got, &expected));
    let mut lat: Vec<Duration> = (0..seq)
        .filter_map(|i| {
            let (s, r) = (
                send_at[i].load(Ordering::Acquire),
                recv_at[i].load(Ordering::Acquire),
            );
            (s > 0 && r >= s).then(|| Duration::from_nanos(r - s))
        })
        .collect();
    let l = Latency::of(&mut lat);
    let m = Latency::of(&mut mut_lat.lock().expect("lock"));
    let sent_rate = seq as f64 / send_elapsed.as_secs_f64();
    println!(
        "{:<12} {:>9} {:>9.0} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>12.2}",
        transport, rate, sent_rate, seq, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms, m.p99_ms
    );
    out.failures.extend(failures);
    Ok(json!({
        "transport": transport,
        "target_rate": rate,
        "sent_rate": sent_rate,
        "messages": seq,
        "latency": l,
        "mutation_latency": m,
    }))
}

/// A Centrifugo server started from `CENTRIFUGO_BIN` with the repository's configuration.
pub struct CentrifugoChild {
    child: Child,
    port: u16,
}

const CF_SECRET: &str = "bench-hmac-secret-0123456789abcdef";
const CF_KEY: &str = "bench-api-key";
impl CentrifugoChild {
    /// Starts `bin` on a free loopback port and waits for `/health`.
    pub async fn start(bin: &str) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut cmd = Command::new(bin);
        // The repository's centrifugo.json (the namespaces users run), with address, port and
        // secrets overridden below; nothing CENTRIFUGO_* from the caller's environment.
        cmd.arg("-c")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../centrifugo.json"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CENTRIFUGO_") {
                cmd.env_remove(key);
            }
        }
        let child = cmd
            .env("CENTRIFUGO_HTTP_SERVER_ADDRESS", "127.0.0.1")
            .env("CENTRIFUGO_HTTP_SERVER_PORT", port.to_string())
            .env("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY", CF_SECRET)
            .env("CENTRIFUGO_HTTP_API_KEY", CF_KEY)
            .env("CENTRIFUGO_HEALTH_ENABLED", "true")
            .env("CENTRIFUGO_USAGE_STATS_DISABLED", "true")
            .env("CENTRIFUGO_LOG_LEVEL", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawn {bin}"))?;
        let me = Self { child, port };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = http
                .get(format!("http://127.0.0.1:{port}/health"))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(me);
            }
            if Instant::now() > deadline {
                bail!("Centrifugo did not become healthy on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server configuration that points at it.
    pub fn config(&self) -> CentrifugoConfig {
        CentrifugoConfig {
            url: format!("http://127.0.0.1:{}", self.port),
            api_key: CF_KEY.to_owned().into(),
            token_secret: CF_SECRET.to_owned().into(),
            ws_url: format!("ws://127.0.0.1:{}/connection/websocket", self.port),
        }
    }
}

impl Drop for CentrifugoChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
