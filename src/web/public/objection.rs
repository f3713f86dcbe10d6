//! `/opposition/{token}`: the registered address objects to a change
//! request. The page asks for confirmation; the POST sets the request's
//! `contested` flag, which blocks approval until staff lift it.

use super::{csrf_of, csrf_refused};
use crate::{
    domain::Change,
    store::{
        StoreError,
        request_write::{self, Record},
        requests::{self, Actor},
        subscribers,
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
    let Some(request) =
        requests::find_by_id(state.db.conn(), t.request_id.unwrap_or_default()).await?
    else {
        return Ok(unusable());
    };
    let number = match t.subscriber_id {
        Some(id) => subscribers::find_by_id(state.db.conn(), id)
            .await?
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
    let Some(request) = requests::find_by_id(&txn, request_id).await? else {
        return Ok(unusable());
    };
    let comment: String = form
        .commentaire
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(2000)
        .collect();
    let record = Record {
        reason: Some(comment).filter(|c| !c.trim().is_empty()),
        ..Record::default()
    };
    let contest = Change::Contest;
    match request_write::apply(
        &txn,
        &state.settings,
        &request,
        &contest,
        &Actor::RegisteredAddress,
        &record,
    )
    .await
    {
        Ok(_) => {}
        // A closed request has nothing left to object to.
        Err(StoreError::Transition(_)) => return Ok(unusable()),
        Err(e) => return Err(e.into()),
    }
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
