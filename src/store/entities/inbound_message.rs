//! Table `inbound_messages`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbound_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub received_at: DateTimeUtc,
    pub source: String,
    pub source_position: Option<String>,
    pub message_id: Option<String>,
    pub content_hash: String,
    pub size: i64,
    pub raw: Option<Vec<u8>>,
    pub from_address: Option<String>,
    pub subject: Option<String>,
    pub disposition: String,
    pub reason: Option<String>,
    pub request_id: Option<i64>,
    /// JSON object of the trusted Authentication-Results verdicts.
    pub auth_results: String,
    /// JSON array of flag names.
    pub flags: String,
    pub purged_at: Option<DateTimeUtc>,
    /// What staff see of the body, made at intake (`None`: older record, or purged).
    pub body_view: Option<String>,
    /// The mail has a real HTML part (`None`: not known at intake).
    pub has_html: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
