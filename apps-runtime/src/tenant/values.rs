//! Typed values between `vibe:app/db` and PostgreSQL's binary wire format.
//!
//! Parameters: each [`Value`] binds with one type (`boolean`, `int8`, `float8`, `text`, `bytea`,
//! `jsonb`, `timestamptz`); PostgreSQL converts on assignment where a cast exists (`int8` into an
//! `integer` column), and SQL casts the rest (`$1::uuid`). `null` binds untyped, so the server
//! infers its type from where it is used.
//!
//! Rows: each column decodes by its type (domains arrive as their base type): integers to
//! `int64`, floats and `numeric` to `float64`, `boolean`, character types, `uuid` and enums to
//! `text`, `bytea` to `bytes`, `json`/`jsonb` to `json`, `timestamptz`, `timestamp` (as UTC) and
//! `date` to `timestamp` in microseconds. Any other type is refused with a hint to cast it.

use std::fmt::Write as _;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgTypeInfo, PgTypeKind, PgValueFormat, PgValueRef};
use sqlx::{Arguments, Column, Encode, Postgres, Row, Type, TypeInfo, ValueRef};

use crate::bindings::db::{Error as DbError, Value};

/// Microseconds from 1970-01-01 (Unix) to 2000-01-01 (PostgreSQL's epoch).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// What one value costs against the result cap beyond its bytes (its place in the row).
const VALUE_OVERHEAD: usize = 16;

mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const VOID: u32 = 2278;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// One parameter, ready to encode.
enum Param<'a> {
    Null,
    Bool(bool),
    Int8(i64),
    Float8(f64),
    Text(&'a str),
    Bytea(&'a [u8]),
    Jsonb(&'a str),
    /// Microseconds since 2000-01-01, or ±infinity as `i64::MAX`/`MIN`.
    Timestamptz(i64),
}

impl Param<'_> {
    fn oid(&self) -> u32 {
        match self {
            Param::Null => 0,
            Param::Bool(_) => oid::BOOL,
            Param::Int8(_) => oid::INT8,
            Param::Float8(_) => oid::FLOAT8,
            Param::Text(_) => oid::TEXT,
            Param::Bytea(_) => oid::BYTEA,
            Param::Jsonb(_) => oid::JSONB,
            Param::Timestamptz(_) => oid::TIMESTAMPTZ,
        }
    }
}

impl Type<Postgres> for Param<'_> {
    fn type_info() -> PgTypeInfo {
        // Oid 0 leaves the type to the server; `produces` gives each value's own type.
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl Encode<'_, Postgres> for Param<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match *self {
            Param::Null => return Ok(IsNull::Yes),
            Param::Bool(b) => buf.push(u8::from(b)),
            Param::Int8(i) => buf.extend_from_slice(&i.to_be_bytes()),
            Param::Float8(f) => buf.extend_from_slice(&f.to_be_bytes()),
            Param::Text(s) => buf.extend_from_slice(s.as_bytes()),
            Param::Bytea(b) => buf.extend_from_slice(b),
            Param::Jsonb(s) => {
                // jsonb's binary format: a version byte, then the JSON text.
                buf.push(1);
                buf.extend_from_slice(s.as_bytes());
            }
            Param::Timestamptz(t) => buf.extend_from_slice(&t.to_be_bytes()),
        }
        Ok(IsNull::No)
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(PgTypeInfo::with_oid(Oid(self.oid())))
    }
}

fn param(value: &Value) -> Result<Param<'_>, DbError> {
    Ok(match value {
        Value::Null => Param::Null,
        Value::Boolean(b) => Param::Bool(*b),
        Value::Int64(i) => Param::Int8(*i),
        Value::Float64(f) => Param::Float8(*f),
        Value::Text(s) => Param::Text(s),
        Value::Bytes(b) => Param::Bytea(b),
        Value::Json(s) => Param::Jsonb(s),
        Value::Timestamp(micros) => Param::Timestamptz(match *micros {
            i64::MAX | i64::MIN => *micros,
            micros => micros.checked_sub(POSTGRES_EPOCH_MICROS).ok_or_else(|| {
                DbError::UnsupportedType(format!("timestamp {micros} is out of PostgreSQL's range"))
            })?,
        }),
    })
}

/// The arguments binding `params` to `$1`, `$2`, ….
pub(super) fn arguments(params: &[Value]) -> Result<PgArguments, DbError> {
    let mut arguments = PgArguments::default();
    for (index, value) in params.iter().enumerate() {
        arguments.add(param(value)?).map_err(|error| {
            DbError::UnsupportedType(format!("parameter ${} cannot be encoded: {error}", index + 1))
        })?;
    }
    Ok(arguments)
}

/// The types `params` bind with, as [`arguments`] gives them.
pub(super) fn parameter_types(params: &[Value]) -> Vec<PgTypeInfo> {
    params
        .iter()
        .map(|value| param(value).map_or(0, |param| param.oid()))
        .map(|oid| PgTypeInfo::with_oid(Oid(oid)))
        .collect()
}

/// The column names of a row, in order.
pub(super) fn column_names(row: &sqlx::postgres::PgRow) -> Vec<String> {
    row.columns().iter().map(|column| column.name().to_owned()).collect()
}

/// Decodes a row, adding what it costs to `size`; `too-large` once that passes `max_bytes`
/// (checked before each value is copied).
pub(super) fn decode_row(
    row: &sqlx::postgres::PgRow,
    size: &mut usize,
    max_bytes: usize,
) -> Result<Vec<Value>, DbError> {
    let mut values = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(index).map_err(|error| {
            DbError::Unavailable(format!("cannot read column {}: {error}", column.name()))
        })?;
        let len = if raw.is_null() { 0 } else { raw.as_bytes().map_or(0, <[u8]>::len) };
        *size = size.saturating_add(VALUE_OVERHEAD + len);
        if *size > max_bytes {
            return Err(DbError::TooLarge(format!(
                "the result exceeds {max_bytes} bytes; select fewer rows or columns (LIMIT, OFFSET)"
            )));
        }
        values.push(decode(raw, column.name())?);
    }
    Ok(values)
}

fn unsupported(column: &str, type_name: &str) -> DbError {
    DbError::UnsupportedType(format!(
        "column \"{column}\" has type {type_name}, which vibe:app/db does not carry; \
         select it as text instead (\"{column}\"::text)"
    ))
}

fn malformed(column: &str, type_name: &str) -> DbError {
    DbError::Unavailable(format!("the database sent a malformed {type_name} for column \"{column}\""))
}

fn fixed<const N: usize>(bytes: &[u8], column: &str, type_name: &str) -> Result<[u8; N], DbError> {
    bytes.try_into().map_err(|_| malformed(column, type_name))
}

fn text(bytes: &[u8], column: &str, type_name: &str) -> Result<String, DbError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed(column, type_name))
}

fn decode(raw: PgValueRef<'_>, column: &str) -> Result<Value, DbError> {
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let info = raw.type_info().into_owned();
    let name = info.name().to_owned();
    if raw.format() != PgValueFormat::Binary {
        return Err(malformed(column, &name));
    }
    let bytes = raw.as_bytes().map_err(|_| malformed(column, &name))?;
    if let PgTypeKind::Enum(_) = info.kind() {
        return Ok(Value::Text(text(bytes, column, &name)?));
    }
    let Some(Oid(type_oid)) = info.oid() else {
        return Err(unsupported(column, &name));
    };
    let n = name.as_str();
    Ok(match type_oid {
        oid::BOOL => Value::Boolean(fixed::<1>(bytes, column, n)?[0] != 0),
        oid::INT2 => Value::Int64(i16::from_be_bytes(fixed(bytes, column, n)?).into()),
        oid::INT4 => Value::Int64(i32::from_be_bytes(fixed(bytes, column, n)?).into()),
        oid::INT8 => Value::Int64(i64::from_be_bytes(fixed(bytes, column, n)?)),
        oid::OID => Value::Int64(u32::from_be_bytes(fixed(bytes, column, n)?).into()),
        oid::FLOAT4 => Value::Float64(f32::from_be_bytes(fixed(bytes, column, n)?).into()),
        oid::FLOAT8 => Value::Float64(f64::from_be_bytes(fixed(bytes, column, n)?)),
        oid::NUMERIC => Value::Float64(numeric(bytes).ok_or_else(|| malformed(column, n))?),
        oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::CHAR | oid::UNKNOWN => {
            Value::Text(text(bytes, column, n)?)
        }
        oid::UUID => Value::Text(uuid::Uuid::from_bytes(fixed(bytes, column, n)?).hyphenated().to_string()),
        oid::BYTEA => Value::Bytes(bytes.to_vec()),
        oid::JSON => Value::Json(text(bytes, column, n)?),
        oid::JSONB => match bytes.split_first() {
            Some((1, json)) => Value::Json(text(json, column, n)?),
            _ => return Err(malformed(column, n)),
        },
        oid::TIMESTAMP | oid::TIMESTAMPTZ => {
            Value::Timestamp(match i64::from_be_bytes(fixed(bytes, column, n)?) {
                infinite @ (i64::MAX | i64::MIN) => infinite,
                micros => micros.saturating_add(POSTGRES_EPOCH_MICROS),
            })
        }
        oid::DATE => Value::Timestamp(match i32::from_be_bytes(fixed(bytes, column, n)?) {
            i32::MAX => i64::MAX,
            i32::MIN => i64::MIN,
            days => i64::from(days)
                .checked_mul(MICROS_PER_DAY)
                .and_then(|micros| micros.checked_add(POSTGRES_EPOCH_MICROS))
                .ok_or_else(|| unsupported(column, "date beyond the timestamp range"))?,
        }),
        oid::VOID => Value::Null,
        _ => return Err(unsupported(column, n)),
    })
}

/// `numeric`'s binary format as the nearest `f64`: digit count, weight (of the first base-10000
/// digit), sign, display scale, then the base-10000 digits. Rendered as decimal text first so the
/// conversion rounds correctly.
fn numeric(bytes: &[u8]) -> Option<f64> {
    let word =
        |at: usize| -> Option<u16> { Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?)) };
    let digits = usize::from(word(0)?);
    let weight = i64::from(word(2)?.cast_signed());
    match word(4)? {
        0xC000 => return Some(f64::NAN),
        0xD000 => return Some(f64::INFINITY),
        0xF000 => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let negative = word(4)? == 0x4000;
    if digits == 0 {
        return Some(if negative { -0.0 } else { 0.0 });
    }
    let mut mantissa = String::with_capacity(digits * 4 + 1);
    if negative {
        mantissa.push('-');
    }
    for index in 0..digits {
        let digit = word(8 + index * 2)?;
        if digit > 9999 {
            return None;
        }
        write!(mantissa, "{digit:04}").ok()?;
    }
    // The last digit is worth 10000^(weight - digits + 1).
    let exponent = (weight - i64::try_from(digits).ok()? + 1) * 4;
    format!("{mantissa}e{exponent}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::numeric;

    fn encode(digits: &[u16], weight: i16, sign: u16) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [u16::try_from(digits.len()).unwrap(), weight.cast_unsigned(), sign, 0] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        for digit in digits {
            out.extend_from_slice(&digit.to_be_bytes());
        }
        out
    }

    #[test]
    fn numeric_decodes_to_the_nearest_float() {
        assert_eq!(numeric(&encode(&[1, 2345], 1, 0)), Some(12345.0));
        assert_eq!(numeric(&encode(&[4, 2500], 0, 0x4000)), Some(-4.25));
        assert_eq!(numeric(&encode(&[5], -1, 0)), Some(0.0005));
        assert_eq!(numeric(&encode(&[], 0, 0)), Some(0.0));
        assert!(numeric(&encode(&[], 0, 0xC000)).is_some_and(f64::is_nan));
        assert_eq!(numeric(&encode(&[], 0, 0xD000)), Some(f64::INFINITY));
        assert_eq!(numeric(&encode(&[10_000], 0, 0)), None);
        assert_eq!(numeric(&[0, 1]), None);
    }
}
