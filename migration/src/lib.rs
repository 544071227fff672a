//! Database migrations of chatgql, one module per change, applied in order.

pub use sea_orm_migration::prelude::*;

mod m20261204_000001_initial;

/// Every migration of the schema, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261204_000001_initial::Migration)]
    }
}
