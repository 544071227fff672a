//! chatgql: a real-time chat backend. GraphQL over SeaORM, with events delivered through
//! an outbox to an in-process hub or to Centrifugo.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod entities;
pub mod error;
pub mod graphql;
pub mod metrics;
pub mod realtime;
pub mod services;
pub mod telemetry;
pub mod ws;
