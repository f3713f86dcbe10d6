//! Table `scan_readings`: what was read from a scanned form, box by box.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_readings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub request_id: i64,
    pub position: i32,
    /// Field name (SPEC §3), or `_signature` / `_stamp`.
    pub name: String,
    pub value: Option<String>,
    pub confidence: f64,
    /// `qr_code`, `ocr`, `ink` or `zone`.
    pub source: String,
    /// Read with a confidence under `intake.ocr.min_confidence`.
    pub uncertain: bool,
    pub image_png: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
