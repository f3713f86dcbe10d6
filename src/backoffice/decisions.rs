//! Staff decisions on one request. Each runs in ONE transaction: the page's
//! `version` is checked (a stale page fails with `Conflict`), the domain
//! decides and the store's one write path records it with its audit event;
//! the mails the decision calls for are queued in the same transaction.
//! Corrections of claimed data live in [`super::corrections`], approval and
//! the reset link in [`super::approval`].

use crate::{
    config::Settings,
    domain::{Action, Change, FollowUp, MailAddress},
    mail::{Mail, NewMail, StaffMessage, enqueue},
    store::{
        Db, StoreError, Txn,
        entities::change_request,
        inbox, notes,
        request_write::{self, Applied, Record},
        requests::{self, Actor},
    },
};

/// Reads the request inside `txn` and checks the version the page showed.
pub(super) async fn open(
    txn: &Txn,
    reference: &str,
    version: i32,
) -> Result<change_request::Model, StoreError> {
    let current = requests::find(txn, reference).await?;
    if current.version != version {
        return Err(StoreError::Conflict);
    }
    Ok(current)
}

/// Opens the request at `version`, applies `change` through the write path,
/// queues the mails to the requester the decision calls for, and commits.
pub(super) async fn change(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    change: Change,
    actor: &Actor,
    record: Record,
) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    if change == Change::Transition(Action::RequestInformation) && requester(&current).is_none() {
        return Err(StoreError::Invalid(
            "L'adresse du demandeur est inconnue : impossible de lui écrire.".into(),
        ));
    }
    let applied = request_write::apply(&txn, settings, &current, &change, actor, &record).await?;
    reply_mails(&txn, settings, &current, &applied, &record).await?;
    txn.commit().await?;
    Ok(())
}

pub(super) fn required(text: &str, what: &str) -> Result<String, StoreError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(StoreError::Invalid(format!("{what} est obligatoire.")));
    }
    if t.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(StoreError::Invalid(format!(
            "{what} contient des caractères interdits."
        )));
    }
    Ok(t.replace("\r\n", "\n"))
}

/// « Prendre en charge »: the request is assigned to the actor.
pub async fn claim(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    actor: &Actor,
) -> Result<(), StoreError> {
    let record = Record::default();
    change(
        db,
        settings,
        reference,
        version,
        Change::Assign,
        actor,
        record,
    )
    .await
}

/// The Message-ID of the mail that created the request, to thread our answer.
async fn origin_message_id(
    txn: &Txn,
    current: &change_request::Model,
) -> Result<Option<String>, StoreError> {
    let Some(id) = current.origin_message_id else {
        return Ok(None);
    };
    Ok(inbox::find_message(txn, id)
        .await?
        .and_then(|m| m.message_id)
        .filter(|id| !id.contains(['<', '>', ' ']) && !id.chars().any(char::is_control)))
}

fn requester(current: &change_request::Model) -> Option<MailAddress> {
    current
        .requester_email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok())
}

/// Queues the mails to the requester that the decision calls for.
async fn reply_mails(
    txn: &Txn,
    settings: &Settings,
    current: &change_request::Model,
    applied: &Applied,
    record: &Record,
) -> Result<(), StoreError> {
    for follow in &applied.decision.mails {
        let message = StaffMessage {
            reference: current.reference.clone(),
            message: record.message.clone(),
        };
        let content = match follow {
            FollowUp::InformationRequest => Mail::InformationRequest(message),
            FollowUp::Rejection => Mail::Rejection(message),
            _ => continue,
        };
        let Some(to) = requester(current) else {
            continue;
        };
        let in_reply_to = origin_message_id(txn, current).await?;
        enqueue(
            txn,
            settings,
            NewMail {
                to,
                request_id: Some(current.id),
                references: in_reply_to.iter().cloned().collect(),
                in_reply_to,
                content,
            },
        )
        .await?;
    }
    Ok(())
}

/// « Demander un complément »: the message goes to the requester and the
/// request waits for them.
pub async fn request_information(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    message: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let message = required(message, "Le message au demandeur")?;
    let record = Record {
        message: Some(message.clone()),
        reason: Some(message),
        ..Record::default()
    };
    let change_ = Change::Transition(Action::RequestInformation);
    change(db, settings, reference, version, change_, actor, record).await
}

/// « Marquer comme vérifiée »: how identity was checked, and a comment.
pub async fn verify(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    method: &str,
    comment: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let record = Record {
        verification_method: Some(required(method, "La méthode de vérification")?),
        reason: Some(required(comment, "Le commentaire")?),
        ..Record::default()
    };
    let change_ = Change::Transition(Action::Verify);
    change(db, settings, reference, version, change_, actor, record).await
}

/// « Rejeter »: a reason code and a message to the requester.
pub async fn reject(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    code: &str,
    message: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let message = required(message, "Le message au demandeur")?;
    let record = Record {
        rejection_code: Some(required(code, "Le motif de rejet")?),
        message: Some(message.clone()),
        reason: Some(message),
        ..Record::default()
    };
    let change_ = Change::Transition(Action::Reject);
    change(db, settings, reference, version, change_, actor, record).await
}

/// « Classer sans suite » and « Remettre à instruire »: transitions with a comment.
pub async fn simple_transition(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    action: Action,
    comment: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let record = Record {
        reason: Some(required(comment, "Le commentaire")?),
        ..Record::default()
    };
    let change_ = Change::Transition(action);
    change(db, settings, reference, version, change_, actor, record).await
}

/// Lifts an objection (`contested`); the comment is required and audited.
pub async fn lift_contest(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    comment: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let record = Record {
        reason: Some(required(comment, "Le commentaire")?),
        ..Record::default()
    };
    change(
        db,
        settings,
        reference,
        version,
        Change::LiftContest,
        actor,
        record,
    )
    .await
}

/// Adds an internal note (never sent).
pub async fn add_note(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    body: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let body = required(body, "La note")?;
    let staff_id = actor
        .staff_id()
        .ok_or_else(|| StoreError::Invalid("Seul un agent connecté ajoute une note.".into()))?;
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    request_write::apply(
        &txn,
        settings,
        &current,
        &Change::AddNote,
        actor,
        &Record::default(),
    )
    .await?;
    notes::add(&txn, current.id, staff_id, body).await?;
    txn.commit().await?;
    Ok(())
}
