//! The code generator: a spec becomes the files of a Rust crate on `vibe-app-sdk` (see
//! /work/notes/build-pipeline.md for the conventions the generated app follows).

use std::collections::BTreeMap;

use crate::apps::deploy::Migration;

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
