//! A server-side real-time Centrifugo client over one WebSocket, speaking the JSON protocol.
//!
//! [`Client::start`] spawns a background task that connects, subscribes, answers pings,
//! refreshes tokens, and after any disconnect reconnects (capped exponential backoff with
//! jitter) and resubscribes every channel with history recovery. What happens is reported as
//! [`ClientEvent`]s on a bounded channel; a consumer that stops reading holds the task back
//! (Centrifugo then drops the slow connection and the client recovers what it missed on
//! reconnect), so memory stays bounded and nothing is skipped silently.

mod protocol;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use protocol::{ProtoError, Reply, SubscribeResult};

/// Returns a fresh connection token; called before every (re)connect and token refresh.
pub type ConnectionTokenFn = Arc<dyn Fn() -> String + Send + Sync>;

/// Returns a subscription token for a channel; called before every (re)subscribe and
/// subscription refresh. An empty string subscribes without a token.
pub type SubscriptionTokenFn = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Disconnect code reported when the transport failed without a close code.
pub const CODE_TRANSPORT_CLOSED: u32 = 1;
/// Disconnect code reported when the server stopped pinging.
pub const CODE_NO_PING: u32 = 2;

/// Settings of a [`Client`].
#[derive(Clone)]
pub struct ClientConfig {
    /// WebSocket endpoint, e.g. `ws://127.0.0.1:8000/connection/websocket`.
    pub url: String,
    /// Source of connection tokens.
    pub connection_token: ConnectionTokenFn,
    /// Source of subscription tokens.
    pub subscription_token: SubscriptionTokenFn,
    /// Client name sent in the connect command (shows up in Centrifugo's logs and metrics).
    pub name: String,
    /// Capacity of the event channel returned by [`Client::start`].
    pub event_buffer: usize,
    /// First reconnect delay; doubled on every failed attempt, with jitter.
    pub min_reconnect_delay: Duration,
    /// Longest reconnect delay.
    pub max_reconnect_delay: Duration,
    /// Bound on the WebSocket handshake plus the connect reply.
    pub connect_timeout: Duration,
}

impl ClientConfig {
    /// A configuration with defaults: name `chatgql`, 1024 buffered events, reconnect delays
    /// from 500 ms to 20 s, a 10 s connect timeout.
    pub fn new(
        url: impl Into<String>,
        connection_token: ConnectionTokenFn,
        subscription_token: SubscriptionTokenFn,
    ) -> Self {
        Self {
            url: url.into(),
            connection_token,
            subscription_token,
            name: "chatgql".to_owned(),
            event_buffer: 1024,
            min_reconnect_delay: Duration::from_millis(500),
            max_reconnect_delay: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &self.url)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What the client reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// Connected (again); subscriptions are being restored.
    Connected,
    /// The connection ended. With `reconnect` the client is reconnecting; without it the
    /// server told it not to (codes 3500–3999, 4500–4999, or a refused connect) and the client
    /// has stopped. `code` is Centrifugo's, or [`CODE_TRANSPORT_CLOSED`] / [`CODE_NO_PING`].
    Disconnected {
        /// Disconnect code.
        code: u32,
        /// Disconnect reason.
        reason: String,
        /// Whether the client will reconnect by itself.
        reconnect: bool,
    },
    /// A subscription is active. After a resubscribe, `was_recovering && !recovered` means
    /// publications may have been missed: refetch the channel's state from its source.
    Subscribed {
        /// The channel.
        channel: String,
        /// Every missed publication was recovered (and follows as `Publication` events).
        recovered: bool,
        /// This subscribe tried to recover from a known position.
        was_recovering: bool,
    },
    /// A publication, emitted once per offset and in offset order; recovered ones come first.
    Publication {
        /// The channel.
        channel: String,
        /// The published JSON.
        data: Value,
        /// Offset in the channel stream; 0 for publications kept out of history.
        offset: u64,
    },
    /// The server ended a subscription, or refused to restore it after a reconnect (e.g. 103
    /// permission denied). The client no longer tracks the channel. Not emitted for
    /// [`Client::unsubscribe`].
    Unsubscribed {
        /// The channel.
        channel: String,
        /// Unsubscribe or error code.
        code: u32,
        /// Reason or error message.
        reason: String,
    },
}

/// Why a [`Client`] call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Centrifugo refused the subscription (103 permission denied, 102 unknown channel, …).
    #[error("subscription refused: {code} {message}")]
    Refused {
        /// Centrifugo error code.
        code: u32,
        /// Centrifugo error message.
        message: String,
    },
    /// The channel was unsubscribed before its subscription completed.
    #[error("unsubscribed before the subscription completed")]
    Cancelled,
    /// The client is no longer running (shut down or permanently disconnected).
    #[error("centrifugo client is not running")]
    Closed,
}

enum Request {
    Subscribe(String, oneshot::Sender<Result<(), Error>>),
    Unsubscribe(String, oneshot::Sender<()>),
}

/// Handle to the background client task. Clones share the task; it stops on
/// [`Client::shutdown`], on a permanent disconnect, or when every handle is dropped.
#[derive(Clone, Debug)]
pub struct Client {
    requests: mpsc::UnboundedSender<Request>,
    shutdown: Arc<watch::Sender<bool>>,
}

impl Client {
    /// Spawns the client task on the current tokio runtime and returns its handle and events.
    pub fn start(config: ClientConfig) -> (Client, mpsc::Receiver<ClientEvent>) {
        let (events_tx, events_rx) = mpsc::channel(config.event_buffer.max(1));
        let (requests_tx, requests_rx) = mpsc::unbounded_channel();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let worker = Worker {
            config,
            events: events_tx,
            requests: requests_rx,
            shutdown: shutdown_rx,
            channels: HashMap::new(),
            pending: HashMap::new(),
            next_id: 0,
            connected: false,
        };
        tokio::spawn(worker.run());
        let client = Client {
            requests: requests_tx,
            shutdown: Arc::new(shutdown_tx),
        };
        (client, events_rx)
    }

    /// Subscribes to `channel` (kept across reconnects) and resolves when Centrifugo accepted
    /// it; while disconnected it waits for the connection. Subscribing twice is a no-op.
    pub async fn subscribe(&self, channel: &str) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Subscribe(channel.to_owned(), tx))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Unsubscribes from `channel`; no event for it is emitted after this resolves.
    pub async fn unsubscribe(&self, channel: &str) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Unsubscribe(channel.to_owned(), tx))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Stops the client: closes the connection and ends the event stream.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a session (one connection) ended.
enum Exit {
    Shutdown,
    Reconnect { code: u32, reason: String },
    Stop { code: u32, reason: String },
}

impl Exit {
    fn from_close(code: u32, reason: String) -> Self {
        if protocol::should_reconnect(code) {
            Exit::Reconnect { code, reason }
        } else {
            Exit::Stop { code, reason }
        }
    }

    fn transport(reason: impl std::fmt::Display) -> Self {
        Exit::Reconnect {
            code: CODE_TRANSPORT_CLOSED,
            reason: reason.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubState {
    /// Not subscribed on the current connection (or no connection).
    Idle,
    /// A subscribe command with this id awaits its reply.
    Subscribing(u32),
    Subscribed,
}

struct Channel {
    state: SubState,
    /// Last offset emitted (or the stream top at subscribe time) and its epoch.
    offset: u64,
    epoch: String,
    /// The server keeps a stream for this channel, so resubscribes ask for recovery.
    recoverable: bool,
    /// When `Idle` on a live connection: when to retry the subscribe.
    retry_at: Option<Instant>,
    retries: u32,
    /// When `Subscribed` with an expiring token: when to refresh it.
    refresh_at: Option<Instant>,
    waiters: Vec<oneshot::Sender<Result<(), Error>>>,
}

impl Channel {
    fn new() -> Self {
        Self {
            state: SubState::Idle,
            offset: 0,
            epoch: String::new(),
            recoverable: false,
            retry_at: None,
            retries: 0,
            refresh_at: None,
            waiters: Vec::new(),
        }
    }
}

/// What a command id awaits.
enum Pending {
    Connect,
    Subscribe(String),
    Refresh,
    SubRefresh(String),
}

/// State of the current connection.
struct Session {
    pong: bool,
    /// Reconnect when nothing arrives by then (server pings plus a margin).
    read_deadline: Option<Instant>,
    ping_window: Option<Duration>,
    refresh_at: Option<Instant>,
}

impl Session {
    fn touch(&mut self) {
        if let Some(window) = self.ping_window {
            self.read_deadline = Some(Instant::now() + window);
        }
    }
}

struct Worker {
    config: ClientConfig,
    events: mpsc::Sender<ClientEvent>,
    requests: mpsc::UnboundedReceiver<Request>,
    shutdown: watch::Receiver<bool>,
    channels: HashMap<String, Channel>,
    pending: HashMap<u32, Pending>,
    next_id: u32,
    connected: bool,
}

/// Margin on top of the server's ping interval before the connection counts as dead.
const PING_MARGIN: Duration = Duration::from_secs(10);
/// How often timers (read deadline, retries, token refreshes) are checked.
const TICK: Duration = Duration::from_millis(250);

impl Worker {
    async fn run(mut self) {
        let mut attempt: u32 = 0;
        loop {
            let exit = self.session(&mut attempt).await;
            let was_connected = std::mem::take(&mut self.connected);
            self.pending.clear();
            for channel in self.channels.values_mut() {
                channel.state = SubState::Idle;
                channel.retry_at = None;
                channel.refresh_at = None;
            }
            match exit {
                Exit::Shutdown => break,
                Exit::Stop { code, reason } => {
                    tracing::warn!(code, %reason, "centrifugo refused the connection for good");
                    self.emit(ClientEvent::Disconnected {
                        code,
                        reason,
                        reconnect: false,
                    })
                    .await;
                    break;
                }
                Exit::Reconnect { code, reason } => {
                    tracing::info!(code, %reason, "centrifugo connection lost, reconnecting");
                    if was_connected {
                        self.emit(ClientEvent::Disconnected {
                            code,
                            reason,
                            reconnect: true,
                        })
                        .await;
                    }
                    let delay = self.backoff(attempt);
                    attempt = attempt.saturating_add(1);
                    if !self.wait_disconnected(delay).await {
                        break;
                    }
                }
            }
        }
        // Dropping the channels drops their waiters, which then see `Error::Closed`.
        self.channels.clear();
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let min = self.config.min_reconnect_delay;
        let max = self.config.max_reconnect_delay.max(min);
        let full = min.saturating_mul(1u32 << attempt.min(16)).min(max);
        // Equal jitter: somewhere between half and all of the exponential delay.
        let half = full / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }

    /// Serves requests while no connection exists; false means stop the client.
    async fn wait_disconnected(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return true,
                _ = stopped(&mut self.shutdown) => return false,
                request = self.requests.recv() => match request {
                    None => return false,
                    Some(Request::Subscribe(name, reply)) => {
                        self.channels.entry(name).or_insert_with(Channel::new).waiters.push(reply);
                    }
                    Some(Request::Unsubscribe(name, reply)) => {
                        self.remove_channel(&name);
                        let _ = reply.send(());
                    }
                },
            }
        }
    }

    async fn emit(&mut self, event: ClientEvent) {
        // A consumer that stopped listening does not stop the client, and one that stopped
        // reading can still shut it down.
        tokio::select! {
            _ = self.events.send(event) => {}
            _ = stopped(&mut self.shutdown) => {}
        }
    }

    fn next_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    /// One connection from handshake to disconnect.
    async fn session(&mut self, attempt: &mut u32) -> Exit {
        let connect_timeout = self.config.connect_timeout;
        let handshake = tokio::time::timeout(
            connect_timeout,
            tokio_tungstenite::connect_async(self.config.url.as_str()),
        );
        let mut ws = tokio::select! {
            result = handshake => match result {
                Ok(Ok((ws, _))) => ws,
                Ok(Err(e)) => return Exit::transport(format!("websocket connect failed: {e}")),
                Err(_) => return Exit::transport("websocket connect timed out"),
            },
            _ = stopped(&mut self.shutdown) => return Exit::Shutdown,
        };

        let id = self.next_id();
        let token = (self.config.connection_token)();
        let command = json!({"id": id, "connect": {"token": token, "name": self.config.name}});
        if let Err(exit) = send(&mut ws, &command).await {
            return exit;
        }
        self.pending.insert(id, Pending::Connect);

        let mut session = Session {
            pong: false,
            read_deadline: Some(Instant::now() + connect_timeout),
            ping_window: None,
            refresh_at: None,
        };
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);

        let exit = loop {
            let step = tokio::select! {
                frame = ws.next() => self.on_frame(&mut ws, &mut session, attempt, frame).await,
                request = self.requests.recv() => match request {
                    None => Err(Exit::Shutdown),
                    Some(request) => self.on_request(&mut ws, request).await,
                },
                _ = stopped(&mut self.shutdown) => Err(Exit::Shutdown),
                _ = ticker.tick() => self.on_tick(&mut ws, &mut session).await,
            };
            if let Err(exit) = step {
                break exit;
            }
        };
        if matches!(exit, Exit::Shutdown) {
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
        }
        exit
    }

    async fn on_frame(
        &mut self,
        ws: &mut Ws,
        session: &mut Session,
        attempt: &mut u32,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<(), Exit> {
        let text = match frame {
            None => return Err(Exit::transport("connection closed")),
            Some(Err(e)) => return Err(Exit::transport(e)),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(Some(close)))) => {
                return Err(Exit::from_close(
                    u16::from(close.code).into(),
                    close.reason.to_string(),
                ));
            }
            Some(Ok(Message::Close(None))) => return Err(Exit::transport("closed without code")),
            Some(Ok(_)) => return Ok(()),
        };
        session.touch();
        for reply in protocol::parse_frame(&text) {
            if reply.id > 0 {
                self.on_reply(ws, session, attempt, reply).await?;
            } else if let Some(push) = reply.push {
                if let Some(disconnect) = push.disconnect {
                    return Err(Exit::from_close(disconnect.code, disconnect.reason));
                }
                if let Some(publication) = push.publication {
                    self.on_publication(push.channel, publication).await;
                } else if let Some(unsub) = push.unsubscribe {
                    self.on_server_unsubscribe(ws, push.channel, unsub).await?;
                }
            } else if reply.is_ping() && session.pong {
                send(ws, &json!({})).await?;
            }
        }
        Ok(())
    }

    async fn on_reply(
        &mut self,
        ws: &mut Ws,
        session: &mut Session,
        attempt: &mut u32,
        reply: Reply,
    ) -> Result<(), Exit> {
        let Some(pending) = self.pending.remove(&reply.id) else {
            return Ok(()); // e.g. the reply to an unsubscribe
        };
        match pending {
            Pending::Connect => {
                if let Some(error) = reply.error {
                    return Err(if error.is_retryable() {
                        Exit::Reconnect {
                            code: error.code,
                            reason: error.message,
                        }
                    } else {
                        Exit::Stop {
                            code: error.code,
                            reason: error.message,
                        }
                    });
                }
                let result = reply
                    .connect
                    .ok_or_else(|| Exit::transport("connect reply without result"))?;
                tracing::debug!(client = %result.client, "connected to centrifugo");
                *attempt = 0;
                self.connected = true;
                session.pong = result.pong;
                session.ping_window = (result.ping > 0)
                    .then(|| Duration::from_secs(result.ping.into()) + PING_MARGIN);
                session.read_deadline = None;
                session.touch();
                session.refresh_at = refresh_time(result.expires, result.ttl);
                self.emit(ClientEvent::Connected).await;
                let names: Vec<String> = self.channels.keys().cloned().collect();
                for name in names {
                    self.send_subscribe(ws, &name).await?;
                }
            }
            Pending::Subscribe(name) => match (reply.error, reply.subscribe) {
                (Some(error), _) => self.on_subscribe_error(name, reply.id, error).await,
                (None, Some(result)) => self.on_subscribed(name, reply.id, result).await,
                (None, None) => return Err(Exit::transport("subscribe reply without result")),
            },
            Pending::Refresh => match (reply.error, reply.refresh) {
                (None, Some(result)) => {
                    session.refresh_at = refresh_time(result.expires, result.ttl)
                }
                (error, _) => {
                    let reason = error.map_or_else(|| "empty refresh reply".into(), |e| e.message);
                    return Err(Exit::Reconnect {
                        code: CODE_TRANSPORT_CLOSED,
                        reason: format!("token refresh failed: {reason}"),
                    });
                }
            },
            Pending::SubRefresh(name) => match (reply.error, reply.sub_refresh) {
                (None, Some(result)) => {
                    if let Some(channel) = self.channels.get_mut(&name) {
                        channel.refresh_at = refresh_time(result.expires, result.ttl);
                    }
                }
                _ => self.resubscribe(ws, &name, true).await?,
            },
        }
        Ok(())
    }

    async fn on_subscribed(&mut self, name: String, id: u32, result: SubscribeResult) {
        let Some(channel) = self.channels.get_mut(&name) else {
            return;
        };
        if channel.state != SubState::Subscribing(id) {
            return;
        }
        channel.state = SubState::Subscribed;
        channel.retries = 0;
        channel.refresh_at = refresh_time(result.expires, result.ttl);
        if result.recoverable {
            // On success the reply's offset is the position we asked from and the missed
            // publications follow; otherwise jump to the current top of the stream.
            if !result.recovered || result.epoch != channel.epoch {
                channel.offset = result.offset;
                channel.epoch = result.epoch;
            }
            channel.recoverable = true;
        }
        // Callers learn first, so one that reads events only after `subscribe` resolved never
        // waits on a full event channel.
        for waiter in channel.waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
        self.emit(ClientEvent::Subscribed {
            channel: name.clone(),
            recovered: result.recovered,
            was_recovering: result.was_recovering,
        })
        .await;
        for publication in result.publications {
            self.on_publication(name.clone(), publication).await;
        }
    }

    async fn on_subscribe_error(&mut self, name: String, id: u32, error: ProtoError) {
        let retries = {
            let Some(channel) = self.channels.get_mut(&name) else {
                return;
            };
            if channel.state != SubState::Subscribing(id) {
                return;
            }
            channel.state = SubState::Idle;
            channel.retries = channel.retries.saturating_add(1);
            channel.retries
        };
        if error.is_retryable() {
            tracing::warn!(channel = %name, code = error.code, "subscribe failed, retrying");
            let delay = self.backoff(retries - 1);
            if let Some(channel) = self.channels.get_mut(&name) {
                channel.retry_at = Some(Instant::now() + delay);
            }
            return;
        }
        tracing::warn!(channel = %name, code = error.code, message = %error.message, "subscribe refused");
        let Some(channel) = self.channels.remove(&name) else {
            return;
        };
        if channel.waiters.is_empty() {
            self.emit(ClientEvent::Unsubscribed {
                channel: name,
                code: error.code,
                reason: error.message,
            })
            .await;
        } else {
            for waiter in channel.waiters {
                let _ = waiter.send(Err(Error::Refused {
                    code: error.code,
                    message: error.message.clone(),
                }));
            }
        }
    }

    /// Emits a publication unless its offset was already emitted. Gaps need no check here:
    /// Centrifugo tracks each subscriber's position itself and, on a gap, unsubscribes it with
    /// code 2500 (insufficient state), which leads to a resubscribe with recovery.
    async fn on_publication(&mut self, name: String, publication: protocol::Pub) {
        let Some(channel) = self.channels.get_mut(&name) else {
            return;
        };
        if channel.state != SubState::Subscribed {
            return;
        }
        let offset = publication.offset;
        if offset > 0 {
            if offset <= channel.offset {
                return;
            }
            channel.offset = offset;
        }
        self.emit(ClientEvent::Publication {
            channel: name,
            data: publication.data,
            offset,
        })
        .await;
    }

    async fn on_server_unsubscribe(
        &mut self,
        ws: &mut Ws,
        name: String,
        unsub: protocol::CodeReason,
    ) -> Result<(), Exit> {
        if !self.channels.contains_key(&name) {
            return Ok(());
        }
        // Codes from 2500 ask the client to subscribe again (e.g. 2500 insufficient state).
        if unsub.code >= 2500 {
            return self.resubscribe(ws, &name, false).await;
        }
        self.channels.remove(&name);
        self.emit(ClientEvent::Unsubscribed {
            channel: name,
            code: unsub.code,
            reason: unsub.reason,
        })
        .await;
        Ok(())
    }

    async fn on_request(&mut self, ws: &mut Ws, request: Request) -> Result<(), Exit> {
        match request {
            Request::Subscribe(name, reply) => {
                let channel = self
                    .channels
                    .entry(name.clone())
                    .or_insert_with(Channel::new);
                match channel.state {
                    SubState::Subscribed => {
                        let _ = reply.send(Ok(()));
                    }
                    SubState::Subscribing(_) => channel.waiters.push(reply),
                    SubState::Idle => {
                        channel.waiters.push(reply);
                        if self.connected && channel.retry_at.is_none() {
                            self.send_subscribe(ws, &name).await?;
                        }
                    }
                }
            }
            Request::Unsubscribe(name, reply) => {
                let was_active = self
                    .channels
                    .get(&name)
                    .is_some_and(|c| c.state != SubState::Idle);
                self.remove_channel(&name);
                let _ = reply.send(());
                if was_active {
                    let id = self.next_id();
                    send(ws, &json!({"id": id, "unsubscribe": {"channel": name}})).await?;
                }
            }
        }
        Ok(())
    }

    /// Forgets a channel at the caller's request.
    fn remove_channel(&mut self, name: &str) {
        let Some(channel) = self.channels.remove(name) else {
            return;
        };
        for waiter in channel.waiters {
            let _ = waiter.send(Err(Error::Cancelled));
        }
    }

    async fn on_tick(&mut self, ws: &mut Ws, session: &mut Session) -> Result<(), Exit> {
        let now = Instant::now();
        if session.read_deadline.is_some_and(|at| at <= now) {
            return Err(if self.connected {
                Exit::Reconnect {
                    code: CODE_NO_PING,
                    reason: "no ping from server".to_owned(),
                }
            } else {
                Exit::transport("connect reply timed out")
            });
        }
        if session.refresh_at.is_some_and(|at| at <= now) {
            session.refresh_at = None;
            let id = self.next_id();
            let token = (self.config.connection_token)();
            self.pending.insert(id, Pending::Refresh);
            send(ws, &json!({"id": id, "refresh": {"token": token}})).await?;
        }
        let due: Vec<(String, bool)> = self
            .channels
            .iter()
            .filter_map(|(name, c)| {
                if c.retry_at.is_some_and(|at| at <= now) {
                    Some((name.clone(), false))
                } else if c.refresh_at.is_some_and(|at| at <= now) {
                    Some((name.clone(), true))
                } else {
                    None
                }
            })
            .collect();
        for (name, refresh) in due {
            if refresh {
                if let Some(channel) = self.channels.get_mut(&name) {
                    channel.refresh_at = None;
                }
                let id = self.next_id();
                let token = (self.config.subscription_token)(&name);
                self.pending.insert(id, Pending::SubRefresh(name.clone()));
                send(
                    ws,
                    &json!({"id": id, "sub_refresh": {"channel": name, "token": token}}),
                )
                .await?;
            } else {
                self.send_subscribe(ws, &name).await?;
            }
        }
        Ok(())
    }

    /// Subscribes again from the last known position; `unsubscribe_first` when the server
    /// still holds the old subscription.
    async fn resubscribe(
        &mut self,
        ws: &mut Ws,
        name: &str,
        unsubscribe_first: bool,
    ) -> Result<(), Exit> {
        if unsubscribe_first {
            let id = self.next_id();
            send(ws, &json!({"id": id, "unsubscribe": {"channel": name}})).await?;
        }
        self.send_subscribe(ws, name).await
    }

    async fn send_subscribe(&mut self, ws: &mut Ws, name: &str) -> Result<(), Exit> {
        let id = self.next_id();
        let token = (self.config.subscription_token)(name);
        let Some(channel) = self.channels.get_mut(name) else {
            return Ok(());
        };
        let mut request = json!({"channel": name});
        if !token.is_empty() {
            request["token"] = json!(token);
        }
        if channel.recoverable {
            request["recover"] = json!(true);
            request["epoch"] = json!(channel.epoch);
            request["offset"] = json!(channel.offset);
        }
        channel.state = SubState::Subscribing(id);
        channel.retry_at = None;
        channel.refresh_at = None;
        self.pending.insert(id, Pending::Subscribe(name.to_owned()));
        send(ws, &json!({"id": id, "subscribe": request})).await
    }
}

/// When to refresh a token that expires in `ttl` seconds: at 80% of its life.
fn refresh_time(expires: bool, ttl: u32) -> Option<Instant> {
    expires.then(|| Instant::now() + Duration::from_secs(ttl.into()).mul_f64(0.8))
}

/// Resolves once shutdown was asked for or every [`Client`] handle is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn send(ws: &mut Ws, value: &Value) -> Result<(), Exit> {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .map_err(|e| Exit::transport(format!("websocket write failed: {e}")))
}
