//! What `backup` and `restore` ask of a SQLite database: an online copy
//! (`VACUUM INTO`), its integrity check, and the counts both commands print.

use super::{
    Db, StoreError,
    entities::{audit_event, change_request, inbound_message},
};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};
use std::path::Path;

/// Requests, incoming messages and audit events held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    pub messages: u64,
    pub events: u64,
}

pub async fn counts(db: &Db) -> Result<Counts, StoreError> {
    Ok(Counts {
        requests: change_request::Entity::find().count(db.conn()).await?,
        messages: inbound_message::Entity::find().count(db.conn()).await?,
        events: audit_event::Entity::find().count(db.conn()).await?,
    })
}

/// Writes a consistent copy of the whole database to `target` (which must
/// not exist), from one read transaction, while others keep writing.
pub async fn vacuum_into(db: &Db, target: &Path) -> Result<(), StoreError> {
    let target = target.to_string_lossy().replace('\'', "''");
    db.conn()
        .execute_unprepared(&format!("VACUUM INTO '{target}'"))
        .await?;
    Ok(())
}

/// SQLite's `PRAGMA integrity_check` verdict: `ok` for a sound file.
pub async fn integrity_check(db: &Db) -> Result<String, StoreError> {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.backend(),
            "PRAGMA integrity_check",
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get_by_index::<String>(0))
        .transpose()?
        .unwrap_or_default())
}
