//! `send`: sendMessage throughput and latency at several client counts, all clients in one
//! room (and optionally one room per client), beside the raw database baseline.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use serde_json::json;

use super::{check_deliveries, ratio};
use crate::{
    Ctx, Outcome,
    raw::RawDb,
    stats::{Latency, ms},
    target::Api,
    ws,
};

/// Sends per client are also bounded by count.
const MAX_EACH: usize = 1_000_000;

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let server = ctx.server().await?;
    let api = Api::new(&server);
    let max_clients = ctx.args.clients.iter().copied().max().unwrap_or(1);
    let users = api.users(max_clients, 4).await.context("register users")?;
    let raw = match (&server.database_url, ctx.args.url.is_none()) {
        (Some(_), true) => {
            let url = ctx.dbs.fresh().await?;
            let db = chatgql::db::Db::connect(&url).await?;
            chatgql::app::migrate(&db).await?;
            drop(db);
            let raw = RawDb::connect(&url).await?;
            let authors = raw.users(max_clients).await?;
            Some((raw, authors))
        }
        _ => None,
    };
    let duration = Duration::from_secs(ctx.args.seconds);
    let mut modes = vec![("one room", false)];
    if ctx.args.room_per_client {
        modes.push(("room per client", true));
    }
    println!(
        "{:<16} {:>7} {:>10} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>7}",
        "mode",
        "clients",
        "msg/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "raw tx/s",
        "raw p50",
        "raw p99",
        "ratio"
    );
    let mut rows = Vec::new();
    for (mode, per_client) in modes {
        for &clients in &ctx.args.clients {
            let users = &users[..clients];
            // Rooms: client i writes into rooms[i].
            let rooms: Vec<String> = if per_client {
                let mut v = Vec::new();
                for (i, u) in users.iter().enumerate() {
                    let members = if i == 0 {
                        vec![]
                    } else {
                        vec![users[0].clone()]
                    };
                    v.push(
                        api.room(u, &format!("send-{clients}-{i}"), &members)
                            .await?,
                    );
                }
                v
            } else {
                let room = api
                    .room(&users[0], &format!("send-{clients}"), &users[1..])
                    .await?;
                vec![room; clients]
            };
            let mut distinct = rooms.clone();
            distinct.sort();
            distinct.dedup();
            // A live subscriber per room verifies delivery, order and duplicates.
            let (mut tx, rx) =
                ws::open(&server.ws_url(), &users[0].token, Duration::from_secs(10)).await?;
            for r in &distinct {
                tx.subscribe_room(r, r, Some("0")).await?;
            }
            let got: Arc<Mutex<HashMap<String, Vec<i64>>>> = Arc::default();
            let problems: Arc<Mutex<Vec<String>>> = Arc::default();
            let expected_total: Arc<std::sync::atomic::AtomicUsize> =
                Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
            let reader = {
                let got = got.clone();
                let problems = problems.clone();
                let expected_total = expected_total.clone();
                let deadline = Instant::now() + duration + Duration::from_secs(60);
                tokio::spawn(rx.run(deadline, move |d| match d {
                    ws::Delivery::Message { sub, id, .. } => {
                        let mut g = got.lock().expect("lock");
                        g.entry(sub.to_owned()).or_default().push(id);
                        let n: usize = g.values().map(Vec::len).sum();
                        n < expected_total.load(std::sync::atomic::Ordering::Relaxed)
                    }
                    ws::Delivery::Problem(p) => {
                        problems.lock().expect("lock").push(p);
                        false
                    }
                }))
            };
            // No wait for the subscriptions: `after: "0"` replays whatever they did not see live.

            let start = Instant::now();
            let deadline = start + duration;
            let mut tasks = Vec::new();
            for (i, u) in users.iter().enumerate() {
                let api = api.clone();
                let token = u.token.clone();
                let room = rooms[i].clone();
                tasks.push(tokio::spawn(async move {
                    let mut sent = Vec::new();
                    let mut n = 0usize;
                    while Instant::now() < deadline && n < MAX_EACH {
                        let t = Instant::now();
                        let id = api.send(&token, &room, &format!("s{i}-{n}")).await?;
                        sent.push((id, t.elapsed()));
                        n += 1;
                    }
                    anyhow::Ok((room, sent))
                }));
            }
            let mut lat = Vec::new();
            let mut per_room: HashMap<String, Vec<i64>> = HashMap::new();
            let mut failures = Vec::new();
            for (i, t) in tasks.into_iter().enumerate() {
                let (room, sent) = t.await??;
                if sent.windows(2).any(|w| w[1].0 <= w[0].0) {
                    failures.push(format!(
                        "client {i}: ids of its own sequential sends are not increasing"
                    ));
                }
                for (id, l) in sent {
                    lat.push(l);
                    per_room.entry(room.clone()).or_default().push(id);
                }
            }
            let elapsed = start.elapsed();
            let count = lat.len();
            expected_total.store(count, std::sync::atomic::Ordering::Relaxed);
            // Wait for the subscriber to see everything (bounded).
            let wait_until = Instant::now() + Duration::from_secs(30);
            loop {
                let n: usize = got.lock().expect("lock").values().map(Vec::len).sum();
                if n >= count || reader.is_finished() || Instant::now() > wait_until {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            reader.abort();
            tx.close().await;
            failures.extend(problems.lock().expect("lock").drain(..));
            {
                let got = got.lock().expect("lock");
                for (room, ids) in &per_room {
                    let mut expected = ids.clone();
                    expected.sort_unstable();
                    let empty = Vec::new();
                    let seen = got.get(room).unwrap_or(&empty);
                    failures.extend(check_deliveries(
                        &format!("{mode}, {clients} clients, room {room}"),
                        seen,
                        &expected,
                    ));
                }
            }
            let rate = count as f64 / elapsed.as_secs_f64();
            let l = Latency::of(&mut lat);

            // The raw baseline with the same shape.
            let raw_fig = match &raw {
                Some((raw, authors)) => {
                    let authors = &authors[..clients];
                    let raw_rooms: Vec<i64> = if per_client {
                        let mut v = Vec::new();
                        for (i, a) in authors.iter().enumerate() {
                            v.push(raw.room(&format!("raw-{clients}-{i}"), *a).await?);
                        }
                        v
                    } else {
                        let r = raw.room(&format!("raw-{clients}"), authors[0]).await?;
                        vec![r; clients]
                    };
                    let mut run = raw.run(&raw_rooms, authors, duration, MAX_EACH).await?;
                    Some((
                        run.count as f64 / run.elapsed.as_secs_f64(),
                        Latency::of(&mut run.latencies),
                    ))
                }
                None => None,
            };
            let (raw_rate, raw_l) = raw_fig.unwrap_or_default();
            let r = ratio(rate, raw_rate);
            println!(
                "{:<16} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>10.0} {:>8.2} {:>8.2} {:>6.0}%",
                mode,
                clients,
                rate,
                l.p50_ms,
                l.p95_ms,
                l.p99_ms,
                raw_rate,
                raw_l.p50_ms,
                raw_l.p99_ms,
                r * 100.0
            );
            for f in &failures {
                out.failures.push(f.clone());
            }
            rows.push(json!({
                "mode": mode,
                "clients": clients,
                "messages": count,
                "seconds": ms(elapsed) / 1000.0,
                "msgs_per_s": rate,
                "latency": l,
                "raw_tx_per_s": raw_rate,
                "raw_latency": raw_l,
                "ratio": r,
            }));
        }
    }
    if let Some((raw, _)) = raw {
        raw.close().await;
    }
    server.stop().await;
    out.json = json!({"rows": rows});
    Ok(out)
}
