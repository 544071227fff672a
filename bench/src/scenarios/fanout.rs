//! `fanout`: one room with many subscribers (several subscriptions per WebSocket): how many
//! deliveries per second the server sustains, and how long until the last subscriber has
//! each message.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::bail;
use futures_util::{StreamExt, stream};
use serde_json::json;

use super::check_deliveries;
use crate::{Ctx, Outcome, stats::Latency, target::Api, ws};

type Received = Arc<Mutex<HashMap<String, Vec<i64>>>>;

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let server = ctx.server().await?;
    let api = Api::new(&server);
    let per_conn = ctx.args.subs_per_conn.max(1);
    let max_conns = ctx
        .args
        .fanout
        .iter()
        .map(|s| s.div_ceil(per_conn))
        .max()
        .unwrap_or(1);
    let users = api.users(max_conns.min(32), 4).await?;
    println!(
        "{:>11} {:>6} {:>9} {:>12} {:>14} {:>10} {:>10} {:>10}",
        "subscribers",
        "conns",
        "messages",
        "deliveries",
        "deliveries/s",
        "last p50",
        "last p99",
        "last max"
    );
    let mut rows = Vec::new();
    for &subs in &ctx.args.fanout {
        let conns = subs.div_ceil(per_conn);
        let messages = if ctx.args.small {
            10
        } else {
            (500_000 / subs.max(1)).clamp(10, 200)
        };
        let room = api
            .room(&users[0], &format!("fanout-{subs}"), &users[1..])
            .await?;
        let base = Instant::now();
        let nanos = move |t: Instant| t.duration_since(base).as_nanos() as u64 + 1;
        let last_at: Arc<Vec<AtomicU64>> =
            Arc::new((0..messages).map(|_| AtomicU64::new(0)).collect());
        let delivered = Arc::new(AtomicUsize::new(0));
        let warm = Arc::new(AtomicUsize::new(0));
        let problems: Arc<Mutex<Vec<String>>> = Arc::default();
        let deadline = Instant::now() + Duration::from_secs(300);

        // Open the connections, `per_conn` subscriptions each.
        let url = server.ws_url();
        let opened: Vec<anyhow::Result<_>> = stream::iter(0..conns)
            .map(|c| {
                let (url, token, room) = (
                    url.clone(),
                    users[c % users.len()].token.clone(),
                    room.clone(),
                );
                let n = per_conn.min(subs - c * per_conn);
                async move {
                    let (mut tx, rx) = ws::open(&url, &token, Duration::from_secs(30)).await?;
                    for s in 0..n {
                        tx.subscribe_room(&s.to_string(), &room, Some("0")).await?;
                    }
                    anyhow::Ok((tx, rx))
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        let mut senders = Vec::new();
        let mut received: Vec<Received> = Vec::new();
        let mut readers = Vec::new();
        for o in opened {
            let (tx, rx) = o?;
            senders.push(tx);
            let got: Received = Arc::default();
            received.push(got.clone());
            let (last_at, delivered, warm, problems) = (
                last_at.clone(),
                delivered.clone(),
                warm.clone(),
                problems.clone(),
            );
            readers.push(tokio::spawn(rx.run(deadline, move |d| match d {
                ws::Delivery::Message {
                    sub,
                    id,
                    content,
                    at,
                } => {
                    if content == "warm" {
                        warm.fetch_add(1, Ordering::Relaxed);
                        return true;
                    }
                    if let Some(seq) = content
                        .strip_prefix('f')
                        .and_then(|s| s.parse::<usize>().ok())
                        && seq < last_at.len()
                    {
                        last_at[seq].fetch_max(nanos(at), Ordering::Relaxed);
                    }
                    got.lock()
                        .expect("lock")
                        .entry(sub.to_owned())
                        .or_default()
                        .push(id);
                    delivered.fetch_add(1, Ordering::Relaxed);
                    true
                }
                ws::Delivery::Problem(p) => {
                    problems.lock().expect("lock").push(p);
                    false
                }
            })));
        }
        // Warm-up: every subscription has seen one message live before timing starts.
        api.send(&users[0].token, &room, "warm").await?;
        let until = Instant::now() + Duration::from_secs(120);
        while warm.load(Ordering::Relaxed) < subs {
            if Instant::now() > until {
                bail!(
                    "{subs} subscribers: only {} saw the warm-up message",
                    warm.load(Ordering::Relaxed)
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // One sender, back to back.
        let mut sent_at = Vec::with_capacity(messages);
        let mut ids = Vec::with_capacity(messages);
        let start = Instant::now();
        for i in 0..messages {
            let t = Instant::now();
            ids.push(
                api.send(&users[i % users.len()].token, &room, &format!("f{i}"))
                    .await?,
            );
            sent_at.push(nanos(t));
        }
        let total = subs * messages;
        let until = Instant::now() + Duration::from_secs(120);
        while delivered.load(Ordering::Relaxed) < total && Instant::now() < until {
            if !problems.lock().expect("lock").is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let got_total = delivered.load(Ordering::Relaxed);
        let last = last_at
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        let span = Duration::from_nanos(last.saturating_sub(nanos(start)));
        let rate = got_total as f64 / span.as_secs_f64().max(1e-9);
        let mut lat: Vec<Duration> = last_at
            .iter()
            .zip(&sent_at)
            .filter_map(|(r, &s)| {
                let r = r.load(Ordering::Relaxed);
                (r >= s).then(|| Duration::from_nanos(r - s))
            })
            .collect();
        let l = Latency::of(&mut lat);
        for r in &readers {
            r.abort();
        }
        for tx in senders {
            tx.close().await;
        }

        let mut failures: Vec<String> = problems
            .lock()
            .expect("lock")
            .iter()
            .take(5)
            .cloned()
            .collect();
        let mut expected = ids.clone();
        expected.sort_unstable();
        let mut bad_subs = 0usize;
        let mut seen_subs = 0usize;
        for (c, got) in received.iter().enumerate() {
            let got = got.lock().expect("lock");
            seen_subs += got.len();
            for (sub, list) in got.iter() {
                let p = check_deliveries(
                    &format!("{subs} subscribers, conn {c} sub {sub}"),
                    list,
                    &expected,
                );
                if !p.is_empty() {
                    bad_subs += 1;
                    if failures.len() < 10 {
                        failures.extend(p);
                    }
                }
            }
        }
        if seen_subs < subs {
            failures.push(format!(
                "{subs} subscribers: {} subscription(s) received nothing",
                subs - seen_subs
            ));
        }
        if bad_subs > 0 {
            failures.push(format!("{subs} subscribers: {bad_subs} subscription(s) with lost, duplicated or reordered messages"));
        }
        if got_total != total {
            failures.push(format!(
                "{subs} subscribers: {got_total} of {total} deliveries"
            ));
        }
        println!(
            "{:>11} {:>6} {:>9} {:>12} {:>14.0} {:>10.1} {:>10.1} {:>10.1}",
            subs, conns, messages, got_total, rate, l.p50_ms, l.p99_ms, l.max_ms
        );
        out.failures.extend(failures);
        rows.push(json!({
            "subscribers": subs,
            "connections": conns,
            "messages": messages,
            "deliveries": got_total,
            "seconds": span.as_secs_f64(),
            "deliveries_per_s": rate,
            "last_delivery_latency": l,
        }));
    }
    server.stop().await;
    out.json = json!({"rows": rows, "subs_per_conn": per_conn});
    Ok(out)
}
