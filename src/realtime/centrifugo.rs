//! Centrifugo as the event transport: publishing (sink), tokens, presence, and the bridge
//! that feeds this node's hub from Centrifugo so GraphQL subscribers on every node see
//! events committed on any node.

use std::{sync::Arc, time::Duration};

use centrifugo::{ApiClient, Client, ClientConfig, ClientEvent, api::PublishCommand, tokens};
use secrecy::ExposeSecret;
use tokio::sync::mpsc;

use super::{
    Published, event::RoomEvent, hub::Hub, personal_channel, relay::Pending, room_channel,
};
use crate::{config::CentrifugoConfig, db::Db, services::rooms};

/// Personal channels per broadcast call.
const BROADCAST_CHUNK: usize = 500;
/// Publications per `batch` call of the relay.
const BATCH_COMMANDS: usize = 1000;
/// Lifetime of the tokens handed to clients.
pub const TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// The idempotency key of an outbox event: its id plus a digest of its JSON, so a retried
/// publish is dropped while a different event that reuses an id (a database restored or
/// recreated against the same Centrifugo) is not.
fn idempotency_key(p: &Pending) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(p.payload.as_bytes());
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("ev-{}-{short}", p.id)
}

/// A channel this node's bridge should follow.
#[derive(Debug, Clone, Copy)]
pub enum Demand {
    /// `room:<id>`: some local subscriber follows the room.
    Room(i64),
    /// `personal:#<id>`: some local subscriber follows that user's memberships.
    User(i64),
}

/// Centrifugo connection state shared by the sink, the resolvers and the bridge.
pub struct Centrifugo {
    /// Server API client.
    pub api: ApiClient,
    config: CentrifugoConfig,
    db: Db,
    /// This node's identity on its own Centrifugo connection.
    node_user: String,
}

impl Centrifugo {
    /// A client for the configured server.
    pub fn new(config: CentrifugoConfig, db: Db) -> anyhow::Result<Self> {
        let api = ApiClient::new(
            config.url.clone(),
            config.api_key.expose_secret().to_owned(),
            Duration::from_secs(5),
        )
        .map_err(|e| anyhow::anyhow!("Centrifugo API client: {e}"))?;
        let node_user = format!("chatgql-node-{}", crate::auth::refresh::new_family());
        Ok(Self {
            api,
            config,
            db,
            node_user,
        })
    }

    /// The WebSocket URL for clients.
    pub fn ws_url(&self) -> &str {
        &self.config.ws_url
    }

    /// A connection token for `user_id`.
    pub fn connection_token(&self, user_id: i64) -> String {
        tokens::connection_token(self.secret(), &user_id.to_string(), TOKEN_TTL)
    }

    /// A subscription token for `user_id` on `room:<room_id>`.
    pub fn room_token(&self, user_id: i64, room_id: i64) -> String {
        tokens::subscription_token(
            self.secret(),
            &user_id.to_string(),
            &room_channel(room_id),
            TOKEN_TTL,
        )
    }

    fn secret(&self) -> &str {
        self.config.token_secret.expose_secret()
    }

    /// Users connected to `room:<room_id>` (this node's own connection excluded).
    pub async fn online(&self, room_id: i64) -> anyhow::Result<Vec<i64>> {
        let clients = self.api.presence(&room_channel(room_id)).await?;
        let mut ids: Vec<i64> = clients.iter().filter_map(|c| c.user.parse().ok()).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Publishes events in order: each to its room channel and to every member's personal
    /// channel, with an idempotency key per event, so a retried publish is dropped. One
    /// membership query per round and one ordered `batch` call per [`BATCH_COMMANDS`]
    /// publications, instead of several round trips per event.
    pub async fn publish(&self, batch: &[Pending]) -> Published {
        let mut rooms: Vec<i64> = batch.iter().map(|p| p.event.room_id()).collect();
        rooms.sort_unstable();
        rooms.dedup();
        let members = match rooms::member_ids_of(&self.db, &rooms).await {
            Ok(m) => m,
            Err(e) => {
                return Published {
                    count: 0,
                    error: Some(anyhow::anyhow!("room members: {e:?}")),
                };
            }
        };
        // Commands of all events in order; `ends[i]` is one past event i's last command.
        let mut commands = Vec::new();
        let mut ends = Vec::with_capacity(batch.len());
        for p in batch {
            let data: serde_json::Value = match serde_json::from_str(&p.payload) {
                Ok(d) => d,
                Err(e) => {
                    return Published {
                        count: 0,
                        error: Some(e.into()),
                    };
                }
            };
            let key = idempotency_key(p);
            let room_id = p.event.room_id();
            let room_members = members.get(&room_id).map(Vec::as_slice).unwrap_or_default();
            for channel in channels_of(&p.event, room_members) {
                commands.push(PublishCommand {
                    channel,
                    data: data.clone(),
                    idempotency_key: Some(key.clone()),
                    skip_history: false,
                });
            }
            ends.push(commands.len());
        }
        let mut sent = 0;
        for chunk in commands.chunks(BATCH_COMMANDS) {
            let failed = match self.api.batch(chunk, false).await {
                Ok(replies) => replies
                    .into_iter()
                    .position(|r| r.is_err())
                    .map(|i| anyhow::anyhow!("publish to {} refused", chunk[i].channel)),
                Err(e) => Some(anyhow::anyhow!("batch publish: {e}")),
            };
            if let Some(error) = failed {
                // Events wholly before this chunk are done; the rest is retried (and any
                // part of it that did go out is dropped then by its idempotency key).
                let count = ends.iter().take_while(|end| **end <= sent).count();
                return Published {
                    count,
                    error: Some(error),
                };
            }
            sent += chunk.len();
        }
        Published {
            count: batch.len(),
            error: None,
        }
    }

    /// Publishes an ephemeral event (typing) to the same channels, kept out of history.
    pub async fn publish_ephemeral(&self, event: &RoomEvent) -> anyhow::Result<()> {
        let data = serde_json::to_value(event)?;
        let room_id = event.room_id();
        let members = rooms::member_ids(&self.db, room_id)
            .await
            .map_err(|e| anyhow::anyhow!("members of room {room_id}: {e:?}"))?;
        let channels = channels_of(event, &members);
        for chunk in channels.chunks(BROADCAST_CHUNK) {
            let replies = self
                .api
                .broadcast(chunk, &data, None, true)
                .await
                .map_err(|e| anyhow::anyhow!("broadcast to {}: {e}", chunk[0]))?;
            if let Some(Err(e)) = replies.into_iter().find(|r| r.is_err()) {
                anyhow::bail!("broadcast of an ephemeral event: {e}");
            }
        }
        Ok(())
    }

    /// Starts this node's bridge: one Centrifugo connection, following the channels the hub
    /// demands and feeding what arrives into the hub.
    pub fn start_bridge(
        self: &Arc<Self>,
        hub: Arc<Hub>,
        mut demands: mpsc::UnboundedReceiver<Demand>,
    ) {
        let secret = self.secret().to_owned();
        let user = self.node_user.clone();
        let conn_secret = secret.clone();
        let conn_user = user.clone();
        let config = ClientConfig::new(
            self.config.ws_url.clone(),
            Arc::new(move || tokens::connection_token(&conn_secret, &conn_user, TOKEN_TTL)),
            Arc::new(move |channel: &str| {
                tokens::subscription_token(&secret, &user, channel, TOKEN_TTL)
            }),
        );
        let (client, mut events) = Client::start(config);
        let subscriber = client.clone();
        tokio::spawn(async move {
            while let Some(demand) = demands.recv().await {
                let channel = match demand {
                    Demand::Room(id) => room_channel(id),
                    Demand::User(id) => personal_channel(id),
                };
                let client = subscriber.clone();
                tokio::spawn(async move {
                    if let Err(e) = client.subscribe(&channel).await {
                        tracing::warn!(%channel, error = ?e, "bridge could not join channel");
                    }
                });
            }
        });
        tokio::spawn(async move {
            let _client = client;
            while let Some(event) = events.recv().await {
                match event {
                    ClientEvent::Publication { channel, data, .. } => {
                        let Ok(event) = serde_json::from_value::<RoomEvent>(data) else {
                            tracing::warn!(%channel, "bridge ignored an unreadable publication");
                            continue;
                        };
                        if channel.starts_with("room:") {
                            hub.publish_room(event);
                        } else if let Some(user) = channel
                            .strip_prefix("personal:#")
                            .and_then(|u| u.parse::<i64>().ok())
                            && event.member_change().is_some_and(|(u, _)| u == user)
                        {
                            hub.publish_user(user, event);
                        }
                    }
                    ClientEvent::Subscribed {
                        channel,
                        recovered: false,
                        was_recovering: true,
                    } => {
                        tracing::warn!(%channel, "bridge lost publications; subscribers must resync");
                        if let Some(room) =
                            channel.strip_prefix("room:").and_then(|r| r.parse().ok())
                        {
                            hub.fail_room(room);
                        }
                    }
                    ClientEvent::Disconnected { code, reason, .. } => {
                        tracing::warn!(code, %reason, "bridge disconnected from Centrifugo");
                    }
                    _ => {}
                }
            }
        });
    }
}

/// Where an event goes: its room channel and every member's personal channel; a member who
/// left still hears of it on their own channel.
fn channels_of(event: &RoomEvent, members: &[i64]) -> Vec<String> {
    let mut channels = Vec::with_capacity(members.len() + 2);
    channels.push(room_channel(event.room_id()));
    channels.extend(members.iter().map(|u| personal_channel(*u)));
    if let Some((user, false)) = event.member_change() {
        channels.push(personal_channel(user));
    }
    channels
}
