//! `POST /gestion/demandes/{reference}/{action}`: every decision on a
//! request. Each form carries the CSRF token and the `version` of the page
//! it was shown on; a stale page gets a 409 in French.

use super::{Staff, check_csrf, fail, forbidden, request_url, see_other};
use crate::{
    backoffice::{approval, corrections, decisions},
    domain::Action,
    web::AppState,
};
use axum::{
    Form,
    extract::{Path, State},
    http::HeaderMap,
    response::Response,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    csrf: String,
    version: i32,
    #[serde(default)]
    methode: String,
    #[serde(default)]
    commentaire: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    motif: String,
    #[serde(default)]
    champ: String,
    #[serde(default)]
    valeur: String,
}

/// Reason codes of « Rejeter »: (code, French label).
pub use crate::vocabulary::labels::REJECTION_REASONS as REJECTION_CODES;

pub async fn request_action_post(
    State(state): State<AppState>,
    staff: Staff,
    Path((reference, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let back = request_url(&reference);
    let (db, settings, actor, v) = (
        &state.db,
        state.settings.as_ref(),
        staff.actor(),
        form.version,
    );
    let result = match action.as_str() {
        "prendre-en-charge" => decisions::claim(db, settings, &reference, v, &actor).await,
        "complement" => {
            decisions::request_information(db, settings, &reference, v, &form.message, &actor).await
        }
        "verifier" => {
            decisions::verify(
                db,
                settings,
                &reference,
                v,
                &form.methode,
                &form.commentaire,
                &actor,
            )
            .await
        }
        "approuver" => {
            if !staff.role.can_approve() {
                return forbidden(
                    "Seul un approbateur ou un administrateur peut approuver une demande.",
                );
            }
            approval::approve(db, settings, &reference, v, &actor).await
        }
        "rejeter" => {
            if !REJECTION_CODES.iter().any(|(c, _)| *c == form.motif) {
                return fail(
                    crate::store::StoreError::Invalid("Choisissez un motif de rejet.".into()),
                    &back,
                );
            }
            decisions::reject(
                db,
                settings,
                &reference,
                v,
                &form.motif,
                &form.message,
                &actor,
            )
            .await
        }
        "renvoyer-lien" => {
            if !staff.role.can_approve() {
                return forbidden(
                    "Seul un approbateur ou un administrateur peut renvoyer le lien.",
                );
            }
            approval::resend_link(db, settings, &reference, v, &actor).await
        }
        "classer" => {
            decisions::simple_transition(
                db,
                settings,
                &reference,
                v,
                Action::Cancel,
                &form.commentaire,
                &actor,
            )
            .await
        }
        "remettre" => {
            decisions::simple_transition(
                db,
                settings,
                &reference,
                v,
                Action::ReturnToReview,
                &form.commentaire,
                &actor,
            )
            .await
        }
        "lever-opposition" => {
            decisions::lift_contest(db, settings, &reference, v, &form.commentaire, &actor).await
        }
        "champ" => {
            let (field, value) = (&form.champ, &form.valeur);
            corrections::edit_field(db, settings, &reference, v, field, value, &actor).await
        }
        "confirmer-lecture" => corrections::confirm_scan(db, settings, &reference, v, &actor).await,
        "note" => decisions::add_note(db, settings, &reference, v, &form.commentaire, &actor).await,
        _ => {
            return fail(
                crate::store::StoreError::NotFound("action inconnue".into()),
                &back,
            );
        }
    };
    match result {
        Ok(()) => see_other(&back),
        Err(e) => fail(e, &back),
    }
}
