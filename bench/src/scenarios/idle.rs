//! `idle`: many idle authenticated subscriptions (one WebSocket each); the server's resident
//! memory per subscription. The server runs as a child process (`target/release/chatgql`)
//! so its RSS excludes the clients; without that binary it runs in-process and the figure
//! includes the client side (stated in the output).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{StreamExt, stream};
use serde_json::json;

use crate::{
    Ctx, Outcome,
    target::{Api, JWT_SECRET, PASSWORD, Server, User, sibling_server_bin},
    ws,
};

/// VmRSS of `pid` (or this process) in KiB.
fn rss_kib(pid: Option<u32>) -> u64 {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".into(),
    };
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Creates `n` users directly in the database at `url` and signs tokens for them with the
/// bench's JWT secret (the one the child server is given).
async fn preregister(url: &str, n: usize) -> anyhow::Result<Vec<User>> {
    let db = chatgql::db::Db::connect(url).await?;
    chatgql::app::migrate(&db).await?;
    let auth = chatgql::auth::Auth::new(
        JWT_SECRET.as_bytes(),
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    );
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let s = chatgql::services::users::register(&db, &auth, &format!("idle{i}"), PASSWORD)
            .await
            .map_err(|e| anyhow::anyhow!("register: {e:?}"))?;
        users.push(User {
            token: s.access_token,
        });
    }
    db.conn.close().await.ok();
    Ok(users)
}

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let bin = ctx.args.server_bin.clone().or_else(sibling_server_bin);
    let mut users = Vec::new();
    let (server, how) = match (&ctx.args.url, bin) {
        (Some(_), _) => (ctx.server().await?, "remote server: RSS not measured"),
        (None, Some(bin)) => {
            // Users are registered here, not in the child: password hashing allocates
            // ~19 MiB per hash, which would stay resident in the child and blur its baseline.
            let url = ctx.dbs.fresh().await?;
            users = preregister(&url, 16).await?;
            (
                Server::child(&bin, url).await?,
                "server in a child process: RSS is the server's alone",
            )
        }
        (None, None) => (
            ctx.server().await?,
            "server in-process (no chatgql binary found): RSS includes the client side",
        ),
    };
    println!("note: {how}");
    let measure = ctx.args.url.is_none();
    let pid = server.pid();
    let rss = || if measure { rss_kib(pid) } else { 0 };
    let api = Api::new(&server);
    if users.is_empty() {
        users = api.users(16, 4).await?;
    }
    let room = api.room(&users[0], "idle", &users[1..]).await?;
    let n = ctx.args.idle;
    // Let the server go quiet after user and room setup before the baseline reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss();

    let url = server.ws_url();
    let opened: Vec<anyhow::Result<_>> = stream::iter(0..n)
        .map(|i| {
            let (url, token, room) = (
                url.clone(),
                users[i % users.len()].token.clone(),
                room.clone(),
            );
            async move {
                let (mut tx, rx) = ws::open(&url, &token, Duration::from_secs(30)).await?;
                tx.subscribe_room("1", &room, None).await?;
                anyhow::Ok((tx, rx))
            }
        })
        .buffer_unordered(128)
        .collect()
        .await;
    let got = Arc::new(AtomicUsize::new(0));
    let problems: Arc<Mutex<Vec<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut senders = Vec::new();
    let mut readers = Vec::new();
    let mut open_errors = 0usize;
    for o in opened {
        match o {
            Ok((tx, rx)) => {
                senders.push(tx);
                let (got, problems) = (got.clone(), problems.clone());
                readers.push(tokio::spawn(rx.run(deadline, move |d| match d {
                    ws::Delivery::Message { content, .. } => {
                        if content == "ping-all" {
                            got.fetch_add(1, Ordering::Relaxed);
                        }
                        true
                    }
                    ws::Delivery::Problem(p) => {
                        problems.lock().expect("lock").push(p);
                        false
                    }
                })));
            }
            Err(e) => {
                if open_errors == 0 {
                    eprintln!("idle: connection failed: {e:#}");
                }
                open_errors += 1;
            }
        }
    }
    // Measure once every subscription is live on the server.
    server
        .wait_subscriptions(senders.len(), Duration::from_secs(60))
        .await?;
    let idle = rss();
    // Correctness: every idle subscription is live and gets exactly one message.
    api.send(&users[0].token, &room, "ping-all").await?;
    let until = Instant::now() + Duration::from_secs(60);
    while got.load(Ordering::Relaxed) < senders.len() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered = got.load(Ordering::Relaxed);
    let after_delivery = rss();
    for r in &readers {
        r.abort();
    }
    for tx in senders.drain(..) {
        tx.close().await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let closed = rss();
    server.stop().await;

    let open = n - open_errors;
    if open_errors > 0 {
        out.failures
            .push(format!("{open_errors} of {n} connections failed to open"));
    }
    if delivered != open {
        out.failures.push(format!(
            "{delivered} of {open} idle subscriptions received the message (lost or duplicated)"
        ));
    }
    out.failures
        .extend(problems.lock().expect("lock").iter().take(5).cloned());
    let per = |x: u64| x.saturating_sub(before) as f64 / open.max(1) as f64;
    println!(
        "{:>13} {:>12} {:>12} {:>14} {:>12} {:>14} {:>16}",
        "subscriptions",
        "RSS before",
        "RSS idle",
        "RSS delivered",
        "RSS closed",
        "KiB/sub idle",
        "KiB/sub delivered"
    );
    println!(
        "{:>13} {:>9} KiB {:>8} KiB {:>10} KiB {:>8} KiB {:>14.2} {:>16.2}",
        open,
        before,
        idle,
        after_delivery,
        closed,
        per(idle),
        per(after_delivery)
    );
    out.json = json!({
        "subscriptions": open,
        "how": how,
        "rss_kib_before": before,
        "rss_kib_idle": idle,
        "rss_kib_after_delivery": after_delivery,
        "rss_kib_after_close": closed,
        "kib_per_sub_idle": per(idle),
        "kib_per_sub_after_delivery": per(after_delivery),
    });
    Ok(out)
}
