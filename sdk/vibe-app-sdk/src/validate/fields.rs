//! The field types of [`Check`](super::Check): each holds its limits, and ends in `required()`
//! (a missing value is an error) or `optional()` (a missing value is `None`).

use super::Field;
use crate::time::{Date, Timestamp};

/// Gives a field type its two endings: `required()` and `optional()`.
macro_rules! endings {
    ($field:ident, $out:ty) => {
        impl $field<'_, '_> {
            /// The value; "is required" when it is missing.
            pub fn required(self) -> $out {
                let rules = self.rules();
                self.field.required(rules)
            }

            /// The value, `None` when it is missing.
            pub fn optional(self) -> Option<$out> {
                let rules = self.rules();
                self.field.optional(rules)
            }
        }
    };
}

/// A text field; see [`Check::text`](super::Check::text).
pub struct TextField<'c, 'f> {
    pub(super) field: Field<'c, 'f>,
    pub(super) min: usize,
    pub(super) max: usize,
}

impl TextField<'_, '_> {
    /// At most `max` characters.
    pub fn max_len(mut self, max: usize) -> Self {
        self.max = max;
        self
    }

    /// At least `min` characters.
    pub fn min_len(mut self, min: usize) -> Self {
        self.min = min;
        self
    }

    fn rules(&self) -> impl FnOnce(&str) -> Result<String, String> + use<> {
        let (min, max) = (self.min, self.max);
        move |value| match value.chars().count() {
            n if n > max => Err(format!("must be at most {max} characters")),
            n if n < min => Err(format!("must be at least {min} characters")),
            _ => Ok(value.to_owned()),
        }
    }
}
endings!(TextField, String);

/// A whole number; see [`Check::int`](super::Check::int).
pub struct IntField<'c, 'f> {
    pub(super) field: Field<'c, 'f>,
    pub(super) min: i64,
    pub(super) max: i64,
}

impl IntField<'_, '_> {
    /// At least `min`.
    pub fn min(mut self, min: i64) -> Self {
        self.min = min;
        self
    }

    /// At most `max`.
    pub fn max(mut self, max: i64) -> Self {
        self.max = max;
        self
    }

    fn rules(&self) -> impl FnOnce(&str) -> Result<i64, String> + use<> {
        let (min, max) = (self.min, self.max);
        move |value| match value.parse::<i64>() {
            Err(_) => Err("must be a whole number".to_owned()),
            Ok(n) if n < min => Err(format!("must be at least {min}")),
            Ok(n) if n > max => Err(format!("must be at most {max}")),
            Ok(n) => Ok(n),
        }
    }
}
endings!(IntField, i64);

/// A decimal number; see [`Check::decimal`](super::Check::decimal).
pub struct DecimalField<'c, 'f> {
    pub(super) field: Field<'c, 'f>,
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) places: usize,
}

impl DecimalField<'_, '_> {
    /// At least `min`.
    pub fn min(mut self, min: f64) -> Self {
        self.min = min;
        self
    }

    /// At most `max`.
    pub fn max(mut self, max: f64) -> Self {
        self.max = max;
        self
    }

    /// At most `places` digits after the point (2 for money).
    pub fn places(mut self, places: usize) -> Self {
        self.places = places;
        self
    }

    fn rules(&self) -> impl FnOnce(&str) -> Result<f64, String> + use<> {
        let (min, max, places) = (self.min, self.max, self.places);
        move |value| {
            let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
            let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
            let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
            if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
                return Err("must be a number".to_owned());
            }
            if fraction.len() > places {
                return Err(format!("must have at most {places} digits after the decimal point"));
            }
            match value.parse::<f64>() {
                Ok(n) if n < min => Err(format!("must be at least {min}")),
                Ok(n) if n > max => Err(format!("must be at most {max}")),
                Ok(n) if n.is_finite() => Ok(n),
                _ => Err("must be a number".to_owned()),
            }
        }
    }
}
endings!(DecimalField, f64);

/// A date; see [`Check::date`](super::Check::date).
pub struct DateField<'c, 'f> {
    pub(super) field: Field<'c, 'f>,
}

impl DateField<'_, '_> {
    fn rules(&self) -> impl FnOnce(&str) -> Result<Date, String> + use<> {
        |value| value.parse::<Date>().map_err(|_| "must be a date (YYYY-MM-DD)".to_owned())
    }
}
endings!(DateField, Date);

/// A date and time; see [`Check::datetime`](super::Check::datetime).
pub struct DatetimeField<'c, 'f> {
    pub(super) field: Field<'c, 'f>,
}

impl DatetimeField<'_, '_> {
    fn rules(&self) -> impl FnOnce(&str) -> Result<Timestamp, String> + use<> {
        |value| {
            value
                .parse::<Timestamp>()
                .map_err(|_| "must be a date and time (such as 2027-01-14T19:00:00+01:00)".to_owned())
        }
    }
}
endings!(DatetimeField, Timestamp);

/// A web address; see [`Check::url`](super::Check::url).
pub struct UrlField<'c, 'f> {
    pub(super) field: Field<'c, 'f>,
}

impl UrlField<'_, '_> {
    fn rules(&self) -> impl FnOnce(&str) -> Result<String, String> + use<> {
        |value| {
            let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
            let host = rest.map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
            let valid = value.len() <= 2000
                && !value
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
                && host.is_some_and(|host| !host.is_empty() && !host.starts_with(['@', ':']));
            if valid {
                Ok(value.to_owned())
            } else {
                Err("must be a web address (http:// or https://)".to_owned())
            }
        }
    }
}
endings!(UrlField, String);

/// An email address; see [`Check::email`](super::Check::email).
pub struct EmailField<'c, 'f> {
    pub(super) field: Field<'c, 'f>,
}

impl EmailField<'_, '_> {
    fn rules(&self) -> impl FnOnce(&str) -> Result<String, String> + use<> {
        |value| {
            let valid = value.len() <= 254
                && !value
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ','))
                && value.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.split('.').count() >= 2
                        && domain.split('.').all(|label| !label.is_empty())
                });
            if valid { Ok(value.to_owned()) } else { Err("must be an email address".to_owned()) }
        }
    }
}
endings!(EmailField, String);

/// One of a fixed list; see [`Check::choice`](super::Check::choice).
pub struct ChoiceField<'c, 'f> {
    pub(super) field: Field<'c, 'f>,
    pub(super) choices: &'c [&'c str],
}

impl ChoiceField<'_, '_> {
    fn rules(&self) -> impl FnOnce(&str) -> Result<String, String> + use<> {
        let choices: Vec<String> = self.choices.iter().map(|choice| (*choice).to_owned()).collect();
        move |value| {
            if choices.iter().any(|choice| choice == value) {
                Ok(value.to_owned())
            } else {
                Err(format!("must be one of: {}", choices.join(", ")))
            }
        }
    }
}
endings!(ChoiceField, String);
