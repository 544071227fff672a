//! `query`: `{ me { id username } }` throughput over N keep-alive connections, beside a bare
//! axum handler on another port that returns the same bytes (the HTTP ceiling here).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use serde_json::json;

use super::ratio;
use crate::{
    Ctx, Outcome,
    stats::Latency,
    target::{Api, User},
};

const QUERY: &str = r#"{"query":"{ me { id username } }"}"#;

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let server = ctx.server().await?;
    let api = Api::new(&server);
    let user = api.users(1, 1).await?.remove(0);
    let expected = fetch(&api.http, &api.url, &user).await?;
    if !expected.contains("\"username\"") {
        bail!("unexpected me response: {expected}");
    }
    // The bare handler: same route, same bytes, nothing else.
    let body = Arc::new(expected.clone());
    let bare = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    (*body).clone(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_url = format!("http://{}/graphql", listener.local_addr()?);
    // TCP_NODELAY like the server's listener, so both sides differ only in the handler.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let bare_task = tokio::spawn(async move { axum::serve(listener, bare).await });

    let conns = ctx.args.query_conns.max(1);
    let duration = Duration::from_secs(ctx.args.seconds);
    println!(
        "{:<10} {:>6} {:>10} {:>8} {:>8} {:>8}",
        "target", "conns", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let mut rows = Vec::new();
    let mut rates = Vec::new();
    for (name, url) in [("chatgql", api.url.clone()), ("bare axum", bare_url)] {
        let (count, elapsed, mut lat, errors) =
            hammer(&url, &user, &expected, conns, duration).await?;
        let rate = count as f64 / elapsed.as_secs_f64();
        let l = Latency::of(&mut lat);
        println!(
            "{:<10} {:>6} {:>10.0} {:>8.2} {:>8.2} {:>8}",
            name, conns, rate, l.p50_ms, l.p99_ms, errors
        );
        if errors > 0 {
            out.failures
                .push(format!("{name}: {errors} wrong or failed responses"));
        }
        rates.push(rate);
        rows.push(json!({"target": name, "connections": conns, "requests": count, "req_per_s": rate, "latency": l, "errors": errors}));
    }
    let r = ratio(rates[0], rates[1]);
    println!("chatgql / bare axum: {:.0}%", r * 100.0);
    bare_task.abort();
    server.stop().await;
    out.json = json!({"rows": rows, "ratio": r});
    Ok(out)
}

async fn fetch(http: &reqwest::Client, url: &str, user: &User) -> anyhow::Result<String> {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .bearer_auth(&user.token)
        .body(QUERY)
        .send()
        .await
        .context("POST")?;
    Ok(r.text().await?)
}

async fn hammer(
    url: &str,
    user: &User,
    expected: &str,
    conns: usize,
    duration: Duration,
) -> anyhow::Result<(usize, Duration, Vec<Duration>, usize)> {
    // One client per task: each holds exactly one keep-alive connection.
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .http1_only()
            .timeout(Duration::from_secs(10))
            .build()?;
        let (url, user, expected) = (url.to_owned(), user.clone(), expected.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline && lat.len() < 10_000_000 {
                let t = Instant::now();
                match fetch(&http, &url, &user).await {
                    Ok(body) if body == expected => lat.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    Ok((all.len(), start.elapsed(), all, errors))
}
