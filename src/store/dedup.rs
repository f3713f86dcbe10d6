//! Dedup: the same message seen twice yields one request (SPEC §4). Same
//! source position (IMAP UID, Maildir file) → the earlier record answers and
//! nothing new is written; same Message-ID *and* same content hash → a new
//! record with disposition `duplicate`; the same Message-ID with other
//! content is processed normally and flagged.

use super::{StoreError, entities::inbound_message};
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

/// Looks the message up by position, then by Message-ID.
pub async fn check<C: crate::store::Conn>(
    txn: &C,
    position: Option<&str>,
    message_id: Option<&str>,
    content_hash: &str,
) -> Result<Seen, StoreError> {
    if let Some(position) = position {
        let earlier = inbound_message::Entity::find()
            .select_only()
            .columns([
                inbound_message::Column::Id,
                inbound_message::Column::Disposition,
                inbound_message::Column::RequestId,
            ])
            .filter(inbound_message::Column::SourcePosition.eq(position))
            .into_tuple::<(i64, String, Option<i64>)>()
            .one(txn)
            .await?;
        if let Some((id, disposition, request_id)) = earlier {
            return Ok(Seen::SamePosition {
                id,
                disposition,
                request_id,
            });
        }
    }
    let Some(message_id) = message_id else {
        return Ok(Seen::New);
    };
    let earlier: Vec<(String, Option<i64>)> = inbound_message::Entity::find()
        .select_only()
        .columns([
            inbound_message::Column::ContentHash,
            inbound_message::Column::RequestId,
        ])
        .filter(inbound_message::Column::MessageId.eq(message_id))
        .order_by_asc(inbound_message::Column::Id)
        .limit(50)
        .into_tuple()
        .all(txn)
        .await?;
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
