//! `/opposition/{token}`: the registered address objects to a change
//! request. The page asks for confirmation; the POST sets the request's
//! `contested` flag, which blocks approval until staff lift it.

use super::{csrf_of, csrf_refused};
use crate::{
    store::{
        StoreError, audit,
        entities::{change_request, subscriber},
        tokens::{self, TokenKind, TokenState},
    },
    web::{AppError, AppState, client::ClientIp, csrf, csrf::CsrfToken, pages},
};
use askama::Template;
use axum::{
    Extension, Form,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode},
    response::Response,
};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "public/objection.html")]
struct ObjectionPage {
    csrf: String,
    token: String,
    reference: String,
    number: String,
}

fn unusable() -> Response {
    pages::render(
        StatusCode::GONE,
        &pages::MessagePage::new(
            "Lien d'opposition inutilisable",
            "warning",
            "Ce lien a expiré, a déjà été utilisé ou n'est pas valide. Pour vous opposer à un changement d'adresse, écrivez à la Division des affaires générales en citant la référence de la demande.",
        )
        .link("/informations", "Contacter la DAG"),
    )
}

pub async fn objection_get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(secret): Path<String>,
    token: Option<Extension<CsrfToken>>,
) -> Result<Response, AppError> {
    if !state.limits.per_client.allow(&format!("token:{ip}")) {
        return Ok(unusable());
    }
    let TokenState::Valid(t) =
        tokens::peek(state.db.conn(), &[TokenKind::Objection], &secret).await?
    else {
        return Ok(unusable());
    };
    let Some(request) = change_request::Entity::find_by_id(t.request_id.unwrap_or_default())
        .one(state.db.conn())
        .await
        .map_err(StoreError::from)?
    else {
        return Ok(unusable());
    };
    let number = match t.subscriber_id {
        Some(id) => subscriber::Entity::find_by_id(id)
            .one(state.db.conn())
            .await
            .map_err(StoreError::from)?
            .map(|s| s.number),
        None => None,
    };
    Ok(pages::render(
        StatusCode::OK,
        &ObjectionPage {
            csrf: csrf_of(token),
            token: secret,
            reference: request.reference,
            number: number.or(request.claimed_number).unwrap_or_default(),
        },
    ))
}

#[derive(Deserialize)]
pub struct ObjectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    commentaire: String,
}

pub async fn objection_post(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<ObjectionForm>,
) -> Result<Response, AppError> {
    if !csrf::verify(&state, &headers, &method, &form.csrf) {
        return Ok(csrf_refused());
    }
    let txn = state.db.begin().await?;
    let TokenState::Valid(t) = tokens::consume(&txn, &[TokenKind::Objection], &secret).await?
    else {
        return Ok(unusable());
    };
    let Some(request_id) = t.request_id else {
        return Ok(unusable());
    };
    change_request::Entity::update_many()
        .col_expr(change_request::Column::Contested, Expr::value(true))
        .col_expr(
            change_request::Column::Version,
            Expr::col(change_request::Column::Version).add(1),
        )
        .col_expr(
            change_request::Column::UpdatedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(change_request::Column::Id.eq(request_id))
        .exec(&txn)
        .await
        .map_err(StoreError::from)?;
    let comment: String = form
        .commentaire
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(2000)
        .collect();
    audit::append(
        &txn,
        audit::NewEvent {
            actor: "registered_address".into(),
            action: "objection_raised".into(),
            request_id: Some(request_id),
            reason: Some(comment).filter(|c| !c.trim().is_empty()),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(pages::render(
        StatusCode::OK,
        &pages::MessagePage::new(
            "Opposition enregistrée",
            "success",
            "Votre opposition est enregistrée : la demande est bloquée et la Division des affaires générales vérifiera la situation avant toute suite.",
        ),
    ))
}
