//! The code generator: a spec becomes the files of a Rust crate on `vibe-app-sdk` (see
//! /work/notes/build-pipeline.md for the conventions the generated app follows).
//!
//! Deterministic templates, one file per responsibility in the generated crate too:
//! `src/lib.rs` (routes) and `src/home.rs`, `src/members.rs` ([`app`]); `src/access.rs`,
//! `src/forms.rs`, `src/layout.rs` ([`support`]); per entity `src/entities/<name>/mod.rs`
//! ([`entity_model`]), `pages.rs` ([`entity_pages`]) and `api.rs` ([`entity_api`]); the
//! migrations ([`schema_sql`]). Spec text reaches Rust only through [`rust`] (checked identifiers,
//! escaped literals) and SQL only through [`schema_sql::quote_ident`] and
//! [`schema_sql::quote_literal`], so a hostile spec cannot inject code.

mod app;
mod entity_api;
mod entity_model;
mod entity_pages;
mod fields;
mod rust;
pub mod schema_sql;
mod support;

use std::collections::BTreeMap;

use crate::apps::deploy::Migration;
use crate::spec::model::AppSpec;

/// The files of a generated app: paths relative to the crate root (`src/…` and `migrations/…`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeneratedApp {
    pub files: BTreeMap<String, String>,
}

impl GeneratedApp {
    /// The migrations, in file order, each named by its file stem (`0001_initial`).
    pub fn migrations(&self) -> Vec<Migration> {
        self.files
            .iter()
            .filter_map(|(path, sql)| {
                let name = path.strip_prefix("migrations/")?.strip_suffix(".sql")?;
                Some(Migration { name: name.to_owned(), sql: sql.clone() })
            })
            .collect()
    }
}

/// The live version a new one replaces: its spec and the migrations it was deployed with.
#[derive(Clone, Debug)]
pub struct PreviousVersion {
    pub spec: AppSpec,
    pub migrations: Vec<Migration>,
}

/// Why a spec cannot become an app.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodegenError {
    /// The spec asks for something the generator cannot write (a name it cannot use, a
    /// reference to nothing); a validated spec does not.
    #[error("the spec cannot be generated: {0}")]
    Unsupported(String),
    /// The change from the previous version cannot be applied without losing data.
    #[error("the change cannot keep the existing data: {0}")]
    Incompatible(String),
}

/// Paths and names the generated app uses for itself, which an entity may not take.
const RESERVED_PLURALS: &[&str] = &["api", "members", "app_members", "_health"];

/// The files of the app `spec` describes. With `previous`, its migrations are kept verbatim and
/// one more is added for what the spec added (none when the schema is unchanged).
pub fn generate(spec: &AppSpec, previous: Option<&PreviousVersion>) -> Result<GeneratedApp, CodegenError> {
    for entity in &spec.entities {
        if RESERVED_PLURALS.contains(&entity.plural.as_str())
            || RESERVED_PLURALS.contains(&entity.name.as_str())
        {
            return Err(CodegenError::Unsupported(format!(
                "the entity `{}` cannot use the name `{}`: the app uses it itself",
                entity.name, entity.plural
            )));
        }
    }
    let mut files = BTreeMap::new();
    files.insert("src/lib.rs".to_owned(), app::lib(spec)?);
    files.insert("src/home.rs".to_owned(), app::home(spec)?);
    files.insert("src/members.rs".to_owned(), app::MEMBERS.to_owned());
    files.insert("src/access.rs".to_owned(), support::access(spec)?);
    files.insert("src/forms.rs".to_owned(), support::FORMS.to_owned());
    files.insert("src/layout.rs".to_owned(), support::layout(spec)?);
    files.insert("src/entities/mod.rs".to_owned(), app::entities(spec)?);
    for entity in &spec.entities {
        let dir = format!("src/entities/{}", rust::ident(&entity.name)?);
        files.insert(format!("{dir}/mod.rs"), entity_model::module(spec, entity)?);
        files.insert(format!("{dir}/pages.rs"), without_unused_forms(entity_pages::module(spec, entity)?));
        files.insert(format!("{dir}/api.rs"), entity_api::module(entity)?);
    }
    match previous {
        None => {
            files.insert("migrations/0001_initial.sql".to_owned(), schema_sql::initial(spec)?);
        }
        Some(previous) => {
            for migration in &previous.migrations {
                files.insert(format!("migrations/{}.sql", migration.name), migration.sql.clone());
            }
            if let Some((what, sql)) = schema_sql::upgrade(spec, previous)? {
                let number = previous.migrations.len() + 1;
                files.insert(format!("migrations/{number:04}_{what}.sql"), sql);
            }
        }
    }
    Ok(GeneratedApp { files })
}

/// A pages module that uses no form helper imports only the layout (no unused import warning).
fn without_unused_forms(source: String) -> String {
    if source.matches("forms::").count() == 0 {
        source.replace("use crate::{forms, layout};", "use crate::layout;")
    } else {
        source
    }
}

#[cfg(test)]
mod tests;
