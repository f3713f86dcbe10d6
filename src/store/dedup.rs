//! Dedup: the same message seen twice yields one request (SPEC §4). Same
//! source position (IMAP UID, Maildir file) → the earlier record answers and
//! nothing new is written; same Message-ID *and* same content hash → a new
//! record with disposition `duplicate`; the same Message-ID with other
//! content is processed normally and flagged.

use super::{StoreError, entities::inbound_message, inbound};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Flag of a message whose Message-ID was already seen with other content.
pub const REUSED_MESSAGE_ID: &str = "message_id_reutilise";

/// What the earlier records say about a new message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Never seen.
    New,
    /// Same source position: the earlier record (id, disposition, request).
    SamePosition {
        id: i64,
        disposition: String,
        request_id: Option<i64>,
    },
    /// Same Message-ID and content: the earlier record's request, if any.
    SameContent { request_id: Option<i64> },
    /// Same Message-ID, other content.
    ReusedMessageId,
}

/// Looks the message up by position, then by Message-ID. Each lookup reads
/// only `inbound_messages`, so in a transaction it carries the writes held
/// back before it (`Conn::query_all_beside`: on PostgreSQL one round trip
/// instead of two) — the earlier messages' audit events, mails and tokens.
/// The one held-back write to `inbound_messages` is a record's link to the
/// request it created, which the lookup does not see yet: a record linked in
/// this transaction answers with the request the transaction remembers
/// (`inbound::linked_here`). On PostgreSQL a batch's records are deferred
/// inserts too (ids taken ahead): the transaction remembers them
/// (`inbound::recorded_here`).
pub async fn check<C: crate::store::Conn>(
    txn: &C,
    position: Option<&str>,
    message_id: Option<&str>,
    content_hash: &str,
) -> Result<Seen, StoreError> {
    let request_of =
        |id: i64, stored: Option<i64>| stored.or_else(|| inbound::linked_here(txn, id));
    // Records whose insert this transaction deferred (ids taken ahead): the
    // lookups below, which carry the insert, do not see them.
    let here = inbound::recorded_here(txn);
    if let Some(position) = position
        && let Some(r) = here
            .iter()
            .find(|r| r.position.as_deref() == Some(position))
    {
        return Ok(Seen::SamePosition {
            id: r.id,
            disposition: r.disposition.clone(),
            request_id: request_of(r.id, r.request_id),
        });
    }
    if let Some(position) = position {
        let query = inbound_message::Entity::find()
            .select_only()
            .columns([
                inbound_message::Column::Id,
                inbound_message::Column::Disposition,
                inbound_message::Column::RequestId,
            ])
            .filter(inbound_message::Column::SourcePosition.eq(position))
            .limit(1);
        let earlier = rows::<(i64, String, Option<i64>), _>(txn, query).await?;
        if let Some((id, disposition, request_id)) = earlier.into_iter().next() {
            return Ok(Seen::SamePosition {
                id,
                disposition,
                request_id: request_of(id, request_id),
            });
        }
    }
    let Some(message_id) = message_id else {
        return Ok(Seen::New);
    };
    let query = inbound_message::Entity::find()
        .select_only()
        .columns([
            inbound_message::Column::Id,
            inbound_message::Column::ContentHash,
            inbound_message::Column::RequestId,
        ])
        .filter(inbound_message::Column::MessageId.eq(message_id))
        .order_by_asc(inbound_message::Column::Id)
        .limit(50);
    let mut found = rows::<(i64, String, Option<i64>), _>(txn, query).await?;
    for r in here
        .iter()
        .filter(|r| r.message_id.as_deref() == Some(message_id))
    {
        if !found.iter().any(|(id, _, _)| *id == r.id) {
            found.push((r.id, r.content_hash.clone(), r.request_id));
        }
    }
    found.sort_by_key(|(id, _, _)| *id);
    let earlier: Vec<(String, Option<i64>)> = found
        .into_iter()
        .map(|(id, hash, request_id)| (hash, request_of(id, request_id)))
        .collect();
    if earlier.is_empty() {
        return Ok(Seen::New);
    }
    match earlier.iter().find(|(hash, _)| hash == content_hash) {
        Some((_, request_id)) => Ok(Seen::SameContent {
            request_id: earlier
                .iter()
                .filter(|(hash, _)| hash == content_hash)
                .find_map(|(_, r)| *r)
                .or(*request_id),
        }),
        None => Ok(Seen::ReusedMessageId),
    }
}

/// The rows of `query`, a read of `inbound_messages` alone, carrying the
/// writes held back before it.
async fn rows<T: sea_orm::TryGetableMany, C: crate::store::Conn>(
    txn: &C,
    query: sea_orm::Select<inbound_message::Entity>,
) -> Result<Vec<T>, StoreError> {
    let stmt = sea_orm::QueryTrait::build(&query, txn.get_database_backend());
    txn.query_all_beside(stmt)
        .await?
        .iter()
        .map(|row| T::try_get_many_by_index(row).map_err(|e| StoreError::Db(e.into())))
        .collect()
}
