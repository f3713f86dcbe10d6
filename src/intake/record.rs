//! Record: the `inbound_messages` row (raw bytes kept) and the attachments,
//! stored content-addressed in `blobs`. Written inside the caller's
//! transaction; every text that is stored is free of control characters.

use super::{parse::Attachment, validate::clean_text};
use crate::{
    security::sha256_hex,
    store::{
        StoreError,
        entities::{attachment, blob, inbound_message},
        inbox::Disposition,
        to_json,
    },
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};

/// At most this many attachments are stored per message.
const MAX_ATTACHMENTS: usize = 50;

/// One incoming message's record.
#[derive(Debug, Clone)]
pub struct NewInbound<'a> {
    pub received_at: DateTime<Utc>,
    pub source: &'a str,
    pub position: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub content_hash: &'a str,
    pub size: u64,
    pub raw: &'a [u8],
    pub from: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub disposition: Disposition,
    pub reason: Option<String>,
    pub request_id: Option<i64>,
    pub auth_results: serde_json::Value,
    pub flags: &'a [String],
}

/// Inserts the record; returns its id.
pub async fn insert<C: ConnectionTrait>(txn: &C, m: NewInbound<'_>) -> Result<i64, StoreError> {
    let row = inbound_message::ActiveModel {
        received_at: Set(m.received_at),
        source: Set(m.source.to_string()),
        source_position: Set(m.position.map(str::to_string)),
        message_id: Set(m.message_id.and_then(|v| clean_text(v, 250))),
        content_hash: Set(m.content_hash.to_string()),
        size: Set(i64::try_from(m.size).unwrap_or(i64::MAX)),
        raw: Set(Some(m.raw.to_vec())),
        from_address: Set(m.from.and_then(|v| clean_text(v, 254))),
        subject: Set(m.subject.and_then(|v| clean_text(v, 500))),
        disposition: Set(m.disposition.as_str().to_string()),
        reason: Set(m.reason.as_deref().and_then(|v| clean_text(v, 1000))),
        request_id: Set(m.request_id),
        auth_results: Set(to_json(&m.auth_results)),
        flags: Set(to_json(&m.flags)),
        ..Default::default()
    };
    let result = inbound_message::Entity::insert(row).exec(txn).await?;
    Ok(result.last_insert_id)
}

/// Links a record to the request it created.
pub async fn set_request<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    request_id: i64,
) -> Result<(), StoreError> {
    inbound_message::Entity::update_many()
        .col_expr(
            inbound_message::Column::RequestId,
            Expr::value(Some(request_id)),
        )
        .filter(inbound_message::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Stores the attachments of message `id`, each blob once.
pub async fn attachments<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    list: &[Attachment],
) -> Result<(), StoreError> {
    let now = Utc::now();
    for (position, a) in list.iter().take(MAX_ATTACHMENTS).enumerate() {
        let sha = sha256_hex(&a.data);
        blob::Entity::insert(blob::ActiveModel {
            sha256: Set(sha.clone()),
            size: Set(a.data.len() as i64),
            data: Set(Some(a.data.clone())),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(blob::Column::Sha256)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        attachment::Entity::insert(attachment::ActiveModel {
            inbound_message_id: Set(id),
            position: Set(position as i32),
            filename: Set(a.filename.as_deref().and_then(|f| clean_text(f, 255))),
            content_type: Set(clean_text(&a.content_type, 100)
                .unwrap_or_else(|| "application/octet-stream".into())),
            sha256: Set(sha),
            size: Set(a.data.len() as i64),
            ..Default::default()
        })
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}
