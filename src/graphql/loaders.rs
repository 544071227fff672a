//! DataLoaders: one query per field per request level instead of one per row.

use std::collections::HashMap;

use async_graphql::{ErrorExtensions, dataloader::Loader};

use crate::{
    db::Db,
    entities::{message, user},
    services::{rooms, users},
};

/// Users by id.
pub struct UserLoader(pub Db);

impl Loader<i64> for UserLoader {
    type Value = user::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, user::Model>, Self::Error> {
        Ok(users::by_ids(&self.0, keys)
            .await
            .map_err(|e| e.extend())?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }
}

/// Member counts by room id.
pub struct MemberCountLoader(pub Db);

impl Loader<i64> for MemberCountLoader {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, Self::Error> {
        rooms::member_counts(&self.0, keys)
            .await
            .map_err(|e| e.extend())
    }
}

/// Whether the viewer belongs to each room.
pub struct MembershipLoader {
    /// The database.
    pub db: Db,
    /// The viewer, if signed in.
    pub viewer: Option<i64>,
}

impl Loader<i64> for MembershipLoader {
    type Value = bool;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, bool>, Self::Error> {
        let Some(viewer) = self.viewer else {
            return Ok(keys.iter().map(|k| (*k, false)).collect());
        };
        let member = rooms::memberships_of(&self.db, viewer, keys)
            .await
            .map_err(|e| e.extend())?;
        Ok(keys.iter().map(|k| (*k, member.contains(k))).collect())
    }
}

/// The last message by room id.
pub struct LastMessageLoader(pub Db);

impl Loader<i64> for LastMessageLoader {
    type Value = message::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, message::Model>, Self::Error> {
        rooms::last_messages(&self.0, keys)
            .await
            .map_err(|e| e.extend())
    }
}
