//! The application: shared state, router, background tasks and graceful shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use std::str::FromStr;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    Json, Router,
    extract::{
        DefaultBodyLimit, State, WebSocketUpgrade, ws::rejection::WebSocketUpgradeRejection,
    },
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
    serve::ListenerExt,
};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tower_http::{
    limit::RequestBodyLimitLayer,
    services::{ServeDir, ServeFile},
    trace::TraceLayer,
};

use crate::{
    auth::Auth,
    config::Config,
    db::Db,
    graphql::{self, Caller, ChatSchema},
    realtime::{Realtime, relay},
    ws,
};

/// Largest request body accepted (a message is at most 16 KB of UTF-8).
const BODY_LIMIT: usize = 256 * 1024;

/// What every request handler shares.
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Tokens and sign-in throttling.
    pub auth: Auth,
    /// Event delivery.
    pub realtime: Realtime,
    /// The configuration in force.
    pub config: Config,
}

/// A built application, bound to its port but not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    relay: Option<JoinHandle<()>>,
}

/// Connects the database, applies migrations, binds the listener and starts the relay.
pub async fn build(config: Config) -> anyhow::Result<App> {
    crate::metrics::handle();
    let db = Db::connect(&config.database_url).await?;
    migrate(&db).await?;
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let realtime = Realtime::new(db.clone(), config.centrifugo.clone())?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let relay = config
        .run_relay
        .then(|| tokio::spawn(relay::run(db.clone(), realtime.sink(), shutdown_rx)));
    let state = Arc::new(AppState {
        auth: Auth::new(config.jwt_key(), config.access_ttl, config.refresh_ttl),
        db,
        realtime,
        config,
    });
    let router = router(state.clone());
    Ok(App {
        listener,
        router,
        state,
        shutdown,
        relay,
    })
}

/// Applies pending migrations.
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    use migration::MigratorTrait;
    migration::Migrator::up(&db.conn, None)
        .await
        .context("database migration failed")
}

impl App {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// The shared state.
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `signal` resolves; in-flight requests finish, then the relay drains.
    pub async fn serve(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            shutdown,
            relay,
            ..
        } = self;
        let closing = shutdown.subscribe();
        // Events are small frames written as they happen: Nagle's algorithm would hold each
        // one back until the client acknowledged the previous (tens of milliseconds with
        // delayed ACKs).
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "cannot set TCP_NODELAY");
            }
        });
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                signal.await;
                tracing::info!("shutting down: finishing in-flight requests");
                let _ = shutdown.send(true);
            })
            .await
            .context("server error")?;
        drop(closing);
        if let Some(relay) = relay
            && tokio::time::timeout(Duration::from_secs(10), relay)
                .await
                .is_err()
        {
            tracing::warn!("outbox relay did not stop within 10 s");
        }
        Ok(())
    }
}

fn router(state: Arc<AppState>) -> Router {
    let schema = graphql::build(Some(state.clone()));
    let web_dir = state.config.web_dir.clone();
    let spa = ServeDir::new(&web_dir).fallback(ServeFile::new(web_dir.join("index.html")));
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphiql", get(graphiql))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .fallback_service(spa)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state((state, schema))
}

type Shared = (Arc<AppState>, ChatSchema);

/// The caller named by an `Authorization: Bearer …` value.
pub fn caller_from(state: &AppState, authorization: Option<&str>) -> Caller {
    let Some(value) = authorization.map(str::trim).filter(|v| !v.is_empty()) else {
        return Caller::Anonymous;
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value)
        .trim();
    match state.auth.access.verify(token) {
        Some(viewer) => Caller::User(viewer),
        None => Caller::BadToken,
    }
}

async fn graphql_post(
    State((state, schema)): State<Shared>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = caller_from(&state, auth);
    let mut request = request.into_inner();
    graphql::insert_request_data(&mut request.data, &state, caller);
    schema.execute(request).await.into()
}

async fn graphql_get(
    State((state, schema)): State<Shared>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|list| {
            list.split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        });
    match (upgrade, protocol) {
        (Ok(upgrade), Some(protocol)) => upgrade
            .protocols(ALL_WEBSOCKET_PROTOCOLS)
            // Small buffers: an idle subscription should cost kilobytes, not the 2 × 128 KiB
            // of the defaults. Client messages are small GraphQL documents.
            .read_buffer_size(4 * 1024)
            .write_buffer_size(4 * 1024)
            .max_message_size(BODY_LIMIT)
            .max_frame_size(BODY_LIMIT)
            .on_upgrade(move |socket| ws::serve(socket, protocol, schema, state))
            .into_response(),
        _ => (
            StatusCode::BAD_REQUEST,
            "GET /graphql expects a WebSocket upgrade (graphql-transport-ws or graphql-ws); send queries with POST",
        )
            .into_response(),
    }
}

async fn graphiql(State((state, _)): State<Shared>) -> Response {
    let page = state.config.web_dir.join("graphiql.html");
    match tokio::fs::read_to_string(&page).await {
        Ok(html) => Html(html).into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            Html(format!(
                "<p>GraphiQL is not built. Run <code>npm --prefix web ci && npm --prefix web run build</code> (looked in {}).</p>",
                state.config.web_dir.display()
            )),
        )
            .into_response(),
    }
}

async fn metrics_text(State((state, _)): State<Shared>) -> Response {
    // The outbox gauges are read at scrape time: exact, and free between scrapes.
    match relay::backlog(&state.db).await {
        Ok((rows, oldest)) => {
            metrics::gauge!(crate::metrics::OUTBOX_BACKLOG).set(rows as f64);
            metrics::gauge!(crate::metrics::OUTBOX_OLDEST_SECONDS).set(oldest.as_secs_f64());
        }
        Err(err) => tracing::warn!(error = ?err, "outbox backlog unavailable for metrics"),
    }
    match crate::metrics::handle() {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}

async fn readyz(State((state, _)): State<Shared>) -> Response {
    let (db, centrifugo) = tokio::join!(
        state.db.ping(Duration::from_secs(2)),
        tokio::time::timeout(Duration::from_secs(2), state.realtime.check())
    );
    let mut body = serde_json::json!({"status": "ready", "database": "ok"});
    let mut ready = true;
    if let Err(err) = db {
        tracing::warn!(error = ?err, "readiness: database unreachable");
        body["database"] = "unreachable".into();
        ready = false;
    }
    match centrifugo {
        Ok(None) => {}
        Ok(Some(Ok(()))) => body["centrifugo"] = "ok".into(),
        Ok(Some(Err(err))) => {
            tracing::warn!(error = %err, "readiness: Centrifugo unreachable");
            body["centrifugo"] = "unreachable".into();
            ready = false;
        }
        Err(_) => {
            body["centrifugo"] = "timeout".into();
            ready = false;
        }
    }
    if ready {
        Json(body).into_response()
    } else {
        body["status"] = "unavailable".into();
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}
