//! Everything held about one subscriber number or one address, for an
//! access request (RGPD art. 15): the rows [`crate::access_export`] puts in
//! its archive. Addresses are compared case-insensitively.

use super::{
    StoreError,
    entities::{
        attachment, change_request, inbound_message, outbox, subscriber, subscriber_address, token,
    },
};
use crate::domain::{MailAddress, SubscriberNumber};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait, Func},
};

/// Who the access request is about.
#[derive(Debug, Clone)]
pub enum Subject {
    Number(SubscriberNumber),
    Address(MailAddress),
}

impl Subject {
    pub fn describe(&self) -> String {
        match self {
            Subject::Number(n) => format!("subscriber:{n}"),
            Subject::Address(a) => format!("address:{a}"),
        }
    }
}

/// The rows held about a [`Subject`].
#[derive(Debug, Clone, Default)]
pub struct Held {
    pub subscribers: Vec<subscriber::Model>,
    pub history: Vec<subscriber_address::Model>,
    pub requests: Vec<change_request::Model>,
    pub messages: Vec<inbound_message::Model>,
    pub attachments: Vec<attachment::Model>,
    pub sent: Vec<outbox::Model>,
    pub tokens: Vec<token::Model>,
}

fn lower_eq(
    col: impl sea_orm::sea_query::IntoColumnRef,
    value: &str,
) -> sea_orm::sea_query::SimpleExpr {
    Expr::expr(Func::lower(Expr::col(col))).eq(value.to_lowercase())
}

/// Gathers what is held about `subject`.
pub async fn gather<C: crate::store::Conn>(
    conn: &C,
    subject: &Subject,
) -> Result<Held, StoreError> {
    // Subscribers: by number, or by current or former address.
    let subscribers: Vec<subscriber::Model> = match subject {
        Subject::Number(n) => {
            subscriber::Entity::find()
                .filter(subscriber::Column::Number.eq(n.as_str()))
                .all(conn)
                .await?
        }
        Subject::Address(a) => {
            let former: Vec<i64> = subscriber_address::Entity::find()
                .filter(lower_eq(subscriber_address::Column::Email, a.as_str()))
                .all(conn)
                .await?
                .into_iter()
                .map(|h| h.subscriber_id)
                .collect();
            subscriber::Entity::find()
                .filter(
                    Condition::any()
                        .add(lower_eq(subscriber::Column::Email, a.as_str()))
                        .add(subscriber::Column::Id.is_in(former)),
                )
                .all(conn)
                .await?
        }
    };
    let ids: Vec<i64> = subscribers.iter().map(|s| s.id).collect();
    let mut request_cond =
        Condition::any().add(change_request::Column::SubscriberId.is_in(ids.clone()));
    match subject {
        Subject::Number(n) => {
            request_cond = request_cond.add(change_request::Column::ClaimedNumber.eq(n.as_str()))
        }
        Subject::Address(a) => {
            request_cond = request_cond
                .add(lower_eq(change_request::Column::RequesterEmail, a.as_str()))
                .add(lower_eq(change_request::Column::NewEmail, a.as_str()))
        }
    }
    let requests = change_request::Entity::find()
        .filter(request_cond)
        .order_by_asc(change_request::Column::Id)
        .all(conn)
        .await?;
    let request_ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    let mut message_cond =
        Condition::any().add(inbound_message::Column::RequestId.is_in(request_ids.clone()));
    let mut outbox_cond =
        Condition::any().add(outbox::Column::RequestId.is_in(request_ids.clone()));
    if let Subject::Address(a) = subject {
        message_cond = message_cond.add(lower_eq(inbound_message::Column::FromAddress, a.as_str()));
        outbox_cond = outbox_cond.add(lower_eq(outbox::Column::Recipient, a.as_str()));
    }
    for s in &subscribers {
        if let Some(e) = &s.email {
            outbox_cond = outbox_cond.add(lower_eq(outbox::Column::Recipient, e));
        }
    }
    let messages = inbound_message::Entity::find()
        .filter(message_cond)
        .order_by_asc(inbound_message::Column::Id)
        .all(conn)
        .await?;
    let message_ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    let attachments = attachment::Entity::find()
        .filter(attachment::Column::InboundMessageId.is_in(message_ids))
        .order_by_asc(attachment::Column::Id)
        .all(conn)
        .await?;
    let sent = outbox::Entity::find()
        .filter(outbox_cond)
        .order_by_asc(outbox::Column::Id)
        .all(conn)
        .await?;
    let history = subscriber_address::Entity::find()
        .filter(subscriber_address::Column::SubscriberId.is_in(ids.clone()))
        .all(conn)
        .await?;
    let tokens = token::Entity::find()
        .filter(token::Column::SubscriberId.is_in(ids.clone()))
        .all(conn)
        .await?;
    Ok(Held {
        subscribers,
        history,
        requests,
        messages,
        attachments,
        sent,
        tokens,
    })
}
