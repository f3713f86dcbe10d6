//! Record: the `inbound_messages` row (raw bytes kept) and the attachments,
//! stored content-addressed in `blobs`. Written inside the caller's
//! transaction through `store::inbound`; every text that is stored is first
//! freed of control characters here.

use super::{parse::Attachment, validate::clean_text};
use crate::{
    security::sha256_hex,
    store::{Conn, StoreError, inbound, inbox::Disposition},
};
use chrono::{DateTime, Utc};

pub use crate::store::inbound::NewAttachment;

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
    /// `None`: stored later with [`raw`].
    pub raw: Option<&'a [u8]>,
    pub from: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub disposition: Disposition,
    pub reason: Option<String>,
    pub request_id: Option<i64>,
    pub auth_results: serde_json::Value,
    pub flags: &'a [String],
    /// The body as staff see it and whether an HTML part exists, made at
    /// parse time (`None` for a message not parsed: the page parses it, off
    /// the async threads).
    pub body_view: Option<&'a str>,
    pub has_html: Option<bool>,
}

/// Inserts the record; returns its id.
pub async fn insert<C: Conn>(txn: &C, m: NewInbound<'_>) -> Result<i64, StoreError> {
    inbound::insert(
        txn,
        inbound::NewInbound {
            received_at: m.received_at,
            source: m.source,
            position: m.position,
            message_id: m.message_id.and_then(|v| clean_text(v, 250)),
            content_hash: m.content_hash,
            size: m.size,
            raw: m.raw,
            from: m.from.and_then(|v| clean_text(v, 254)),
            subject: m.subject.and_then(|v| clean_text(v, 500)),
            disposition: m.disposition,
            reason: m.reason.as_deref().and_then(|v| clean_text(v, 1000)),
            request_id: m.request_id,
            auth_results: &m.auth_results,
            flags: m.flags,
            body_view: m.body_view,
            has_html: m.has_html,
        },
    )
    .await
}

/// Whether the raw mail is best stored with [`raw`] after the record's
/// last other change rather than with its insert (SQLite: see
/// `store::inbound::raw_written_last`).
pub fn raw_written_last<C: Conn>(txn: &C) -> bool {
    inbound::raw_written_last(txn)
}

/// Stores the raw mail of a record inserted without it.
pub async fn raw<C: Conn>(txn: &C, id: i64, raw: &[u8]) -> Result<(), StoreError> {
    inbound::write_raw(txn, id, raw).await
}

/// PostgreSQL: ids taken ahead for `n` records and requests, which a
/// batch then inserts as deferred writes (`store::inbound::take_ids_ahead`).
pub async fn take_ids_ahead<C: Conn>(txn: &C, n: usize) -> Result<(), StoreError> {
    inbound::take_ids_ahead(txn, n).await
}

/// Links a record to the request it created.
pub async fn set_request<C: Conn>(txn: &C, id: i64, request_id: i64) -> Result<(), StoreError> {
    inbound::set_request(txn, id, request_id).await
}

/// The SHA-256 of each attachment [`contents`] stores, in order: computed
/// where the mail is read, beside the other reading (the blocking threads),
/// rather than in the write transaction, which at batch 64 is intake's
/// critical path (README, « Performance »).
pub fn hashes(list: &[Attachment]) -> Vec<String> {
    list.iter()
        .take(MAX_ATTACHMENTS)
        .map(|a| sha256_hex(&a.data))
        .collect()
}

/// Stores the contents of the attachments (at most [`MAX_ATTACHMENTS`]),
/// each blob once, and frees them from `list`: the raw mail, written after,
/// is then the only large value held (issues 12 and 15). `hashes` are
/// [`hashes`] of `list`; one missing is computed here. Returns what the
/// attachments' rows need ([`attachments`]).
pub async fn contents<C: Conn>(
    txn: &C,
    list: &mut [Attachment],
    hashes: Vec<String>,
) -> Result<Vec<NewAttachment>, StoreError> {
    let mut stored = Vec::with_capacity(list.len().min(MAX_ATTACHMENTS));
    let mut hashes = hashes.into_iter();
    for a in list.iter_mut().take(MAX_ATTACHMENTS) {
        let sha256 = hashes.next().unwrap_or_else(|| sha256_hex(&a.data));
        inbound::store_content(txn, &sha256, &a.data).await?;
        stored.push(NewAttachment {
            sha256,
            size: a.data.len() as i64,
            filename: a.filename.as_deref().and_then(|f| clean_text(f, 255)),
            content_type: clean_text(&a.content_type, 100)
                .unwrap_or_else(|| "application/octet-stream".into()),
        });
    }
    for a in list.iter_mut() {
        a.data = Vec::new();
    }
    Ok(stored)
}

/// Lists the attachments of message `id`, stored before by [`contents`].
pub async fn attachments<C: Conn>(
    txn: &C,
    id: i64,
    list: &[NewAttachment],
) -> Result<(), StoreError> {
    inbound::attachments(txn, id, list).await
}
