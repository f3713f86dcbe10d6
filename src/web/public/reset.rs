//! `/reinitialisation/{token}`: opening the page does not use the token
//! (mail scanners follow links); the POST does, atomically, then sets the
//! password, voids every other token and session of the subscriber, queues
//! the confirmation and completes an approved change request.

use super::{csrf_of, csrf_refused};
use crate::{
    domain::{MailAddress, check_password},
    mail::{self, MailContext, MailKind, NewMail},
    security,
    store::{
        StoreError, audit,
        entities::token,
        requests, subscribers,
        tokens::{self, TokenKind, TokenState},
    },
    web::{
        AppError, AppState,
        client::ClientIp,
        csrf,
        csrf::CsrfToken,
        pages,
        session::{self, Principal},
    },
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
#[template(path = "public/reset.html")]
struct ResetPage {
    csrf: String,
    token: String,
    done: bool,
    error_password: Option<String>,
    error_repeat: Option<String>,
}

/// The page for a link that cannot be used, saying what to do next.
fn unusable(state: TokenState) -> Response {
    let why = match state {
        TokenState::Expired => "Ce lien a expiré.",
        TokenState::Used => "Ce lien a déjà été utilisé.",
        TokenState::Voided => "Ce lien a été remplacé par un lien plus récent ou annulé.",
        _ => "Ce lien n'est pas valide.",
    };
    pages::render(
        StatusCode::GONE,
        &pages::MessagePage::new(
            "Lien de réinitialisation inutilisable",
            "warning",
            format!("{why} Demandez un nouveau lien depuis la page de connexion (« Réinitialisation ou mot de passe oublié ? »). Si vous n'avez plus accès à l'adresse mél enregistrée, suivez la procédure de changement d'adresse."),
        )
        .link("/mot-de-passe-oublie", "Demander un nouveau lien")
        .link("/aide", "Je n'ai plus accès à l'adresse mél enregistrée"),
    )
}

pub async fn reset_get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(secret): Path<String>,
    token: Option<Extension<CsrfToken>>,
) -> Result<Response, AppError> {
    if !state.limits.per_client.allow(&format!("token:{ip}")) {
        return Ok(too_many());
    }
    match tokens::peek(state.db.conn(), &TokenKind::PASSWORD_SETTING, &secret).await? {
        TokenState::Valid(_) => Ok(pages::render(
            StatusCode::OK,
            &ResetPage {
                csrf: csrf_of(token),
                token: secret,
                done: false,
                error_password: None,
                error_repeat: None,
            },
        )),
        other => Ok(unusable(other)),
    }
}

fn too_many() -> Response {
    pages::render(
        StatusCode::TOO_MANY_REQUESTS,
        &pages::MessagePage::new(
            "Trop de tentatives",
            "error",
            "Trop de tentatives depuis votre connexion : patientez quinze minutes puis recommencez.",
        ),
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    repetition: String,
}

pub async fn reset_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(secret): Path<String>,
    token: Option<Extension<CsrfToken>>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    if !csrf::verify(&state, &headers, &method, &form.csrf) {
        return Ok(csrf_refused());
    }
    if !state.limits.per_client.allow(&format!("token:{ip}")) {
        return Ok(too_many());
    }
    let kinds = TokenKind::PASSWORD_SETTING;
    let TokenState::Valid(found) = tokens::peek(state.db.conn(), &kinds, &secret).await? else {
        return Ok(unusable(
            tokens::peek(state.db.conn(), &kinds, &secret).await?,
        ));
    };
    let subscriber = match found.subscriber_id {
        Some(id) => subscribers::find_by_id(state.db.conn(), id).await?,
        None => None,
    };
    let Some(subscriber) = subscriber else {
        return Ok(unusable(TokenState::Unknown));
    };
    let again = |error_password: Option<String>, error_repeat: Option<String>| {
        pages::render(
            StatusCode::BAD_REQUEST,
            &ResetPage {
                csrf: csrf_of(token.clone()),
                token: secret.clone(),
                done: false,
                error_password,
                error_repeat,
            },
        )
    };
    if let Err(e) = check_password(
        &form.mot_de_passe,
        &[&subscriber.number, &subscriber.organisation],
    ) {
        return Ok(again(Some(e.0), None));
    }
    if form.mot_de_passe != form.repetition {
        return Ok(again(
            None,
            Some("Les deux mots de passe sont différents : saisissez deux fois le même.".into()),
        ));
    }
    let hash = security::hash_password(form.mot_de_passe)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;

    let txn = state.db.begin().await?;
    let used = match tokens::consume(&txn, &kinds, &secret).await? {
        TokenState::Valid(t) => t,
        other => return Ok(unusable(other)),
    };
    apply_new_password(&state, &txn, &used, &subscriber, hash).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(pages::render(
        StatusCode::OK,
        &ResetPage {
            csrf: csrf_of(token),
            token: String::new(),
            done: true,
            error_password: None,
            error_repeat: None,
        },
    ))
}

async fn apply_new_password(
    state: &AppState,
    txn: &sea_orm::DatabaseTransaction,
    used: &token::Model,
    subscriber: &crate::store::entities::subscriber::Model,
    hash: String,
) -> Result<(), AppError> {
    let now = chrono::Utc::now();
    subscribers::set_password_in(txn, subscriber.id, hash, now).await?;
    tokens::void_for_subscriber(txn, subscriber.id, &TokenKind::PASSWORD_SETTING, now).await?;
    session::destroy_all(txn, Principal::Subscriber(subscriber.id))
        .await
        .map_err(StoreError::from)?;
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
            &state.settings,
            NewMail {
                kind: MailKind::PasswordChanged,
                to,
                request_id: used.request_id,
                in_reply_to: None,
                references: Vec::new(),
                context: MailContext {
                    subscriber_number: Some(subscriber.number.clone()),
                    organisation: Some(subscriber.organisation.clone()),
                    link: Some(format!("{}/", state.settings.public_url())),
                    ..Default::default()
                },
            },
        )
        .await?;
    }
    if let Some(request_id) = used.request_id {
        requests::complete_in(txn, &state.settings, request_id).await?;
    }
    Ok(())
}
