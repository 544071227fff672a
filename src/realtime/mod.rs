//! Real-time delivery: event types, the outbox relay, the in-process hub and presence.
//!
//! This is the one place that knows whether Centrifugo is configured; the rest of the code
//! publishes events and subscribes to rooms through [`Realtime`].

pub mod centrifugo;
pub mod event;
pub mod hub;
pub mod presence;
pub mod relay;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use self::{
    centrifugo::Centrifugo, event::RoomEvent, hub::Hub, presence::Presence, relay::Pending,
};
use crate::{
    config::CentrifugoConfig,
    db::Db,
    error::{AppError, AppResult},
    services::rooms,
};

/// How events leave this node.
#[derive(Clone)]
pub enum Sink {
    /// Straight into this node's hub.
    InProcess(Arc<Hub>),
    /// To Centrifugo's room and personal channels.
    Centrifugo(Arc<Centrifugo>),
}

/// What a publish of a batch achieved: the first `count` events went out.
pub struct Published {
    /// Events published, from the start of the batch.
    pub count: usize,
    /// Why the rest did not, if they did not.
    pub error: Option<anyhow::Error>,
}

impl Sink {
    /// The sink's label in metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::InProcess(_) => "in_process",
            Self::Centrifugo(_) => "centrifugo",
        }
    }

    /// Publishes events in order, stopping at the first failure.
    pub async fn publish(&self, batch: &[Pending]) -> Published {
        match self {
            Self::InProcess(hub) => {
                for p in batch {
                    hub.publish(p.event.clone());
                }
                Published {
                    count: batch.len(),
                    error: None,
                }
            }
            Self::Centrifugo(c) => c.publish(batch).await,
        }
    }
}

/// Which transport carries events to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum RealtimeMode {
    /// Published to Centrifugo; subscriptions are fed back from it.
    Centrifugo,
    /// Served from this process alone.
    InProcess,
}

/// How a client connects for real-time events.
#[derive(Debug, Clone)]
pub struct ClientAccess {
    /// The transport.
    pub mode: RealtimeMode,
    /// Centrifugo's WebSocket URL, in Centrifugo mode.
    pub ws_url: Option<String>,
    /// A Centrifugo connection token, in Centrifugo mode.
    pub connection_token: Option<String>,
    /// The viewer's personal channel.
    pub personal_channel: String,
}

/// The realtime side of the application, shared by resolvers and the relay.
pub struct Realtime {
    /// This node's fan-out.
    pub hub: Arc<Hub>,
    /// Live subscriptions on this node.
    pub presence: Arc<Presence>,
    db: Db,
    typing: TypingLimiter,
    centrifugo: Option<Arc<Centrifugo>>,
}

impl Realtime {
    /// In-process realtime over `db`.
    pub fn in_process(db: Db) -> Self {
        Self {
            hub: Arc::new(Hub::new(1024)),
            presence: Arc::default(),
            db,
            typing: TypingLimiter::new(Duration::from_secs(1)),
            centrifugo: None,
        }
    }

    /// Realtime through Centrifugo when configured, in-process otherwise. With Centrifugo,
    /// this node's hub is fed by a bridge connection to Centrifugo.
    pub fn new(db: Db, centrifugo: Option<CentrifugoConfig>) -> anyhow::Result<Self> {
        let mut realtime = Self::in_process(db.clone());
        if let Some(config) = centrifugo {
            let c = Arc::new(Centrifugo::new(config, db)?);
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            realtime.hub.announce_to(tx);
            c.start_bridge(realtime.hub.clone(), rx);
            realtime.centrifugo = Some(c);
        }
        Ok(realtime)
    }

    /// The mode in force.
    pub fn mode(&self) -> RealtimeMode {
        match self.centrifugo {
            Some(_) => RealtimeMode::Centrifugo,
            None => RealtimeMode::InProcess,
        }
    }

    /// The sink the relay publishes to.
    pub fn sink(&self) -> Sink {
        match &self.centrifugo {
            Some(c) => Sink::Centrifugo(c.clone()),
            None => Sink::InProcess(self.hub.clone()),
        }
    }

    /// A subscription token for `room:<room_id>`; members only, Centrifugo mode only.
    pub async fn room_token(&self, viewer: i64, room_id: i64) -> AppResult<(String, String)> {
        let Some(c) = &self.centrifugo else {
            return Err(AppError::bad_input(
                "roomId",
                "realtime runs in-process: there is no Centrifugo channel to subscribe to",
            ));
        };
        rooms::require_member(&self.db, viewer, room_id).await?;
        Ok((room_channel(room_id), c.room_token(viewer, room_id)))
    }

    /// Checks Centrifugo answers, where configured.
    pub async fn check(&self) -> Option<anyhow::Result<()>> {
        let c = self.centrifugo.as_ref()?;
        Some(c.api.health().await.map_err(|e| anyhow::anyhow!("{e}")))
    }

    /// Publishes an ephemeral event (typing) unless the same user typed in the same room
    /// less than a second ago; returns whether it was published.
    pub async fn publish_typing(&self, user_id: i64, event: RoomEvent) -> bool {
        if !self.typing.allow(user_id, event.room_id()) {
            return false;
        }
        match &self.centrifugo {
            Some(c) => match c.publish_ephemeral(&event).await {
                Ok(()) => true,
                Err(error) => {
                    // Typing is best effort: an outage never fails the mutation.
                    tracing::warn!(error = ?error, "typing event not published");
                    false
                }
            },
            None => {
                self.hub.publish(event);
                true
            }
        }
    }

    /// What a client needs to receive `viewer`'s events.
    pub fn client_access(&self, viewer: i64) -> crate::error::AppResult<ClientAccess> {
        Ok(ClientAccess {
            mode: self.mode(),
            ws_url: self.centrifugo.as_ref().map(|c| c.ws_url().to_owned()),
            connection_token: self.centrifugo.as_ref().map(|c| c.connection_token(viewer)),
            personal_channel: personal_channel(viewer),
        })
    }

    /// Users with a live subscription covering `room_id`.
    pub async fn online(&self, room_id: i64) -> crate::error::AppResult<Vec<i64>> {
        let members = rooms::member_ids(&self.db, room_id).await?;
        if let Some(c) = &self.centrifugo {
            let present = c.online(room_id).await.map_err(AppError::Internal)?;
            return Ok(present
                .into_iter()
                .filter(|u| members.contains(u))
                .collect());
        }
        Ok(self
            .presence
            .online(room_id, &members)
            .into_iter()
            .filter(|u| members.contains(u))
            .collect())
    }
}

/// The Centrifugo channel of one user's events.
pub fn personal_channel(user_id: i64) -> String {
    format!("personal:#{user_id}")
}

/// The Centrifugo channel of one room's events.
pub fn room_channel(room_id: i64) -> String {
    format!("room:{room_id}")
}

/// At most one typing event per user and room per interval.
struct TypingLimiter {
    interval: Duration,
    last: Mutex<HashMap<(i64, i64), Instant>>,
}

impl TypingLimiter {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::default(),
        }
    }

    fn allow(&self, user_id: i64, room_id: i64) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.len() > 10_000 {
            let interval = self.interval;
            last.retain(|_, t| t.elapsed() < interval);
        }
        let now = Instant::now();
        match last.get(&(user_id, room_id)) {
            Some(t) if now.duration_since(*t) < self.interval => false,
            _ => {
                last.insert((user_id, room_id), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_is_limited_per_user_and_room() {
        let l = TypingLimiter::new(Duration::from_secs(60));
        assert!(l.allow(1, 1));
        assert!(!l.allow(1, 1));
        assert!(l.allow(1, 2));
        assert!(l.allow(2, 1));
    }
}
