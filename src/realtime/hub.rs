//! The in-process hub: bounded fan-out of room events to this node's subscribers.
//!
//! One `tokio::sync::broadcast` ring per room with live subscribers, and one per user for
//! that user's membership changes (so `myEvents` can follow joins). A ring holds at most
//! `capacity` events whatever the number of subscribers; a subscriber that falls further
//! behind is told so (`Lagged`) instead of slowing the publisher or the others.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::{broadcast, mpsc};

use super::{centrifugo::Demand, event::RoomEvent};

/// An event as delivered to subscribers: parsed once, shared by all.
#[derive(Debug)]
pub struct Delivery {
    /// The event.
    pub event: RoomEvent,
}

/// What subscribers receive.
pub type Item = Arc<Delivery>;

/// Fan-out of events to this node's subscribers.
#[derive(Debug)]
pub struct Hub {
    capacity: usize,
    rooms: Mutex<HashMap<i64, broadcast::Sender<Item>>>,
    users: Mutex<HashMap<i64, broadcast::Sender<Item>>>,
    lagged: AtomicU64,
    /// Where new rings are announced, so a bridge can follow their channels upstream.
    demands: std::sync::OnceLock<mpsc::UnboundedSender<Demand>>,
}

impl Hub {
    /// A hub whose per-room rings hold `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            rooms: Mutex::default(),
            users: Mutex::default(),
            lagged: AtomicU64::new(0),
            demands: std::sync::OnceLock::new(),
        }
    }

    /// Announces every new room or user ring on `demands` (and the existing ones now).
    pub fn announce_to(&self, demands: mpsc::UnboundedSender<Demand>) {
        for room in lock(&self.rooms).keys() {
            let _ = demands.send(Demand::Room(*room));
        }
        for user in lock(&self.users).keys() {
            let _ = demands.send(Demand::User(*user));
        }
        let _ = self.demands.set(demands);
    }

    /// Delivers `event` to its room's subscribers only (the bridge's room channels).
    pub fn publish_room(&self, event: RoomEvent) {
        let room_id = event.room_id();
        send(&self.rooms, room_id, &Arc::new(Delivery { event }));
    }

    /// Delivers a membership change to the user it concerns only.
    pub fn publish_user(&self, user_id: i64, event: RoomEvent) {
        send(&self.users, user_id, &Arc::new(Delivery { event }));
    }

    /// Ends every subscription of a room with an error, so clients resubscribe with
    /// `after` and refetch what the transport lost.
    pub fn fail_room(&self, room_id: i64) {
        lock(&self.rooms).remove(&room_id);
    }

    /// Delivers `event` to the subscribers of its room and, for a membership change, to the
    /// user it concerns.
    pub fn publish(&self, event: RoomEvent) {
        let room_id = event.room_id();
        let member = event.member_change();
        let item = Arc::new(Delivery { event });
        send(&self.rooms, room_id, &item);
        if let Some((user_id, _)) = member {
            send(&self.users, user_id, &item);
        }
    }

    /// A receiver of a room's events from now on.
    pub fn subscribe_room(&self, room_id: i64) -> broadcast::Receiver<Item> {
        let (rx, new) = subscribe(&self.rooms, room_id, self.capacity);
        if new && let Some(d) = self.demands.get() {
            let _ = d.send(Demand::Room(room_id));
        }
        rx
    }

    /// A receiver of a user's membership changes from now on.
    pub fn subscribe_user(&self, user_id: i64) -> broadcast::Receiver<Item> {
        let (rx, new) = subscribe(&self.users, user_id, 64);
        if new && let Some(d) = self.demands.get() {
            let _ = d.send(Demand::User(user_id));
        }
        rx
    }

    /// Counts a subscriber that fell behind.
    pub fn record_lag(&self) {
        metrics::counter!(crate::metrics::HUB_LAGGED).increment(1);
        self.lagged.fetch_add(1, Ordering::Relaxed);
    }

    /// How many subscribers fell behind since start.
    pub fn lag_count(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    /// Rooms with at least one live receiver.
    pub fn room_channels(&self) -> usize {
        lock(&self.rooms).len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn send(map: &Mutex<HashMap<i64, broadcast::Sender<Item>>>, key: i64, item: &Item) {
    let mut map = lock(map);
    if let Some(tx) = map.get(&key)
        && tx.send(item.clone()).is_err()
    {
        // No receiver left: forget the ring so idle rooms cost nothing.
        map.remove(&key);
    }
}

fn subscribe(
    map: &Mutex<HashMap<i64, broadcast::Sender<Item>>>,
    key: i64,
    capacity: usize,
) -> (broadcast::Receiver<Item>, bool) {
    let mut map = lock(map);
    if let Some(tx) = map.get(&key) {
        return (tx.subscribe(), false);
    }
    let (tx, rx) = broadcast::channel(capacity);
    map.insert(key, tx);
    (rx, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::event::UserData;

    fn typing(room: i64, user: i64) -> RoomEvent {
        RoomEvent::Typing {
            room_id: room.to_string(),
            user: UserData {
                id: user.to_string(),
                username: format!("u{user}"),
                created_at: chrono::DateTime::UNIX_EPOCH,
            },
        }
    }

    #[tokio::test]
    async fn routes_by_room_and_bounds_slow_receivers() {
        let hub = Hub::new(4);
        let mut fast = hub.subscribe_room(1);
        let mut slow = hub.subscribe_room(1);
        let mut other = hub.subscribe_room(2);
        for i in 0..10 {
            hub.publish(typing(1, i));
            assert_eq!(fast.recv().await.unwrap().event, typing(1, i));
        }
        // The ring kept the newest 4: the slow receiver is told it missed the rest.
        match slow.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 6),
            other => panic!("expected Lagged, got {other:?}"),
        }
        assert_eq!(slow.recv().await.unwrap().event, typing(1, 6));
        assert!(other.try_recv().is_err(), "room 2 got room 1's events");
    }

    #[tokio::test]
    async fn idle_rooms_are_forgotten() {
        let hub = Hub::new(4);
        drop(hub.subscribe_room(9));
        assert_eq!(hub.room_channels(), 1);
        hub.publish(typing(9, 1));
        assert_eq!(hub.room_channels(), 0);
    }
}
