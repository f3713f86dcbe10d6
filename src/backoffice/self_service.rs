//! The subscriber's own password links (SPEC §6, path II): « Réinitialisation
//! ou mot de passe oublié ? » and « Réactiver mon compte » queue a link to the
//! registered address; the link page sets the password, voids every other
//! link and session of the subscriber, queues the confirmation and completes
//! an approved change request — all in one transaction.

use super::ServiceError;
use crate::{
    config::Settings,
    domain::{MailAddress, SubscriberNumber, check_password},
    mail::{self, Account, Mail, NewMail, PasswordChanged, SelfServiceResetLink},
    security,
    store::{
        Db, StoreError, audit,
        entities::{subscriber, token},
        requests,
        sessions::{self, Principal},
        subscribers,
        tokens::{self, TokenKind, TokenOwner, TokenState},
    },
};

/// Which of the two self-service links is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// « Réinitialisation ou mot de passe oublié ? »: only for an enabled account.
    Forgot,
    /// « Réactiver mon compte »: only for a disabled account.
    Reactivation,
}

/// Issues the token and queues the mail in one transaction, when the account
/// qualifies; does nothing otherwise. The caller answers the same either way.
pub async fn send_link(
    db: &Db,
    settings: &Settings,
    number: &SubscriberNumber,
    kind: LinkKind,
) -> Result<(), StoreError> {
    let Some(s) = subscribers::find_by_number(db.conn(), number).await? else {
        return Ok(());
    };
    let qualifies = match kind {
        LinkKind::Forgot => !s.disabled,
        LinkKind::Reactivation => s.disabled,
    };
    let Some(to) = s
        .email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok())
        .filter(|_| qualifies)
    else {
        return Ok(());
    };
    let token_kind = match kind {
        LinkKind::Forgot => TokenKind::SelfServiceReset,
        LinkKind::Reactivation => TokenKind::Reactivation,
    };
    let ttl = chrono::Duration::minutes(settings.tokens.self_service_ttl_minutes as i64);
    let txn = db.begin().await?;
    let issued = tokens::issue(
        &txn,
        token_kind,
        TokenOwner {
            subscriber_id: Some(s.id),
            ..Default::default()
        },
        ttl,
    )
    .await?;
    let link = format!(
        "{}/reinitialisation/{}",
        settings.public_url(),
        issued.secret
    );
    mail::enqueue(
        &txn,
        settings,
        NewMail {
            to,
            request_id: None,
            in_reply_to: None,
            references: Vec::new(),
            content: Mail::SelfServiceResetLink(SelfServiceResetLink {
                account: Account {
                    number: s.number.clone(),
                    organisation: s.organisation.clone(),
                },
                reset_link: link,
                expires: chrono::Utc::now() + ttl,
            }),
        },
    )
    .await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: "system".into(),
            action: token_kind.as_str().to_string() + "_link_sent",
            subject: Some(format!("subscriber:{}", s.number)),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// What a password link is worth, without using it (mail scanners open links).
pub async fn link_state(db: &Db, secret: &str) -> Result<LinkState, StoreError> {
    Ok(LinkState::of(
        tokens::peek(db.conn(), &TokenKind::PASSWORD_SETTING, secret).await?,
    ))
}

/// A password link as the subscriber's page needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Valid,
    Expired,
    Used,
    Voided,
    Unknown,
}

impl LinkState {
    fn of(state: TokenState) -> Self {
        match state {
            TokenState::Valid(_) => Self::Valid,
            TokenState::Expired => Self::Expired,
            TokenState::Used => Self::Used,
            TokenState::Voided => Self::Voided,
            TokenState::Unknown => Self::Unknown,
        }
    }
}

/// The end of a password link's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetOutcome {
    /// The password is set; the link and every other one are used up.
    Done,
    /// The link cannot be used (anymore).
    Unusable(LinkState),
    /// The password is refused by the policy: what to change, in French.
    WeakPassword(String),
    /// The two passwords differ.
    Mismatch,
}

/// Sets the subscriber's password through a link, atomically.
pub async fn reset_password(
    db: &Db,
    settings: &Settings,
    secret: &str,
    password: String,
    repetition: &str,
) -> Result<ResetOutcome, ServiceError> {
    let kinds = TokenKind::PASSWORD_SETTING;
    let found = match tokens::peek(db.conn(), &kinds, secret).await? {
        TokenState::Valid(t) => t,
        other => return Ok(ResetOutcome::Unusable(LinkState::of(other))),
    };
    let subscriber = match found.subscriber_id {
        Some(id) => subscribers::find_by_id(db.conn(), id).await?,
        None => None,
    };
    let Some(subscriber) = subscriber else {
        return Ok(ResetOutcome::Unusable(LinkState::Unknown));
    };
    if let Err(e) = check_password(
        &password,
        &[
            &subscriber.number,
            &subscriber.organisation,
            subscriber.manager_name.as_deref().unwrap_or_default(),
        ],
    ) {
        return Ok(ResetOutcome::WeakPassword(e.0));
    }
    if password != repetition {
        return Ok(ResetOutcome::Mismatch);
    }
    let hash = security::hash_password(password).await?;
    let txn = db.begin().await.map_err(StoreError::from)?;
    let used = match tokens::consume(&txn, &kinds, secret).await? {
        TokenState::Valid(t) => t,
        other => return Ok(ResetOutcome::Unusable(LinkState::of(other))),
    };
    apply_new_password(settings, &txn, &used, &subscriber, hash).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(ResetOutcome::Done)
}

async fn apply_new_password(
    settings: &Settings,
    txn: &crate::store::Txn,
    used: &token::Model,
    subscriber: &subscriber::Model,
    hash: String,
) -> Result<(), StoreError> {
    let now = chrono::Utc::now();
    subscribers::set_password_in(txn, subscriber.id, hash, now).await?;
    tokens::void_for_subscriber(txn, subscriber.id, &TokenKind::PASSWORD_SETTING, now).await?;
    sessions::destroy_all(txn, Principal::Subscriber(subscriber.id)).await?;
    audit::append(
        txn,
        audit::NewEvent {
            actor: format!("subscriber:{}", subscriber.number),
            action: "password_reset".into(),
            request_id: used.request_id,
            subject: Some(format!("subscriber:{}", subscriber.number)),
            details: serde_json::json!({ "token_kind": used.kind }),
            ..Default::default()
        },
    )
    .await?;
    if let Some(to) = subscriber
        .email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok())
    {
        mail::enqueue(
            txn,
            settings,
            NewMail {
                to,
                request_id: used.request_id,
                in_reply_to: None,
                references: Vec::new(),
                content: Mail::PasswordChanged(PasswordChanged {
                    account: Account {
                        number: subscriber.number.clone(),
                        organisation: subscriber.organisation.clone(),
                    },
                }),
            },
        )
        .await?;
    }
    if let Some(request_id) = used.request_id {
        requests::complete_in(txn, settings, request_id).await?;
    }
    Ok(())
}
