//! Staff notes on a request, read side (notes are written with the
//! decision that adds them).

use super::{StoreError, entities::note};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

/// The notes of one request, oldest first.
pub async fn for_request<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Vec<note::Model>, StoreError> {
    Ok(note::Entity::find()
        .filter(note::Column::RequestId.eq(request_id))
        .order_by_asc(note::Column::Id)
        .all(db)
        .await?)
}
