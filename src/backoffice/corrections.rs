//! « Corriger un champ »: staff correct a claimed field. The subscriber
//! number re-targets the request (and alerts the new subscriber's registered
//! address), the new address replaces the claimed one; the domain decides
//! whether the request may still change (not after approval) and whether it
//! goes back to « À instruire ».

use super::decisions::change;
use crate::{
    config::Settings,
    domain::{Change, ClaimedField, MailAddress, SubscriberNumber},
    store::{Db, StoreError, request_write::Record, requests::Actor, subscribers},
};

/// Extracted fields staff may correct (names of SPEC §3).
pub const EDITABLE_FIELDS: [ClaimedField; 11] = ClaimedField::ALL;

/// The change a correction of `field` to `value` means.
async fn correction(
    db: &Db,
    field: ClaimedField,
    value: Option<&str>,
) -> Result<Change, StoreError> {
    let invalid = |e: crate::domain::InvalidValue| StoreError::Invalid(e.0);
    Ok(match field {
        ClaimedField::SubscriberNumber => {
            let number = value
                .map(SubscriberNumber::parse)
                .transpose()
                .map_err(invalid)?;
            let subscriber_id = match &number {
                Some(n) => subscribers::find_by_number(db.conn(), n)
                    .await?
                    .map(|s| s.id),
                None => None,
            };
            Change::SetSubscriber {
                number,
                subscriber_id,
            }
        }
        ClaimedField::NewAddress => {
            Change::SetNewAddress(value.map(MailAddress::parse).transpose().map_err(invalid)?)
        }
        _ => Change::Correct {
            field,
            value: value.map(str::to_string),
        },
    })
}

/// Corrects one claimed field; the old and new values are audited.
pub async fn edit_field(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    field: &str,
    value: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let field = ClaimedField::parse(field)
        .ok_or_else(|| StoreError::Invalid(format!("Champ inconnu : {field}")))?;
    let value = value.trim();
    if value.chars().any(char::is_control) || value.chars().count() > 200 {
        return Err(StoreError::Invalid(
            "Valeur refusée : 200 caractères au plus, sur une ligne.".into(),
        ));
    }
    let value = (!value.is_empty()).then_some(value);
    let change_ = correction(db, field, value).await?;
    change(
        db,
        settings,
        reference,
        version,
        change_,
        actor,
        Record::default(),
    )
    .await
}

/// « Confirmer les valeurs lues »: staff have compared the values read from
/// a scanned form with the images of their boxes; the new address read
/// becomes the request's (it never does without this) and the « lecture
/// incertaine » flag goes. Audited as `scan_confirmed`.
pub async fn confirm_scan(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    actor: &Actor,
) -> Result<(), StoreError> {
    let current = crate::store::requests::find(db.conn(), reference).await?;
    if crate::store::scan_readings::for_request(db.conn(), current.id)
        .await?
        .is_empty()
    {
        return Err(StoreError::Invalid(
            "Cette demande n'a pas été lue sur un formulaire numérisé : rien à confirmer.".into(),
        ));
    }
    let data = crate::domain::ClaimedData::from_json(&current.fields);
    let new_address = match data.get(ClaimedField::NewAddress) {
        Some(read) => Some(MailAddress::parse(read).map_err(|_| {
            StoreError::Invalid(format!(
                "La nouvelle adresse lue « {read} » n'est pas une adresse mél : corrigez-la avec « Corriger un champ »."
            ))
        })?),
        None => None,
    };
    change(
        db,
        settings,
        reference,
        version,
        Change::ConfirmScan { new_address },
        actor,
        Record::default(),
    )
    .await
}
