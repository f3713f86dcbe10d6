//! Thread: is this mail a reply on an existing request? Either its
//! In-Reply-To/References name one of our outgoing Message-IDs (table
//! `outbox`), or its subject carries a reference `[BM-YYYY-NNNNN]`.

use super::parse::ParsedMail;
use crate::{
    domain::Reference,
    store::{Conn, StoreError, entities::change_request, outbox, requests},
};

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
pub async fn find<C: Conn>(
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
    if let Some(r) = outbox::request_replied_to(txn, &ours).await? {
        return Ok(Thread::Request(Box::new(r)));
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
