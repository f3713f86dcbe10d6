//! Attachments of incoming mail and their content, stored once per SHA-256
//! in `blobs` (the content goes at purge time, the row stays).

use super::{
    StoreError,
    entities::{attachment, blob},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// The attachments of one incoming message, in their order in the mail.
pub async fn for_message<C: crate::store::Conn>(
    db: &C,
    message_id: i64,
) -> Result<Vec<attachment::Model>, StoreError> {
    Ok(attachment::Entity::find()
        .filter(attachment::Column::InboundMessageId.eq(message_id))
        .order_by_asc(attachment::Column::Position)
        .all(db)
        .await?)
}

/// The attachments of several messages, by id.
pub async fn for_messages<C: crate::store::Conn>(
    db: &C,
    message_ids: Vec<i64>,
) -> Result<Vec<attachment::Model>, StoreError> {
    Ok(attachment::Entity::find()
        .filter(attachment::Column::InboundMessageId.is_in(message_ids))
        .order_by_asc(attachment::Column::Id)
        .all(db)
        .await?)
}

/// The attachment with this id.
pub async fn find<C: crate::store::Conn>(
    db: &C,
    id: i64,
) -> Result<Option<attachment::Model>, StoreError> {
    Ok(attachment::Entity::find_by_id(id).one(db).await?)
}

/// The content of an attachment (`None` once purged).
pub async fn content<C: crate::store::Conn>(
    db: &C,
    a: &attachment::Model,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(blob::Entity::find_by_id(a.sha256.clone())
        .one(db)
        .await?
        .and_then(|b| b.data))
}
