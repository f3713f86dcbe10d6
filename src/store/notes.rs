//! Staff notes on a request (written in the transaction of the decision
//! that adds them).

use super::{StoreError, entities::note};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// The notes of one request, oldest first.
pub async fn for_request<C: crate::store::Conn>(
    db: &C,
    request_id: i64,
) -> Result<Vec<note::Model>, StoreError> {
    Ok(note::Entity::find()
        .filter(note::Column::RequestId.eq(request_id))
        .order_by_asc(note::Column::Id)
        .all(db)
        .await?)
}

/// Adds an internal note to a request, inside the caller's transaction.
pub async fn add<C: crate::store::Conn>(
    txn: &C,
    request_id: i64,
    staff_id: i64,
    body: String,
) -> Result<(), StoreError> {
    note::Entity::insert(note::ActiveModel {
        request_id: Set(request_id),
        staff_id: Set(staff_id),
        body: Set(body),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
