//! The app's data model as SQL migrations: the first version's `0001_initial.sql` (tables,
//! constraints, the members table, sample data), and for a later version the migration that adds
//! what the spec added, keeping every existing row. Spec text reaches SQL only as quoted
//! identifiers and quoted literals ([`quote_ident`], [`quote_literal`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

use super::rust::ident;
use super::{CodegenError, PreviousVersion};
use crate::spec::model::{
    AppSpec, DEFAULT_STRING_MAX, DEFAULT_TEXT_MAX, EMAIL_MAX, Entity, Field, FieldKind, OnDelete, URL_MAX,
};

/// The table that holds the roles the owner assigned (not an entity: every app has it).
pub const MEMBERS_TABLE: &str = "app_members";

/// `name` as an SQL identifier in double quotes.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as an SQL string literal (standard conforming: only `'` needs doubling).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The column type of a field.
pub fn column_type(kind: &FieldKind) -> String {
    match kind {
        FieldKind::String { .. }
        | FieldKind::Text { .. }
        | FieldKind::Email { .. }
        | FieldKind::Url { .. }
        | FieldKind::Enum { .. } => "text".to_owned(),
        FieldKind::Integer { .. } | FieldKind::Reference { .. } => "bigint".to_owned(),
        FieldKind::Decimal { scale, .. } => format!("numeric({}, {scale})", 15 + u32::from(*scale)),
        FieldKind::Boolean { .. } => "boolean".to_owned(),
        FieldKind::Date { .. } => "date".to_owned(),
        FieldKind::Datetime { .. } => "timestamptz".to_owned(),
    }
}

/// The name of a field's CHECK constraint (PostgreSQL's own convention, within 63 bytes).
fn check_name(table: &str, column: &str) -> String {
    let mut name = format!("{table}_{column}_check");
    name.truncate(63);
    name
}

/// The CHECK expression of a field's rules, if it has any.
fn check_expression(field: &Field) -> Option<String> {
    let column = quote_ident(&field.name);
    let length = |min: Option<u32>, max: u32| match min.filter(|min| *min > 0) {
        Some(min) => format!("char_length({column}) BETWEEN {min} AND {max}"),
        None => format!("char_length({column}) <= {max}"),
    };
    match &field.kind {
        FieldKind::String { min_length, max_length, .. } => {
            Some(length(*min_length, max_length.unwrap_or(DEFAULT_STRING_MAX)))
        }
        FieldKind::Text { min_length, max_length, .. } => {
            Some(length(*min_length, max_length.unwrap_or(DEFAULT_TEXT_MAX)))
        }
        FieldKind::Email { .. } => Some(format!("char_length({column}) <= {EMAIL_MAX}")),
        FieldKind::Url { .. } => Some(format!("char_length({column}) <= {URL_MAX}")),
        FieldKind::Integer { min, max, .. } => {
            range(&column, min.map(|n| n.to_string()), max.map(|n| n.to_string()))
        }
        FieldKind::Decimal { min, max, .. } => range(&column, min.map(number), max.map(number)),
        FieldKind::Enum { values, .. } => {
            let values: Vec<String> = values.iter().map(|value| quote_literal(&value.value)).collect();
            Some(format!("{column} IN ({})", values.join(", ")))
        }
        _ => None,
    }
}

fn range(column: &str, min: Option<String>, max: Option<String>) -> Option<String> {
    match (min, max) {
        (Some(min), Some(max)) => Some(format!("{column} BETWEEN {min} AND {max}")),
        (Some(min), None) => Some(format!("{column} >= {min}")),
        (None, Some(max)) => Some(format!("{column} <= {max}")),
        (None, None) => None,
    }
}

/// A decimal as SQL writes it (never in exponent form).
fn number(value: f64) -> String {
    let text = value.to_string();
    if text.contains(['e', 'E', 'i', 'N']) { "0".to_owned() } else { text }
}

/// A field's default as an SQL literal.
fn default_literal(kind: &FieldKind) -> Option<String> {
    let value = kind.default_value()?;
    Some(match value {
        Value::Bool(flag) => flag.to_string(),
        Value::Number(_) => match kind {
            FieldKind::Decimal { .. } => number(value.as_f64().unwrap_or_default()),
            _ => value.to_string(),
        },
        Value::String(text) => quote_literal(&text),
        _ => return None,
    })
}

/// A column's definition; `fresh` when the table is new (NOT NULL is then safe for required
/// fields), else for `ADD COLUMN` to a table that may have rows (NOT NULL only with a default).
fn column_definition(table: &str, field: &Field, fresh: bool) -> Result<String, CodegenError> {
    let mut sql = format!("{} {}", quote_ident(ident(&field.name)?), column_type(&field.kind));
    let default = default_literal(&field.kind);
    let not_null = matches!(field.kind, FieldKind::Boolean { .. })
        || (field.kind.required() && (fresh || default.is_some()));
    if not_null {
        sql.push_str(" NOT NULL");
    }
    if let Some(default) = default {
        write!(sql, " DEFAULT {default}").ok();
    }
    if field.kind.unique() {
        sql.push_str(" UNIQUE");
    }
    if let Some(check) = check_expression(field) {
        write!(sql, " CONSTRAINT {} CHECK ({check})", quote_ident(&check_name(table, &field.name))).ok();
    }
    Ok(sql)
}

/// `ALTER TABLE … ADD FOREIGN KEY` for a reference field (added after every table exists, so
/// entities may refer to each other in any order).
fn foreign_key(table: &str, field: &Field, spec: &AppSpec) -> Result<Option<String>, CodegenError> {
    let FieldKind::Reference { entity, on_delete, .. } = &field.kind else { return Ok(None) };
    let target = spec
        .entities
        .iter()
        .find(|other| other.name == *entity)
        .ok_or_else(|| CodegenError::Unsupported(format!("`{}` refers to no entity", field.name)))?;
    let action = match on_delete {
        OnDelete::Restrict => "RESTRICT",
        OnDelete::Cascade => "CASCADE",
        OnDelete::SetNull => "SET NULL",
    };
    Ok(Some(format!(
        "ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {} (id) ON DELETE {action};\n",
        quote_ident(table),
        quote_ident(&field.name),
        quote_ident(ident(&target.plural)?)
    )))
}

fn create_table(entity: &Entity) -> Result<String, CodegenError> {
    let table = ident(&entity.plural)?;
    let mut sql = format!("-- {}\nCREATE TABLE {} (\n", one_line(&entity.label_plural), quote_ident(table));
    sql.push_str("    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n");
    for field in &entity.fields {
        writeln!(sql, "    {},", column_definition(table, field, true)?).ok();
    }
    sql.push_str("    created_at timestamptz NOT NULL DEFAULT now(),\n");
    sql.push_str("    updated_at timestamptz NOT NULL DEFAULT now()\n);\n");
    Ok(sql)
}

/// A label made safe for an SQL `--` comment.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// The first version's migration: every table, the members table, foreign keys, sample data.
pub fn initial(spec: &AppSpec) -> Result<String, CodegenError> {
    let mut sql = format!(
        "-- {}: the initial schema, generated by Vibe from the app's spec.\n\n",
        one_line(&spec.app.name)
    );
    sql.push_str(&format!(
        "-- The roles the owner gave to signed-in people (`PUT /api/members/{{user_id}}`).\n\
         CREATE TABLE {MEMBERS_TABLE} (\n    user_id text PRIMARY KEY,\n    role text NOT NULL,\n    \
         created_at timestamptz NOT NULL DEFAULT now(),\n    updated_at timestamptz NOT NULL DEFAULT now()\n);\n\n"
    ));
    for entity in &spec.entities {
        sql.push_str(&create_table(entity)?);
        sql.push('\n');
    }
    for entity in &spec.entities {
        for field in &entity.fields {
            if let Some(key) = foreign_key(&entity.plural, field, spec)? {
                sql.push_str(&key);
            }
        }
    }
    sql.push_str(&sample_data(spec)?);
    Ok(sql)
}

/// The sample records, with explicit ids so that references between them hold, then each
/// table's identity moved past them.
fn sample_data(spec: &AppSpec) -> Result<String, CodegenError> {
    if spec.sample_data.is_empty() {
        return Ok(String::new());
    }
    let mut sql = String::from("\n-- Sample data, so the app is not empty on its first visit.\n");
    let mut next_id: BTreeMap<&str, i64> = BTreeMap::new();
    let mut keys: HashMap<(&str, &str), i64> = HashMap::new();
    for record in &spec.sample_data {
        let entity = spec.entities.iter().find(|entity| entity.name == record.entity).ok_or_else(|| {
            CodegenError::Unsupported(format!("sample of unknown entity `{}`", record.entity))
        })?;
        let id = next_id.entry(entity.plural.as_str()).or_insert(0);
        *id += 1;
        let id = *id;
        if let Some(key) = &record.key {
            keys.insert((entity.name.as_str(), key.as_str()), id);
        }
        let mut columns = vec!["id".to_owned()];
        let mut values = vec![id.to_string()];
        for field in &entity.fields {
            let Some(value) = record.values.get(&field.name) else { continue };
            let literal = match (&field.kind, value) {
                (_, Value::Null) => "NULL".to_owned(),
                (FieldKind::Reference { entity: target, .. }, Value::String(key)) => keys
                    .get(&(target.as_str(), key.as_str()))
                    .ok_or_else(|| {
                        CodegenError::Unsupported(format!("no earlier sample `{target}` `{key}`"))
                    })?
                    .to_string(),
                (_, Value::String(text)) => quote_literal(text),
                (_, Value::Bool(flag)) => flag.to_string(),
                (FieldKind::Decimal { .. }, Value::Number(n)) => number(n.as_f64().unwrap_or_default()),
                (_, Value::Number(n)) => n.to_string(),
                _ => return Err(CodegenError::Unsupported(format!("sample value of `{}`", field.name))),
            };
            columns.push(quote_ident(&field.name));
            values.push(literal);
        }
        writeln!(
            sql,
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({});",
            quote_ident(ident(&entity.plural)?),
            columns.join(", "),
            values.join(", ")
        )
        .ok();
    }
    for (table, last) in next_id {
        writeln!(
            sql,
            "SELECT setval(pg_get_serial_sequence({}, 'id'), {last});",
            quote_literal(&quote_ident(table))
        )
        .ok();
    }
    Ok(sql)
}

/// The migration that brings `previous.spec`'s schema to `spec`'s, or `None` when nothing in
/// the schema changed. New entities become tables, new fields columns; a field whose rules
/// changed gets its CHECK constraint replaced (`NOT VALID`: existing rows are kept as they are).
/// Removed fields and entities keep their columns and tables. A changed type, a renamed table
/// or a new required field without a default (existing rows have no value) is an error naming it.
pub fn upgrade(spec: &AppSpec, previous: &PreviousVersion) -> Result<Option<(String, String)>, CodegenError> {
    let old = &previous.spec;
    let mut sql = String::new();
    let mut what: Vec<String> = Vec::new();
    let mut keys = String::new();
    for entity in &spec.entities {
        let Some(before) = old.entities.iter().find(|before| before.name == entity.name) else {
            if old.entities.iter().any(|before| before.plural == entity.plural) {
                return Err(CodegenError::Incompatible(format!(
                    "the table `{}` belongs to another entity in the previous version",
                    entity.plural
                )));
            }
            sql.push_str(&create_table(entity)?);
            sql.push('\n');
            for field in &entity.fields {
                keys.push_str(&foreign_key(&entity.plural, field, spec)?.unwrap_or_default());
            }
            what.push(format!("add_{}", entity.plural));
            continue;
        };
        if before.plural != entity.plural {
            return Err(CodegenError::Incompatible(format!(
                "`{}` changed its plural from `{}` to `{}`: renaming a table is not supported",
                entity.name, before.plural, entity.plural
            )));
        }
        let table = quote_ident(ident(&entity.plural)?);
        for field in &entity.fields {
            let Some(old_field) = before.field(&field.name) else {
                if field.kind.required() && !field.kind.has_default() {
                    // The existing records would have no value for a field the app requires.
                    return Err(CodegenError::Incompatible(format!(
                        "the new field `{}.{}` is required but has no default for the existing records: give it a default or make it optional",
                        entity.name, field.name
                    )));
                }
                writeln!(
                    sql,
                    "ALTER TABLE {table} ADD COLUMN {};",
                    column_definition(&entity.plural, field, false)?
                )
                .ok();
                keys.push_str(&foreign_key(&entity.plural, field, spec)?.unwrap_or_default());
                what.push(format!("add_{}_{}", entity.plural, field.name));
                continue;
            };
            if column_type(&old_field.kind) != column_type(&field.kind)
                || old_field.kind.type_name() != field.kind.type_name()
            {
                return Err(CodegenError::Incompatible(format!(
                    "the field `{}.{}` changed its type from {} to {}: its values cannot be kept",
                    entity.name,
                    field.name,
                    old_field.kind.type_name(),
                    field.kind.type_name()
                )));
            }
            let (old_check, new_check) = (check_expression(old_field), check_expression(field));
            if old_check != new_check {
                let name = quote_ident(&check_name(&entity.plural, &field.name));
                writeln!(sql, "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};").ok();
                if let Some(check) = new_check {
                    writeln!(sql, "ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID;")
                        .ok();
                }
                what.push(format!("change_{}_{}", entity.plural, field.name));
            }
        }
    }
    if what.is_empty() {
        return Ok(None);
    }
    sql.push_str(&keys);
    let header = format!("-- {}: what the new version of the spec added.\n\n", one_line(&spec.app.name));
    let mut name = if what.len() == 1 { what.remove(0) } else { "schema_changes".to_owned() };
    name.truncate(60);
    Ok(Some((name, header + &sql)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_the_quote() {
        assert_eq!(quote_literal("it's'); DROP TABLE x; --"), "'it''s''); DROP TABLE x; --'");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
