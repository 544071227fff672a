//! Who holds a live subscription on this node, counted by RAII guards.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// Live subscriptions per room and per user.
#[derive(Debug, Default)]
pub struct Presence {
    inner: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// `roomEvents` subscriptions: room → user → count.
    rooms: HashMap<i64, HashMap<i64, usize>>,
    /// `myEvents` subscriptions: user → count (present in every room of theirs).
    users: HashMap<i64, usize>,
}

/// Keeps its subscription counted until dropped.
#[derive(Debug)]
pub struct PresenceGuard {
    presence: Arc<Presence>,
    room_id: Option<i64>,
    user_id: i64,
}

impl Presence {
    /// Counts `user_id` as present in `room_id` while the guard lives.
    pub fn enter_room(self: &Arc<Self>, room_id: i64, user_id: i64) -> PresenceGuard {
        let mut c = self.lock();
        *c.rooms
            .entry(room_id)
            .or_default()
            .entry(user_id)
            .or_default() += 1;
        PresenceGuard {
            presence: self.clone(),
            room_id: Some(room_id),
            user_id,
        }
    }

    /// Counts `user_id` as present in all their rooms while the guard lives.
    pub fn enter_all(self: &Arc<Self>, user_id: i64) -> PresenceGuard {
        *self.lock().users.entry(user_id).or_default() += 1;
        PresenceGuard {
            presence: self.clone(),
            room_id: None,
            user_id,
        }
    }

    /// Users present in `room_id`: those subscribed to it, plus those of `members` who
    /// follow all their rooms.
    pub fn online(&self, room_id: i64, members: &[i64]) -> Vec<i64> {
        let c = self.lock();
        let mut ids: Vec<i64> = c
            .rooms
            .get(&room_id)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        ids.extend(members.iter().filter(|u| c.users.contains_key(u)));
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        let mut c = self.presence.lock();
        let Counts { rooms, users } = &mut *c;
        match self.room_id {
            Some(room_id) => {
                if let Some(room) = rooms.get_mut(&room_id) {
                    decrement(room, self.user_id);
                    if room.is_empty() {
                        rooms.remove(&room_id);
                    }
                }
            }
            None => decrement(users, self.user_id),
        }
    }
}

fn decrement(map: &mut HashMap<i64, usize>, key: i64) {
    if let Some(n) = map.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_and_release() {
        let p = Arc::new(Presence::default());
        let a = p.enter_room(1, 10);
        let a2 = p.enter_room(1, 10);
        let b = p.enter_all(20);
        assert_eq!(p.online(1, &[10, 20, 30]), vec![10, 20]);
        assert_eq!(p.online(2, &[30]), Vec::<i64>::new());
        drop(a);
        assert_eq!(p.online(1, &[]), vec![10]);
        drop(a2);
        drop(b);
        assert_eq!(p.online(1, &[10, 20]), Vec::<i64>::new());
    }
}
