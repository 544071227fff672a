//! The GraphQL schema: limits, extensions and the per-request context.

pub mod cursor;
pub mod extensions;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, Schema, dataloader::DataLoader};

use crate::{
    app::AppState,
    auth::jwt::Viewer,
    error::{AppError, AppResult},
};

/// The schema type served at `/graphql`.
pub type ChatSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Deepest selection allowed.
pub const MAX_DEPTH: usize = 12;
/// Highest complexity (roughly: fields selected, list fields weighted) allowed.
pub const MAX_COMPLEXITY: usize = 1000;
/// Most aliases allowed in one document.
pub const MAX_ALIASES: usize = 30;

/// Builds the schema with its limits and extensions.
pub fn build(state: Option<Arc<AppState>>) -> ChatSchema {
    let mut builder = Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(10)
        .extension(extensions::Observe);
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The schema as SDL (what `chatgql schema` prints).
pub fn sdl() -> String {
    build(None).sdl()
}

/// Who is asking, as established by the transport (HTTP header or WebSocket init).
#[derive(Debug, Clone, Copy)]
pub enum Caller {
    /// No token was sent.
    Anonymous,
    /// A token was sent but is invalid or expired.
    BadToken,
    /// A valid access token.
    User(Viewer),
}

/// The shared application state.
pub fn state<'a>(ctx: &Context<'a>) -> &'a Arc<AppState> {
    ctx.data_unchecked::<Arc<AppState>>()
}

/// The signed-in user's id, or `UNAUTHENTICATED`.
pub fn viewer(ctx: &Context<'_>) -> AppResult<i64> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::User(v)) => Ok(v.user_id),
        Some(Caller::BadToken) => Err(AppError::Unauthenticated("invalid or expired access token")),
        _ => Err(AppError::Unauthenticated("sign in required")),
    }
}

/// Per-request data: the caller and fresh DataLoaders (their caches last one request).
pub fn request_data(state: &Arc<AppState>, caller: Caller) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    insert_request_data(&mut data, state, caller);
    data
}

/// Adds the caller and fresh DataLoaders to `data`.
pub fn insert_request_data(data: &mut async_graphql::Data, state: &Arc<AppState>, caller: Caller) {
    let viewer = match caller {
        Caller::User(v) => Some(v.user_id),
        _ => None,
    };
    let db = state.db.clone();
    data.insert(caller);
    data.insert(DataLoader::new(
        loaders::UserLoader(db.clone()),
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        loaders::MemberCountLoader(db.clone()),
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        loaders::LastMessageLoader(db.clone()),
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        loaders::MembershipLoader { db, viewer },
        tokio::spawn,
    ));
}
