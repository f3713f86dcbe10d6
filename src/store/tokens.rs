//! Single-use secret tokens (reset, reactivation, objection, first admin).
//!
//! Only the SHA-256 of a token is stored. Opening a page may *look* at a
//! token ([`peek`]) without using it — mail scanners follow links — while
//! the form submission [`consume`]s it atomically: one `UPDATE` that
//! succeeds only for an unused, unvoided, unexpired token.

use super::{StoreError, entities::token};
use crate::security::{self, IssuedToken};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// « Réinitialisation ou mot de passe oublié ? » (path II), 1 h.
    SelfServiceReset,
    /// Sent to the new address after approval, 24 h.
    ApprovalReset,
    /// « Réactiver mon compte ».
    Reactivation,
    /// The objection link of the alert to the registered address.
    Objection,
    /// The one-time link printed by `serve` to create the first admin.
    FirstAdmin,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelfServiceReset => "self_service_reset",
            Self::ApprovalReset => "approval_reset",
            Self::Reactivation => "reactivation",
            Self::Objection => "objection",
            Self::FirstAdmin => "first_admin",
        }
    }

    /// Kinds that let someone set a subscriber's password.
    pub const PASSWORD_SETTING: [TokenKind; 3] = [
        Self::SelfServiceReset,
        Self::ApprovalReset,
        Self::Reactivation,
    ];
}

/// Who or what a token is for.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenOwner {
    pub subscriber_id: Option<i64>,
    pub request_id: Option<i64>,
    pub staff_id: Option<i64>,
}

/// Issues a token valid for `ttl`. A new password-setting token voids every
/// earlier password-setting token of the same subscriber.
pub async fn issue<C: super::Conn>(
    txn: &C,
    kind: TokenKind,
    owner: TokenOwner,
    ttl: Duration,
) -> Result<IssuedToken, StoreError> {
    let now = Utc::now();
    if let (true, Some(subscriber_id)) = (
        TokenKind::PASSWORD_SETTING.contains(&kind),
        owner.subscriber_id,
    ) {
        void_for_subscriber(txn, subscriber_id, &TokenKind::PASSWORD_SETTING, now).await?;
    }
    let issued = security::new_token()
        .map_err(|e| StoreError::Invalid(format!("générateur aléatoire indisponible : {e}")))?;
    let insert = token::Entity::insert(token::ActiveModel {
        kind: Set(kind.as_str().into()),
        hash: Set(issued.hash.clone()),
        subscriber_id: Set(owner.subscriber_id),
        request_id: Set(owner.request_id),
        staff_id: Set(owner.staff_id),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        voided_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    });
    txn.defer_query(&insert).await?;
    Ok(issued)
}

/// Voids every live token of these kinds for a subscriber (new token,
/// address change, password change). Returns how many were voided.
pub async fn void_for_subscriber<C: crate::store::Conn>(
    txn: &C,
    subscriber_id: i64,
    kinds: &[TokenKind],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let result = token::Entity::update_many()
        .col_expr(token::Column::VoidedAt, Expr::value(Some(now)))
        .filter(token::Column::SubscriberId.eq(subscriber_id))
        .filter(token::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())))
        .filter(token::Column::UsedAt.is_null())
        .filter(token::Column::VoidedAt.is_null())
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}

/// What a token link is worth right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenState {
    Valid(token::Model),
    Expired,
    Used,
    Voided,
    Unknown,
}

/// Looks at a token without using it (GET of a link page).
pub async fn peek<C: crate::store::Conn>(
    db: &C,
    kinds: &[TokenKind],
    secret: &str,
) -> Result<TokenState, StoreError> {
    let Some(m) = find(db, kinds, secret).await? else {
        return Ok(TokenState::Unknown);
    };
    Ok(if m.used_at.is_some() {
        TokenState::Used
    } else if m.expires_at <= Utc::now() {
        TokenState::Expired
    } else if m.voided_at.is_some() {
        TokenState::Voided
    } else {
        TokenState::Valid(m)
    })
}

/// Uses a token, atomically: of two concurrent submissions only one wins.
/// Returns the state it was in when it could not be used.
pub async fn consume<C: crate::store::Conn>(
    txn: &C,
    kinds: &[TokenKind],
    secret: &str,
) -> Result<TokenState, StoreError> {
    if !looks_like_token(secret) {
        return Ok(TokenState::Unknown);
    }
    let now = Utc::now();
    let hash = security::token_hash(secret);
    let result = token::Entity::update_many()
        .col_expr(token::Column::UsedAt, Expr::value(Some(now)))
        .filter(token::Column::Hash.eq(hash.as_str()))
        .filter(token::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())))
        .filter(token::Column::UsedAt.is_null())
        .filter(token::Column::VoidedAt.is_null())
        .filter(token::Column::ExpiresAt.gt(now))
        .exec(txn)
        .await?;
    if result.rows_affected == 1 {
        let m = find(txn, kinds, secret)
            .await?
            .ok_or_else(|| StoreError::NotFound("jeton disparu".into()))?;
        return Ok(TokenState::Valid(m));
    }
    peek(txn, kinds, secret).await
}

async fn find<C: crate::store::Conn>(
    db: &C,
    kinds: &[TokenKind],
    secret: &str,
) -> Result<Option<token::Model>, StoreError> {
    if !looks_like_token(secret) {
        return Ok(None);
    }
    Ok(token::Entity::find()
        .filter(token::Column::Hash.eq(security::token_hash(secret)))
        .filter(token::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())))
        .one(db)
        .await?)
}

/// Tokens are 32 lower-case hex characters; anything else is unknown without a query.
fn looks_like_token(secret: &str) -> bool {
    secret.len() == 32
        && secret
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
