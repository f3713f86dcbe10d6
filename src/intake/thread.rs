//! Thread: is this mail a reply on an existing request? Either its
//! In-Reply-To/References name one of our outgoing Message-IDs (table
//! `outbox`), or its subject carries a reference `[BM-YYYY-NNNNN]`.

use super::parse::ParsedMail;
use crate::{
    domain::Reference,
    store::{
        StoreError,
        entities::{change_request, outbox},
        requests,
    },
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

/// Flag of a mail whose subject names a reference we do not know.
pub const UNKNOWN_REFERENCE: &str = "reference_inconnue";
/// Flag of a reply written by someone other than the original requester.
pub const OTHER_SENDER: &str = "expediteur_different";

/// What threading found.
#[derive(Debug)]
pub enum Thread {
    Request(Box<change_request::Model>),
    /// A reference in the subject that matches no request.
    UnknownReference,
    None,
}

/// Finds the request `mail` replies to. `our_domain` is the right-hand side
/// of our Message-IDs.
pub async fn find<C: ConnectionTrait>(
    txn: &C,
    mail: &ParsedMail,
    our_domain: &str,
) -> Result<Thread, StoreError> {
    let suffix = format!("@{}", our_domain.to_ascii_lowercase());
    let ours: Vec<&str> = mail
        .thread_ids
        .iter()
        .filter(|id| id.to_ascii_lowercase().ends_with(&suffix))
        .map(String::as_str)
        .collect();
    if !ours.is_empty() {
        let sent = outbox::Entity::find()
            .filter(outbox::Column::MessageId.is_in(ours))
            .filter(outbox::Column::RequestId.is_not_null())
            .order_by_desc(outbox::Column::Id)
            .one(txn)
            .await?;
        if let Some(request_id) = sent.and_then(|o| o.request_id)
            && let Some(r) = change_request::Entity::find_by_id(request_id)
                .one(txn)
                .await?
        {
            return Ok(Thread::Request(Box::new(r)));
        }
    }
    let Some(reference) = mail.subject.as_deref().and_then(Reference::find_in) else {
        return Ok(Thread::None);
    };
    match requests::find(txn, &reference.to_string()).await {
        Ok(r) => Ok(Thread::Request(Box::new(r))),
        Err(StoreError::NotFound(_)) => Ok(Thread::UnknownReference),
        Err(e) => Err(e),
    }
}
