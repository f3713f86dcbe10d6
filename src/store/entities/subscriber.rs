//! Table `subscribers`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscribers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub number: String,
    pub organisation: String,
    pub manager_name: Option<String>,
    pub email: Option<String>,
    /// `email` as intake compares it ([`crate::domain::MailAddress::mailbox_key`]), indexed.
    pub email_key: Option<String>,
    pub known_domain: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub password_changed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
