//! PostgreSQL: raw mail, attachments and scan images are stored out of line
//! and uncompressed (`STORAGE EXTERNAL`). Compressing each ~30 KB mail with
//! `pglz` took 40 % of the server's CPU during intake (issue 15), for little
//! gain: attachments are PDFs and images, already compressed, and a mail is
//! mostly their base64. Values already stored keep their form. SQLite stores
//! them as they are: nothing to do there.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [(&str, &str); 3] = [
    ("inbound_messages", "raw"),
    ("blobs", "data"),
    ("scan_readings", "image_png"),
];

async fn set_storage(m: &SchemaManager<'_>, storage: &str) -> Result<(), DbErr> {
    if m.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    for (table, column) in COLUMNS {
        m.get_connection()
            .execute_unprepared(&format!(
                "ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE {storage}"
            ))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        set_storage(m, "EXTERNAL").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        set_storage(m, "EXTENDED").await
    }
}
