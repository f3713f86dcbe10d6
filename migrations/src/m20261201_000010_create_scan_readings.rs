//! What was read from a scanned form (SPEC §4, scanned form), kept with the
//! request it made so that staff see each value beside the image of its
//! box: one row per field (value, confidence, where it comes from, the box
//! as a small PNG), plus the signature and stamp zones (`name` `_signature`
//! and `_stamp`, no value). Rows go with the request's other extracted
//! data when the retention purge blanks it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("scan_readings")
                .col(big_pk_auto("id"))
                .col(big_integer("request_id"))
                .col(integer("position"))
                .col(string("name"))
                .col(text_null("value"))
                .col(double("confidence"))
                .col(string("source"))
                .col(boolean("uncertain"))
                .col(blob("image_png"))
                .foreign_key(
                    ForeignKey::create()
                        .from("scan_readings", "request_id")
                        .to("change_requests", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_scan_readings_request")
                .table("scan_readings")
                .col("request_id")
                .col("position")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("scan_readings").to_owned())
            .await
    }
}
