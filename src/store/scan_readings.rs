//! What was read from a scanned form, kept with the request it made: each
//! field's value, confidence and box image, and the signature and stamp
//! zones (the « Formulaire numérisé » panel).

use super::{StoreError, entities::scan_reading};
use bareme_forms::{ScannedForm, ValueSource};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// Row names of the two zones cut out of the scan.
pub const SIGNATURE: &str = "_signature";
pub const STAMP: &str = "_stamp";

fn source(s: ValueSource) -> &'static str {
    match s {
        ValueSource::QrCode => "qr_code",
        ValueSource::Ocr => "ocr",
        ValueSource::Ink => "ink",
    }
}

/// Stores what `form` gave for request `request_id`; `uncertain` names the
/// fields read under the confidence threshold.
pub async fn insert<C: crate::store::Conn>(
    txn: &C,
    request_id: i64,
    form: &ScannedForm,
    uncertain: &[String],
) -> Result<(), StoreError> {
    let mut rows = Vec::with_capacity(form.fields.len() + 2);
    for (position, f) in form.fields.iter().enumerate() {
        rows.push(scan_reading::ActiveModel {
            request_id: Set(request_id),
            position: Set(position as i32),
            name: Set(f.name.clone()),
            value: Set(f.value.clone()),
            confidence: Set(f64::from(f.confidence)),
            source: Set(source(f.source).into()),
            uncertain: Set(uncertain.contains(&f.name)),
            image_png: Set(f.image_png.clone()),
            ..Default::default()
        });
    }
    let zones = [(SIGNATURE, &form.signature_png), (STAMP, &form.stamp_png)];
    for (i, (name, png)) in zones.into_iter().enumerate() {
        rows.push(scan_reading::ActiveModel {
            request_id: Set(request_id),
            position: Set((form.fields.len() + i) as i32),
            name: Set(name.into()),
            value: Set(None),
            confidence: Set(1.0),
            source: Set("zone".into()),
            uncertain: Set(false),
            image_png: Set(png.clone()),
            ..Default::default()
        });
    }
    scan_reading::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The readings of request `request_id`, in the form's order (empty when
/// the request was not read from a scan).
pub async fn for_request<C: crate::store::Conn>(
    db: &C,
    request_id: i64,
) -> Result<Vec<scan_reading::Model>, StoreError> {
    Ok(scan_reading::Entity::find()
        .filter(scan_reading::Column::RequestId.eq(request_id))
        .order_by_asc(scan_reading::Column::Position)
        .all(db)
        .await?)
}

/// One image of request `request_id` (the request is part of the key, so
/// that an image is only served on its request's page).
pub async fn image<C: crate::store::Conn>(
    db: &C,
    request_id: i64,
    id: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(scan_reading::Entity::find_by_id(id)
        .filter(scan_reading::Column::RequestId.eq(request_id))
        .one(db)
        .await?
        .map(|r| r.image_png))
}

/// Removes the readings of the requests `ids` (retention purge).
pub async fn delete_for<C: crate::store::Conn>(db: &C, ids: &[i64]) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(scan_reading::Entity::delete_many()
        .filter(scan_reading::Column::RequestId.is_in(ids.iter().copied()))
        .exec(db)
        .await?
        .rows_affected)
}
