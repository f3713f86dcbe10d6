//! Table `change_requests`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub reference: String,
    pub state: String,
    pub claimed_number: Option<String>,
    pub subscriber_id: Option<i64>,
    pub requester_email: Option<String>,
    pub new_email: Option<String>,
    pub situation: Option<String>,
    /// JSON object: field name → value, as extracted or keyed in.
    pub fields: String,
    /// JSON array of checks (see `store::requests::Check`).
    pub checks: String,
    /// JSON array of flag names.
    pub flags: String,
    pub contested: bool,
    pub manual_entry: bool,
    pub assignee_id: Option<i64>,
    pub verified_by: Option<i64>,
    pub verification_method: Option<String>,
    pub verification_comment: Option<String>,
    pub approved_by: Option<i64>,
    pub rejection_code: Option<String>,
    pub closing_message: Option<String>,
    pub origin_message_id: Option<i64>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
