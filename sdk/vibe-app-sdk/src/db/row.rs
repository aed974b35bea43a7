//! One row a query returned: values read by column name as Rust types ([`Row::get`]), a row read
//! as the app's own struct ([`FromRow`]), and a row as a JSON object (`Serialize`), so a JSON
//! API can answer with query results directly.

use std::rc::Rc;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::Error;
use super::value::FromSql;
use crate::sys::db::Value;
use crate::time::Timestamp;

/// One row: its values by column name.
#[derive(Clone, Debug)]
pub struct Row {
    columns: Rc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub(crate) fn new(columns: Rc<[String]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// The column names, in the order the query selected them.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The raw value of `column`, if the row has it.
    pub fn value(&self, column: &str) -> Option<&Value> {
        let index = self.columns.iter().position(|name| name == column)?;
        self.values.get(index)
    }

    /// The value of `column` as `T`. An error names the column and says what it holds
    /// instead; read a nullable column as an `Option`.
    pub fn get<T: FromSql>(&self, column: &str) -> Result<T, Error> {
        let value =
            self.value(column).ok_or_else(|| Error::Column(format!("the row has no column `{column}`")))?;
        T::from_sql(value).map_err(|why| Error::Column(format!("column `{column}` {why}")))
    }

    /// The value of the first column as `T` (for `SELECT count(*)`, `RETURNING id`).
    pub fn first<T: FromSql>(&self) -> Result<T, Error> {
        let value = self.values.first().ok_or_else(|| Error::Column("the row has no columns".to_owned()))?;
        T::from_sql(value).map_err(|why| Error::Column(format!("the first column {why}")))
    }
}

/// An app's struct read from a row: implement it once per table.
///
/// ```
/// # use vibe_app_sdk::db::{self, FromRow, Row};
/// struct Book { id: i64, title: String, pages: Option<i64> }
/// impl FromRow for Book {
///     fn from_row(row: &Row) -> Result<Book, db::Error> {
///         Ok(Book { id: row.get("id")?, title: row.get("title")?, pages: row.get("pages")? })
///     }
/// }
/// ```
pub trait FromRow: Sized {
    /// The struct from `row`.
    fn from_row(row: &Row) -> Result<Self, Error>;
}

impl FromRow for Row {
    fn from_row(row: &Row) -> Result<Row, Error> {
        Ok(row.clone())
    }
}

/// A JSON object: one member per column. Timestamps (and dates) as RFC 3339 text, bytes as hex
/// text, `json` columns as the JSON they hold, a non-finite float as `null`.
impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.values.len()))?;
        for (column, value) in self.columns.iter().zip(&self.values) {
            map.serialize_entry(column, &JsonValue(value))?;
        }
        map.end()
    }
}

struct JsonValue<'a>(&'a Value);

impl Serialize for JsonValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => serializer.serialize_none(),
            Value::Boolean(b) => serializer.serialize_bool(*b),
            Value::Int64(n) => serializer.serialize_i64(*n),
            Value::Float64(n) if n.is_finite() => serializer.serialize_f64(*n),
            Value::Float64(_) => serializer.serialize_none(),
            Value::Text(text) => serializer.serialize_str(text),
            Value::Bytes(bytes) => {
                let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
                serializer.serialize_str(&hex)
            }
            Value::Json(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(json) => json.serialize(serializer),
                Err(_) => serializer.serialize_str(text),
            },
            Value::Timestamp(micros) => serializer.collect_str(&Timestamp(*micros)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        let columns: Rc<[String]> = ["id", "name", "note", "data", "at", "raw"].map(String::from).into();
        let values = vec![
            Value::Int64(1),
            Value::Text("Ada".into()),
            Value::Null,
            Value::Json("{\"a\":[1,2]}".into()),
            Value::Timestamp(0),
            Value::Bytes(vec![0, 255]),
        ];
        Row::new(columns, values)
    }

    #[test]
    fn typed_getters_name_the_column() {
        let row = row();
        assert_eq!(row.get::<i64>("id").unwrap(), 1);
        assert_eq!(row.first::<i64>().unwrap(), 1);
        assert_eq!(row.get::<Option<String>>("note").unwrap(), None);
        let error = row.get::<String>("note").unwrap_err().to_string();
        assert!(error.contains("column `note` is NULL"), "{error}");
        let error = row.get::<i64>("name").unwrap_err().to_string();
        assert!(error.contains("column `name` is text, not int64"), "{error}");
        assert!(row.get::<i64>("missing").unwrap_err().to_string().contains("no column `missing`"));
    }

    #[test]
    fn rows_serialize_as_objects() {
        let json = serde_json::to_value(row()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": 1, "name": "Ada", "note": null, "data": {"a": [1, 2]},
                "at": "1970-01-01T00:00:00Z", "raw": "00ff"
            })
        );
    }
}
