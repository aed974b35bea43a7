//! Rust values to and from `vibe:app/db` values: [`ToSql`] for parameters, [`FromSql`] for
//! columns. Integers travel as `int64` (PostgreSQL converts into `integer` columns on assignment),
//! decimals as `float64`. A [`Date`] travels as `YYYY-MM-DD` text, independent of the server's time
//! zone, so SQL casts it where the type matters: `INSERT ... VALUES ($1::date)`.

use crate::sys::db::Value;
use crate::time::{Date, Timestamp};

/// A Rust value usable as a statement parameter.
pub trait ToSql {
    /// The value, as the database interface carries it.
    fn to_sql(&self) -> Value;
}

/// A Rust value a column can be read as.
pub trait FromSql: Sized {
    /// The Rust value of `value`, or why it cannot be one (`"is NULL"`, `"is text, not int64"`).
    fn from_sql(value: &Value) -> Result<Self, String>;
}

impl ToSql for Value {
    fn to_sql(&self) -> Value {
        self.clone()
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> Value {
        (**self).to_sql()
    }
}

/// `NULL` for `None`.
impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToSql::to_sql)
    }
}

macro_rules! int_to_sql {
    ($($ty:ty),*) => {$(
        impl ToSql for $ty {
            fn to_sql(&self) -> Value {
                Value::Int64(i64::from(*self))
            }
        }
    )*};
}
int_to_sql!(i8, i16, i32, i64, u8, u16, u32);

impl ToSql for f64 {
    fn to_sql(&self) -> Value {
        Value::Float64(*self)
    }
}

impl ToSql for f32 {
    fn to_sql(&self) -> Value {
        Value::Float64(f64::from(*self))
    }
}

impl ToSql for bool {
    fn to_sql(&self) -> Value {
        Value::Boolean(*self)
    }
}

impl ToSql for str {
    fn to_sql(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToSql for String {
    fn to_sql(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToSql for [u8] {
    fn to_sql(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self) -> Value {
        Value::Bytes(self.clone())
    }
}

/// `YYYY-MM-DD` text: cast it in SQL (`$1::date`).
impl ToSql for Date {
    fn to_sql(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToSql for Timestamp {
    fn to_sql(&self) -> Value {
        Value::Timestamp(self.0)
    }
}

/// `jsonb`.
impl ToSql for serde_json::Value {
    fn to_sql(&self) -> Value {
        Value::Json(self.to_string())
    }
}

/// The name of a value's kind, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Boolean(_) => "boolean",
        Value::Int64(_) => "int64",
        Value::Float64(_) => "float64",
        Value::Text(_) => "text",
        Value::Bytes(_) => "bytes",
        Value::Json(_) => "json",
        Value::Timestamp(_) => "timestamp",
    }
}

fn mismatch(value: &Value, wanted: &str) -> String {
    match value {
        Value::Null => "is NULL (read it as an Option)".to_owned(),
        other => format!("is {}, not {wanted}", kind(other)),
    }
}

impl FromSql for Value {
    fn from_sql(value: &Value) -> Result<Value, String> {
        Ok(value.clone())
    }
}

/// `None` for `NULL`.
impl<T: FromSql> FromSql for Option<T> {
    fn from_sql(value: &Value) -> Result<Option<T>, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_sql(other).map(Some),
        }
    }
}

impl FromSql for i64 {
    fn from_sql(value: &Value) -> Result<i64, String> {
        match value {
            Value::Int64(n) => Ok(*n),
            other => Err(mismatch(other, "int64")),
        }
    }
}

macro_rules! narrow_int_from_sql {
    ($($ty:ty),*) => {$(
        impl FromSql for $ty {
            fn from_sql(value: &Value) -> Result<$ty, String> {
                let wide = i64::from_sql(value)?;
                <$ty>::try_from(wide).map_err(|_| format!("{wide} does not fit in {}", stringify!($ty)))
            }
        }
    )*};
}
narrow_int_from_sql!(i32, i16, u32, u64, usize);

/// `float64`, or an `int64` widened.
impl FromSql for f64 {
    fn from_sql(value: &Value) -> Result<f64, String> {
        match value {
            Value::Float64(n) => Ok(*n),
            #[allow(clippy::cast_precision_loss, reason = "a float column read from an integer one")]
            Value::Int64(n) => Ok(*n as f64),
            other => Err(mismatch(other, "float64")),
        }
    }
}

impl FromSql for bool {
    fn from_sql(value: &Value) -> Result<bool, String> {
        match value {
            Value::Boolean(b) => Ok(*b),
            other => Err(mismatch(other, "boolean")),
        }
    }
}

/// `text`, or a `json` column's text.
impl FromSql for String {
    fn from_sql(value: &Value) -> Result<String, String> {
        match value {
            Value::Text(text) | Value::Json(text) => Ok(text.clone()),
            other => Err(mismatch(other, "text")),
        }
    }
}

impl FromSql for Vec<u8> {
    fn from_sql(value: &Value) -> Result<Vec<u8>, String> {
        match value {
            Value::Bytes(bytes) => Ok(bytes.clone()),
            other => Err(mismatch(other, "bytes")),
        }
    }
}

/// A `date` column (which arrives as a timestamp at midnight UTC), or `YYYY-MM-DD` text.
impl FromSql for Date {
    fn from_sql(value: &Value) -> Result<Date, String> {
        match value {
            Value::Timestamp(micros) => Timestamp(*micros)
                .date()
                .ok_or_else(|| format!("timestamp {micros} is out of range for a date")),
            Value::Text(text) => text.parse(),
            other => Err(mismatch(other, "date")),
        }
    }
}

impl FromSql for Timestamp {
    fn from_sql(value: &Value) -> Result<Timestamp, String> {
        match value {
            Value::Timestamp(micros) => Ok(Timestamp(*micros)),
            other => Err(mismatch(other, "timestamp")),
        }
    }
}

/// A `json`/`jsonb` column, parsed.
impl FromSql for serde_json::Value {
    fn from_sql(value: &Value) -> Result<serde_json::Value, String> {
        match value {
            Value::Json(text) => {
                serde_json::from_str(text).map_err(|error| format!("holds invalid JSON: {error}"))
            }
            other => Err(mismatch(other, "json")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Value` has no `PartialEq` (the generated bindings derive none), so compare its `Debug`.
    fn sql(value: impl ToSql) -> String {
        format!("{:?}", value.to_sql())
    }

    #[test]
    fn parameters() {
        assert_eq!(sql(7i32), "Value::Int64(7)");
        assert_eq!(sql("x"), "Value::Text(\"x\")");
        assert_eq!(sql(None::<i64>), "Value::Null");
        assert_eq!(sql(Some(&"y".to_owned())), "Value::Text(\"y\")");
        assert_eq!(sql(Date::new(2024, 5, 1).unwrap()), "Value::Text(\"2024-05-01\")");
        assert_eq!(sql(serde_json::json!({"a": 1})), "Value::Json(\"{\\\"a\\\":1}\")");
    }

    #[test]
    fn columns() {
        assert_eq!(i32::from_sql(&Value::Int64(5)), Ok(5));
        assert!(i32::from_sql(&Value::Int64(1 << 40)).unwrap_err().contains("does not fit"));
        assert_eq!(f64::from_sql(&Value::Int64(2)), Ok(2.0));
        assert_eq!(Option::<String>::from_sql(&Value::Null), Ok(None));
        assert!(String::from_sql(&Value::Null).unwrap_err().contains("NULL"));
        assert_eq!(i64::from_sql(&Value::Text("1".into())), Err("is text, not int64".to_owned()));
        let midnight = 19_844 * 86_400_000_000;
        assert_eq!(Date::from_sql(&Value::Timestamp(midnight)).unwrap().to_string(), "2024-05-01");
        assert_eq!(Date::from_sql(&Value::Text("2024-05-01".into())).unwrap().to_string(), "2024-05-01");
        assert_eq!(serde_json::Value::from_sql(&Value::Json("[1]".into())), Ok(serde_json::json!([1])));
    }
}
