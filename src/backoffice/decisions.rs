//! Staff decisions on one request. Each runs in ONE transaction: the page's
//! `version` is checked (a stale page fails with `Conflict`), the state
//! machine decides, the audit events are appended and the mails queued.
//! Approval and the reset link live in [`super::approval`].

use crate::{
    config::Settings,
    domain::{Action, MailAddress},
    mail::{MailContext, MailKind, NewMail, enqueue},
    store::{
        Db, StoreError, audit,
        entities::{change_request, inbound_message, note},
        requests::{self, Actor, TransitionInput},
        subscribers,
    },
};
use chrono::Utc;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

/// Extracted fields staff may correct (names of SPEC §3).
pub const EDITABLE_FIELDS: [&str; 11] = [
    "numero_abonne",
    "organisme",
    "nom",
    "prenom",
    "fonction",
    "telephone",
    "ancienne_adresse_mel",
    "nouvelle_adresse_mel",
    "signataire_nom",
    "signataire_qualite",
    "date",
];

/// Reads the request inside `txn` and checks the version the page showed.
pub(super) async fn open(
    txn: &DatabaseTransaction,
    reference: &str,
    version: i32,
) -> Result<change_request::Model, StoreError> {
    let current = requests::find(txn, reference).await?;
    if current.version != version {
        return Err(StoreError::Conflict);
    }
    Ok(current)
}

/// Bumps the version of `current` (optimistic lock) with extra column updates.
pub(super) async fn touch(
    txn: &DatabaseTransaction,
    current: &change_request::Model,
    cols: Vec<(change_request::Column, Expr)>,
) -> Result<(), StoreError> {
    let mut update = change_request::Entity::update_many()
        .col_expr(
            change_request::Column::Version,
            Expr::col(change_request::Column::Version).add(1),
        )
        .col_expr(change_request::Column::UpdatedAt, Expr::value(Utc::now()));
    for (col, value) in cols {
        update = update.col_expr(col, value);
    }
    let res = update
        .filter(change_request::Column::Id.eq(current.id))
        .filter(change_request::Column::Version.eq(current.version))
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

pub(super) async fn event(
    txn: &DatabaseTransaction,
    actor: &Actor,
    action: &str,
    request_id: i64,
    reason: Option<String>,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    audit::append(
        txn,
        audit::NewEvent {
            actor: actor.audit_name(),
            action: action.into(),
            request_id: Some(request_id),
            reason,
            details,
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

fn required(text: &str, what: &str) -> Result<String, StoreError> {
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
    reference: &str,
    version: i32,
    actor: &Actor,
    staff_id: i64,
) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    touch(
        &txn,
        &current,
        vec![(
            change_request::Column::AssigneeId,
            Expr::value(Some(staff_id)),
        )],
    )
    .await?;
    event(
        &txn,
        actor,
        "claimed",
        current.id,
        None,
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The Message-ID of the mail that created the request, to thread our answer.
async fn origin_message_id(
    txn: &DatabaseTransaction,
    current: &change_request::Model,
) -> Result<Option<String>, StoreError> {
    let Some(id) = current.origin_message_id else {
        return Ok(None);
    };
    Ok(inbound_message::Entity::find_by_id(id)
        .one(txn)
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

async fn reply_to_requester(
    txn: &DatabaseTransaction,
    settings: &Settings,
    current: &change_request::Model,
    kind: MailKind,
    to: MailAddress,
    message: &str,
) -> Result<(), StoreError> {
    let in_reply_to = origin_message_id(txn, current).await?;
    enqueue(
        txn,
        settings,
        NewMail {
            kind,
            to,
            request_id: Some(current.id),
            references: in_reply_to.iter().cloned().collect(),
            in_reply_to,
            context: MailContext {
                reference: Some(current.reference.clone()),
                subscriber_number: current.claimed_number.clone(),
                message: Some(message.to_string()),
                ..Default::default()
            },
        },
    )
    .await?;
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
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    let to = requester(&current).ok_or_else(|| {
        StoreError::Invalid(
            "L'adresse du demandeur est inconnue : impossible de lui écrire.".into(),
        )
    })?;
    let input = TransitionInput {
        message: Some(message.clone()),
        reason: Some(message.clone()),
        ..TransitionInput::new(Action::RequestInformation)
    };
    requests::transition_in(&txn, &current, &input, actor, settings.approval.four_eyes).await?;
    reply_to_requester(
        &txn,
        settings,
        &current,
        MailKind::InformationRequest,
        to,
        &message,
    )
    .await?;
    txn.commit().await?;
    Ok(())
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
    let method = required(method, "La méthode de vérification")?;
    let comment = required(comment, "Le commentaire")?;
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    let input = TransitionInput {
        verification_method: Some(method),
        reason: Some(comment),
        ..TransitionInput::new(Action::Verify)
    };
    requests::transition_in(&txn, &current, &input, actor, settings.approval.four_eyes).await?;
    txn.commit().await?;
    Ok(())
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
    let code = required(code, "Le motif de rejet")?;
    let message = required(message, "Le message au demandeur")?;
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    let input = TransitionInput {
        rejection_code: Some(code),
        message: Some(message.clone()),
        reason: Some(message.clone()),
        ..TransitionInput::new(Action::Reject)
    };
    requests::transition_in(&txn, &current, &input, actor, settings.approval.four_eyes).await?;
    if let Some(to) = requester(&current) {
        reply_to_requester(&txn, settings, &current, MailKind::Rejection, to, &message).await?;
    }
    txn.commit().await?;
    Ok(())
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
    let comment = required(comment, "Le commentaire")?;
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    let input = TransitionInput {
        reason: Some(comment),
        ..TransitionInput::new(action)
    };
    requests::transition_in(&txn, &current, &input, actor, settings.approval.four_eyes).await?;
    txn.commit().await?;
    Ok(())
}

/// Lifts an objection (`contested`); the comment is required and audited.
pub async fn lift_contest(
    db: &Db,
    reference: &str,
    version: i32,
    comment: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let comment = required(comment, "Le commentaire")?;
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    if !current.contested {
        return Err(StoreError::Invalid(
            "Aucune opposition n'est en cours sur cette demande.".into(),
        ));
    }
    touch(
        &txn,
        &current,
        vec![(change_request::Column::Contested, Expr::value(false))],
    )
    .await?;
    event(
        &txn,
        actor,
        "contest_lifted",
        current.id,
        Some(comment),
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Corrects one extracted field; the old and new values are audited. Fields
/// that drive matching (number, new address) update their columns too.
pub async fn edit_field(
    db: &Db,
    reference: &str,
    version: i32,
    field: &str,
    value: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    if !EDITABLE_FIELDS.contains(&field) {
        return Err(StoreError::Invalid(format!("Champ inconnu : {field}")));
    }
    let value = value.trim().to_string();
    if value.chars().any(char::is_control) || value.chars().count() > 200 {
        return Err(StoreError::Invalid(
            "Valeur refusée : 200 caractères au plus, sur une ligne.".into(),
        ));
    }
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    if current.closed_at.is_some() {
        return Err(StoreError::Invalid(
            "Une demande close ne se modifie plus.".into(),
        ));
    }
    let mut fields: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&current.fields).unwrap_or_default();
    let old = fields.get(field).cloned();
    if value.is_empty() {
        fields.remove(field);
    } else {
        fields.insert(field.into(), value.clone());
    }
    let mut cols = vec![(
        change_request::Column::Fields,
        Expr::value(crate::store::to_json(&fields)),
    )];
    let opt = (!value.is_empty()).then(|| value.clone());
    match field {
        "nouvelle_adresse_mel" => {
            if let Some(v) = &opt {
                MailAddress::parse(v).map_err(|e| StoreError::Invalid(e.0))?;
            }
            cols.push((change_request::Column::NewEmail, Expr::value(opt)));
        }
        "numero_abonne" => {
            let sub = match &opt {
                Some(v) => {
                    let n = crate::domain::SubscriberNumber::parse(v)
                        .map_err(|e| StoreError::Invalid(e.0))?;
                    subscribers::find_by_number(&txn, &n).await?.map(|s| s.id)
                }
                None => None,
            };
            cols.push((change_request::Column::ClaimedNumber, Expr::value(opt)));
            cols.push((change_request::Column::SubscriberId, Expr::value(sub)));
        }
        _ => {}
    }
    touch(&txn, &current, cols).await?;
    event(
        &txn,
        actor,
        "field_edited",
        current.id,
        None,
        serde_json::json!({ "field": field, "old": old, "new": value }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Adds an internal note (never sent).
pub async fn add_note(
    db: &Db,
    reference: &str,
    body: &str,
    actor: &Actor,
    staff_id: i64,
) -> Result<(), StoreError> {
    let body = required(body, "La note")?;
    let txn = db.begin().await?;
    let current = requests::find(&txn, reference).await?;
    note::Entity::insert(note::ActiveModel {
        request_id: Set(current.id),
        staff_id: Set(staff_id),
        body: Set(body),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await?;
    event(
        &txn,
        actor,
        "note_added",
        current.id,
        None,
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
