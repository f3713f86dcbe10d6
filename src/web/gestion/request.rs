//! The request page `/gestion/demandes/{reference}`.

use super::{Chrome, Staff, fail};
use crate::{
    backoffice::{
        corrections::EDITABLE_FIELDS,
        fmt_date,
        mailview::{self, MessageView},
        queue::staff_names,
    },
    domain::{RequestState, Role},
    store::{
        entities::note,
        requests::{self, CheckOutcome, SubscriberRecord},
    },
    web::{AppState, pages::render},
};
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// French labels of the form fields (SPEC §3 names).
pub fn field_label(name: &str) -> &str {
    match name {
        "numero_abonne" => "N° abonné",
        "organisme" => "Organisme",
        "situation_nouveau" => "Nouveau sur le poste",
        "situation_oubli" => "Toujours en poste, mot de passe oublié",
        "nom" => "Nom",
        "prenom" => "Prénom",
        "fonction" => "Fonction",
        "telephone" => "Téléphone",
        "ancienne_adresse_mel" => "Ancienne adresse mél",
        "nouvelle_adresse_mel" => "Nouvelle adresse mél",
        "nouvelle_adresse_mel_confirmation" => "Confirmation de la nouvelle adresse",
        "signataire_nom" => "Nom du signataire",
        "signataire_qualite" => "Qualité du signataire",
        "fait_a" => "Fait à",
        "date" => "Date",
        other => other,
    }
}

pub struct CheckView {
    pub label: String,
    pub class: &'static str,
    pub verdict: &'static str,
    pub detail: String,
}

pub struct OutView {
    pub at: String,
    pub to: String,
    pub subject: String,
    pub status: String,
}

pub struct EventView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub change: String,
    pub reason: String,
}

/// Which actions the page offers.
pub struct Offers {
    pub claim: bool,
    pub information: bool,
    pub verify: bool,
    pub approve: bool,
    pub reject: bool,
    pub resend: bool,
    pub cancel: bool,
    pub back_to_review: bool,
    pub edit: bool,
}

#[derive(Template)]
#[template(path = "gestion/request.html")]
struct RequestPage {
    chrome: Chrome,
    reference: String,
    url: String,
    version: i32,
    state_label: &'static str,
    assignee: String,
    contested: bool,
    flags: Vec<String>,
    situation: String,
    claimed: Vec<(String, String)>,
    subscriber: Option<SubscriberRecord>,
    checks: Vec<CheckView>,
    auth: Vec<(String, String)>,
    verification: Option<(String, String, String)>,
    messages: Vec<MessageView>,
    outgoing: Vec<OutView>,
    notes: Vec<(String, String, String)>,
    timeline: Vec<EventView>,
    offers: Offers,
    editable: Vec<(&'static str, &'static str)>,
}

fn offers(state: RequestState, role: Role, closed: bool) -> Offers {
    use RequestState as S;
    let open = matches!(state, S::PendingReview | S::AwaitingRequester | S::Verified);
    Offers {
        claim: open,
        information: state == S::PendingReview,
        verify: state == S::PendingReview,
        approve: state == S::Verified && role.can_approve(),
        reject: open,
        resend: state == S::Approved && role.can_approve(),
        cancel: matches!(state, S::PendingReview | S::AwaitingRequester),
        back_to_review: matches!(state, S::AwaitingRequester | S::Verified),
        edit: open && !closed,
    }
}

/// `GET /gestion/demandes/{reference}`.
pub async fn request_detail_get(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
) -> Response {
    let db = state.db.conn();
    let load = async {
        let model = requests::find(db, &reference).await?;
        let detail = requests::show(db, &reference).await?;
        let messages = mailview::for_request(db, model.id).await?;
        let notes = note::Entity::find()
            .filter(note::Column::RequestId.eq(model.id))
            .order_by_asc(note::Column::Id)
            .all(db)
            .await?;
        let names = staff_names(db).await?;
        Ok::<_, crate::store::StoreError>((model, detail, messages, notes, names))
    };
    let (model, detail, messages, notes, names) = match load.await {
        Ok(v) => v,
        Err(e) => return fail(e, "/gestion"),
    };
    let name = |id: Option<i64>| id.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
    let st = RequestState::parse(&model.state).unwrap_or(RequestState::PendingReview);
    let auth = model
        .origin_message_id
        .and_then(|id| messages.iter().find(|m| m.id == id))
        .or(messages.first())
        .map(|m| m.auth.clone())
        .unwrap_or_default();
    let page = RequestPage {
        chrome: staff.chrome(),
        url: super::request_url(&model.reference),
        reference: model.reference.clone(),
        version: model.version,
        state_label: st.label(),
        assignee: name(model.assignee_id),
        contested: model.contested,
        flags: detail.summary.flags.clone(),
        situation: match detail.situation.as_deref() {
            Some("nouveau") => "Nouveau sur le poste".into(),
            Some("oubli") => "Toujours en poste, mot de passe oublié".into(),
            Some(other) => other.into(),
            None => "Non précisée".into(),
        },
        claimed: detail
            .fields
            .iter()
            .map(|(k, v)| (field_label(k).to_string(), v.clone()))
            .collect(),
        subscriber: detail.subscriber.clone(),
        checks: detail
            .checks
            .iter()
            .map(|c| {
                let (class, verdict) = match c.outcome {
                    CheckOutcome::Match => ("fr-badge--success", "Conforme"),
                    CheckOutcome::Mismatch => ("fr-badge--error", "Non conforme"),
                    CheckOutcome::Unknown => ("fr-badge--info", "Inconnu"),
                };
                CheckView {
                    label: c.label.clone(),
                    class,
                    verdict,
                    detail: c.detail.clone().unwrap_or_default(),
                }
            })
            .collect(),
        auth,
        verification: detail.verification_method.clone().map(|m| {
            (
                m,
                detail.verification_comment.clone().unwrap_or_default(),
                name(model.verified_by),
            )
        }),
        messages,
        outgoing: detail
            .thread
            .iter()
            .filter(|t| t.direction == "out")
            .map(|t| OutView {
                at: fmt_date(t.at),
                to: t.party.clone().unwrap_or_default(),
                subject: t.subject.clone().unwrap_or_default(),
                status: t.status.clone(),
            })
            .collect(),
        notes: notes
            .into_iter()
            .map(|n| (fmt_date(n.created_at), name(Some(n.staff_id)), n.body))
            .collect(),
        timeline: detail
            .timeline
            .iter()
            .map(|e| EventView {
                at: fmt_date(e.at),
                actor: e.actor.clone(),
                action: e.action.clone(),
                change: match (&e.from_state, &e.to_state) {
                    (Some(f), Some(t)) => format!("{} → {}", label(f), label(t)),
                    (None, Some(t)) => label(t).to_string(),
                    _ => String::new(),
                },
                reason: e.reason.clone().unwrap_or_default(),
            })
            .collect(),
        offers: offers(st, staff.role, model.closed_at.is_some()),
        editable: EDITABLE_FIELDS
            .iter()
            .map(|f| (f.name(), f.label()))
            .collect(),
    };
    render(StatusCode::OK, &page)
}

fn label(state: &str) -> &'static str {
    RequestState::parse(state)
        .map(RequestState::label)
        .unwrap_or("?")
}
