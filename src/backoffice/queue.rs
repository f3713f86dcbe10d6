//! The queue of requests: counts per state, filters, search, oldest first,
//! pages of [`PAGE_SIZE`].

use crate::{
    domain::RequestState,
    store::{Conn, StoreError, entities::change_request, request_queue},
};

use std::sync::OnceLock;

pub use crate::store::{
    request_queue::{Assignee, PAGE_SIZE, QueueFilter, counts},
    staff::{staff_names, staff_names_by_username},
};

/// One line of the queue.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub reference: String,
    pub state_label: &'static str,
    pub claimed_number: String,
    pub requester_email: String,
    pub new_email: String,
    pub flags: Vec<String>,
    pub contested: bool,
    pub assignee: String,
    pub created_at: String,
}

/// One page of the queue and whether another follows.
#[derive(Debug, Clone, Default)]
pub struct QueuePage {
    pub rows: Vec<QueueRow>,
    pub has_next: bool,
    /// The rows as the queue page shows them, rendered by the first view of
    /// this page and reused by the views that share it: nothing in the rows
    /// depends on who looks at them (what does — the viewer's name, token,
    /// menu, filters — is rendered for each view).
    pub html: OnceLock<String>,
}

/// One page of requests matching `filter`, oldest first.
pub async fn page<C: Conn>(db: &C, filter: &QueueFilter) -> Result<QueuePage, StoreError> {
    let (models, has_next) = request_queue::page(db, filter).await?;
    let names = staff_names(db).await?;
    let rows = models
        .into_iter()
        .map(|m| QueueRow {
            state_label: RequestState::parse(&m.state)
                .map(RequestState::label)
                .unwrap_or("?"),
            reference: m.reference,
            claimed_number: m.claimed_number.unwrap_or_default(),
            requester_email: m.requester_email.unwrap_or_default(),
            new_email: m.new_email.unwrap_or_default(),
            flags: serde_json::from_str::<Vec<String>>(&m.flags)
                .unwrap_or_default()
                .iter()
                .map(|f| crate::vocabulary::flag_label(f))
                .collect(),
            contested: m.contested,
            assignee: m
                .assignee_id
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_default(),
            created_at: super::fmt_date(m.created_at),
        })
        .collect();
    Ok(QueuePage {
        rows,
        has_next,
        html: OnceLock::new(),
    })
}

/// Every request matching `filter` (no paging), oldest first, for the CSV export.
pub async fn all<C: Conn>(
    db: &C,
    filter: &QueueFilter,
) -> Result<Vec<change_request::Model>, StoreError> {
    request_queue::all(db, filter).await
}
