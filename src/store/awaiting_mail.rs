//! Mail awaiting staff, outside the queue of requests: quarantined mail
//! (« Courriels non traités ») and mail that is not a change request
//! (« Autres courriels »). Each is the inbound messages of one disposition,
//! open until staff close them with a flag; a [`Queue`] names both, and the
//! queries behind [`crate::backoffice::awaiting_mail`] are the same for the
//! two. Every change is conditional on what the page showed, so two staff
//! members cannot both act on the same message.

use super::{StoreError, entities::inbound_message, inbox::Disposition, to_json};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

/// Flag of a quarantined message staff discarded.
pub const DISCARDED: &str = "ecarte";
/// Flag of an other mail staff dealt with (filed, forwarded or turned into a request).
pub const FILED: &str = "classe";
/// Flag of an other mail forwarded to `intake.forward_other_to`.
pub const FORWARDED: &str = "transfere";

/// Mail of one disposition waiting for staff until they close it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    /// The disposition of its messages.
    pub disposition: Disposition,
    /// The flag that closes a message.
    pub closing_flag: &'static str,
    /// The error staff read when the message does not exist.
    not_found: &'static str,
}

/// « Courriels non traités »: quarantined, open until discarded.
pub const QUARANTINE: Queue = Queue {
    disposition: Disposition::Quarantined,
    closing_flag: DISCARDED,
    not_found: "message introuvable",
};

/// « Autres courriels »: not a change request, open until filed.
pub const OTHER_MAIL: Queue = Queue {
    disposition: Disposition::NotARequest,
    closing_flag: FILED,
    not_found: "courriel introuvable",
};

/// The flags of a message.
pub fn flags(m: &inbound_message::Model) -> Vec<String> {
    serde_json::from_str(&m.flags).unwrap_or_default()
}

impl Queue {
    /// True while staff still have to deal with `m`.
    pub fn is_open(&self, m: &inbound_message::Model) -> bool {
        m.disposition == self.disposition.as_str()
            && !flags(m).iter().any(|f| f == self.closing_flag)
    }

    /// The condition "in this queue and not closed", for queries.
    fn open(&self) -> Condition {
        Condition::all()
            .add(inbound_message::Column::Disposition.eq(self.disposition.as_str()))
            .add(inbound_message::Column::Flags.not_like(format!("%\"{}\"%", self.closing_flag)))
    }

    /// Open messages, oldest first (at most 500).
    pub async fn list_open<C: crate::store::Conn>(
        &self,
        db: &C,
    ) -> Result<Vec<inbound_message::Model>, StoreError> {
        Ok(inbound_message::Entity::find()
            .filter(self.open())
            .order_by_asc(inbound_message::Column::Id)
            .limit(500)
            .all(db)
            .await?)
    }

    /// How many messages are open.
    pub async fn count_open<C: crate::store::Conn>(&self, db: &C) -> Result<u64, StoreError> {
        Ok(inbound_message::Entity::find()
            .filter(self.open())
            .count(db)
            .await?)
    }

    /// Message `id`, whatever its disposition.
    pub async fn find<C: crate::store::Conn>(
        &self,
        db: &C,
        id: i64,
    ) -> Result<inbound_message::Model, StoreError> {
        inbound_message::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or_else(|| StoreError::NotFound(self.not_found.into()))
    }

    /// Message `id` if it is still open, else [`StoreError::Conflict`].
    pub async fn take<C: crate::store::Conn>(
        &self,
        db: &C,
        id: i64,
    ) -> Result<inbound_message::Model, StoreError> {
        let m = self.find(db, id).await?;
        if !self.is_open(&m) {
            return Err(StoreError::Conflict);
        }
        Ok(m)
    }

    /// Adds `added` to the flags of `m` (and sets its reason when given),
    /// only if nobody changed its disposition or flags since `m` was read.
    pub async fn add_flags<C: crate::store::Conn>(
        &self,
        db: &C,
        m: &inbound_message::Model,
        added: &[&str],
        reason: Option<String>,
    ) -> Result<(), StoreError> {
        let mut all = flags(m);
        all.extend(added.iter().map(|f| f.to_string()));
        let mut update = inbound_message::Entity::update_many()
            .col_expr(inbound_message::Column::Flags, Expr::value(to_json(&all)));
        if let Some(reason) = reason {
            update = update.col_expr(inbound_message::Column::Reason, Expr::value(Some(reason)));
        }
        let res = update
            .filter(inbound_message::Column::Id.eq(m.id))
            .filter(inbound_message::Column::Disposition.eq(self.disposition.as_str()))
            .filter(inbound_message::Column::Flags.eq(m.flags.clone()))
            .exec(db)
            .await?;
        if res.rows_affected != 1 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    /// Files open message `id` under `disposition`, linked to `request_id`
    /// when given (a request made from the message links itself).
    pub async fn settle<C: crate::store::Conn>(
        &self,
        db: &C,
        id: i64,
        disposition: Disposition,
        request_id: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut update = inbound_message::Entity::update_many().col_expr(
            inbound_message::Column::Disposition,
            Expr::value(disposition.as_str()),
        );
        if let Some(request_id) = request_id {
            update = update.col_expr(
                inbound_message::Column::RequestId,
                Expr::value(Some(request_id)),
            );
        }
        let res = update
            .filter(inbound_message::Column::Id.eq(id))
            .filter(self.open())
            .exec(db)
            .await?;
        if res.rows_affected != 1 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }
}
