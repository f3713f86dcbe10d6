//! Recorded incoming messages, as `inbox list` and the quarantine show them.

use super::{StoreError, entities::change_request, entities::inbound_message};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use std::collections::HashMap;

/// Every incoming message ends with exactly one of these (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    RequestCreated,
    Threaded,
    Duplicate,
    AutoIgnored,
    Quarantined,
}

impl Disposition {
    pub const ALL: [Disposition; 5] = [
        Self::RequestCreated,
        Self::Threaded,
        Self::Duplicate,
        Self::AutoIgnored,
        Self::Quarantined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestCreated => "request_created",
            Self::Threaded => "threaded",
            Self::Duplicate => "duplicate",
            Self::AutoIgnored => "auto_ignored",
            Self::Quarantined => "quarantined",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// One line of `inbox list`.
#[derive(Debug, Clone, Serialize)]
pub struct InboxEntry {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub source: String,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub disposition: String,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub flags: Vec<String>,
}

/// Recorded messages, newest first, optionally of one disposition.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    disposition: Option<Disposition>,
    limit: u64,
) -> Result<Vec<InboxEntry>, StoreError> {
    let mut q = inbound_message::Entity::find().order_by_desc(inbound_message::Column::Id);
    if let Some(d) = disposition {
        q = q.filter(inbound_message::Column::Disposition.eq(d.as_str()));
    }
    if limit > 0 {
        q = q.limit(limit);
    }
    let rows = q.all(db).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.request_id).collect();
    let refs: HashMap<i64, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        change_request::Entity::find()
            .filter(change_request::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|r| (r.id, r.reference))
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|m| InboxEntry {
            id: m.id,
            received_at: m.received_at,
            source: m.source,
            message_id: m.message_id,
            sender: m.from_address,
            subject: m.subject,
            disposition: m.disposition,
            reference: m.request_id.and_then(|id| refs.get(&id).cloned()),
            reason: m.reason,
            flags: serde_json::from_str(&m.flags).unwrap_or_default(),
        })
        .collect())
}

/// The recorded incoming message with this id.
pub async fn find_message<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<inbound_message::Model>, StoreError> {
    Ok(inbound_message::Entity::find_by_id(id).one(db).await?)
}
