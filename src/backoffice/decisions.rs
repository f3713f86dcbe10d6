//! Staff decisions on one request. Each runs in ONE transaction: the page's
//! `version` is checked (a stale page fails with `Conflict`), the state
//! machine decides, the audit events are appended and the mails queued.

use crate::{
    config::Settings,
    domain::{Action, MailAddress},
    mail::{MailContext, MailKind, NewMail, enqueue},
    store::{
        Db, StoreError, audit,
        entities::{change_request, inbound_message, note, subscriber},
        requests::{self, Actor, TransitionInput},
        subscribers,
        tokens::{self, TokenKind, TokenOwner},
    },
    web::session::{self, Principal},
};
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

/// Every kind of token a subscriber can hold; all die when the address changes.
const ALL_SUBSCRIBER_TOKENS: [TokenKind; 4] = [
    TokenKind::SelfServiceReset,
    TokenKind::ApprovalReset,
    TokenKind::Reactivation,
    TokenKind::Objection,
];

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
async fn open(
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
async fn touch(
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

async fn event(
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

/// The subscriber and new address an approval needs.
async fn approval_target(
    txn: &DatabaseTransaction,
    current: &change_request::Model,
) -> Result<(subscriber::Model, MailAddress), StoreError> {
    let sub_id = current.subscriber_id.ok_or_else(|| StoreError::Invalid("La demande n'est rattachée à aucun abonné : corrigez le numéro d'abonné avant d'approuver.".into()))?;
    let sub = subscribers::find_by_id(txn, sub_id)
        .await?
        .ok_or_else(|| StoreError::NotFound("abonné introuvable".into()))?;
    let new = current
        .new_email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok())
        .ok_or_else(|| {
            StoreError::Invalid(
                "La nouvelle adresse mél est absente ou invalide : corrigez-la avant d'approuver."
                    .into(),
            )
        })?;
    Ok((sub, new))
}

/// Issues a fresh approval token and queues the reset link to `to`.
async fn send_reset_link(
    txn: &DatabaseTransaction,
    settings: &Settings,
    current: &change_request::Model,
    sub: &subscriber::Model,
    to: &MailAddress,
) -> Result<(), StoreError> {
    let hours = i64::try_from(settings.tokens.approval_ttl_hours).unwrap_or(24);
    let issued = tokens::issue(
        txn,
        TokenKind::ApprovalReset,
        TokenOwner {
            subscriber_id: Some(sub.id),
            request_id: Some(current.id),
            staff_id: None,
        },
        Duration::hours(hours),
    )
    .await?;
    let expires = Utc::now() + Duration::hours(hours);
    enqueue(
        txn,
        settings,
        NewMail {
            kind: MailKind::ApprovalResetLink,
            to: to.clone(),
            request_id: Some(current.id),
            in_reply_to: None,
            references: vec![],
            context: MailContext {
                reference: Some(current.reference.clone()),
                subscriber_number: Some(sub.number.clone()),
                organisation: Some(sub.organisation.clone()),
                link: Some(format!(
                    "{}/reinitialisation/{}",
                    settings.public_url(),
                    issued.secret
                )),
                new_address: Some(to.to_string()),
                expires: Some(format!(
                    "{} (heure UTC)",
                    expires.format("%d/%m/%Y à %H:%M")
                )),
                ..Default::default()
            },
        },
    )
    .await?;
    Ok(())
}

/// « Approuver »: in one transaction the state changes, the address is
/// replaced (history row), every token and session of the subscriber dies,
/// the old address is told and the reset link goes to the new one.
pub async fn approve(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    actor: &Actor,
) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    let (sub, new) = approval_target(&txn, &current).await?;
    let input = TransitionInput::new(Action::Approve);
    requests::transition_in(&txn, &current, &input, actor, settings.approval.four_eyes).await?;
    let now = Utc::now();
    let old = sub
        .email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok());
    subscriber::Entity::update_many()
        .col_expr(
            subscriber::Column::Email,
            Expr::value(Some(new.to_string())),
        )
        .col_expr(subscriber::Column::UpdatedAt, Expr::value(now))
        .filter(subscriber::Column::Id.eq(sub.id))
        .exec(&txn)
        .await?;
    subscribers::record_address_change(&txn, sub.id, Some(&new), "approval", Some(current.id), now)
        .await?;
    let voided = tokens::void_for_subscriber(&txn, sub.id, &ALL_SUBSCRIBER_TOKENS, now).await?;
    session::destroy_all(&txn, Principal::Subscriber(sub.id)).await?;
    if let Some(old) = old.as_ref().filter(|o| !o.same_mailbox(&new)) {
        enqueue(
            &txn,
            settings,
            NewMail {
                kind: MailKind::ChangeNotice,
                to: old.clone(),
                request_id: Some(current.id),
                in_reply_to: None,
                references: vec![],
                context: MailContext {
                    reference: Some(current.reference.clone()),
                    subscriber_number: Some(sub.number.clone()),
                    organisation: Some(sub.organisation.clone()),
                    new_address: Some(new.to_string()),
                    ..Default::default()
                },
            },
        )
        .await?;
    }
    send_reset_link(&txn, settings, &current, &sub, &new).await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: actor.audit_name(),
            action: "address_replaced".into(),
            request_id: Some(current.id),
            subject: Some(format!("subscriber:{}", sub.id)),
            details: serde_json::json!({ "tokens_voided": voided, "old_address_notified": old.is_some() }),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// « Renvoyer le lien »: a fresh token to the (already replaced) address;
/// issuing it voids the previous one.
pub async fn resend_link(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    actor: &Actor,
) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    if current.state != "approved" {
        return Err(StoreError::Invalid(
            "Le lien ne peut être renvoyé que pour une demande approuvée.".into(),
        ));
    }
    let (sub, new) = approval_target(&txn, &current).await?;
    touch(&txn, &current, vec![]).await?;
    send_reset_link(&txn, settings, &current, &sub, &new).await?;
    event(
        &txn,
        actor,
        "reset_link_resent",
        current.id,
        None,
        serde_json::json!({}),
    )
    .await?;
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
