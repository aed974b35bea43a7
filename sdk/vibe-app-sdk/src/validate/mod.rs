//! Server-side validation of a [`Form`], one line per field, collecting a message per field:
//!
//! ```
//! # use vibe_app_sdk::Form;
//! let form = Form::from_pairs([("title", "Dune"), ("pages", "abc")]);
//! let mut check = form.check();
//! let title = check.text("title").max_len(200).required();
//! let pages = check.int("pages").min(1).optional();
//! let read = check.bool("read");
//! let errors = check.finish((title, pages, read)).unwrap_err();
//! assert_eq!(errors.get("pages"), Some("must be a whole number"));
//! ```
//!
//! Values are trimmed, and an empty value counts as missing. `required()` records "is required"
//! for a missing field; `optional()` gives `None` for it. A field that fails gives a default
//! value (never used: [`Check::finish`] then returns the errors instead).

mod fields;

pub use fields::{
    ChoiceField, DateField, DatetimeField, DecimalField, EmailField, IntField, TextField, UrlField,
};

use crate::form::Form;

/// The fields that failed validation, each with one message, in the order they were checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormErrors {
    errors: Vec<(String, String)>,
}

impl FormErrors {
    /// No errors.
    pub fn new() -> FormErrors {
        FormErrors::default()
    }

    /// Records `message` for `field`, unless it already has one.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.errors.push((field.to_owned(), message.into()));
        }
    }

    /// The message for `field`, if it failed.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(name, _)| name == field).map(|(_, message)| message.as_str())
    }

    /// Whether every field passed.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `(field, message)` for each failed field.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.errors.iter().map(|(name, message)| (name.as_str(), message.as_str()))
    }
}

/// Validates the fields of one form; see the [module documentation](self).
#[derive(Debug)]
pub struct Check<'f> {
    form: &'f Form,
    errors: FormErrors,
}

impl<'f> Check<'f> {
    pub(crate) fn new(form: &'f Form) -> Check<'f> {
        Check { form, errors: FormErrors::new() }
    }

    fn field<'c>(&'c mut self, name: &'c str) -> Field<'c, 'f> {
        let raw = self.form.get(name).map(str::trim).filter(|value| !value.is_empty());
        Field { check: self, name, raw }
    }

    /// A text field.
    pub fn text<'c>(&'c mut self, name: &'c str) -> TextField<'c, 'f> {
        TextField { field: self.field(name), min: 0, max: usize::MAX }
    }

    /// A whole number (`i64`).
    pub fn int<'c>(&'c mut self, name: &'c str) -> IntField<'c, 'f> {
        IntField { field: self.field(name), min: i64::MIN, max: i64::MAX }
    }

    /// A decimal number such as `12.50` (no exponent, no `NaN`), as `f64`.
    pub fn decimal<'c>(&'c mut self, name: &'c str) -> DecimalField<'c, 'f> {
        DecimalField { field: self.field(name), min: f64::MIN, max: f64::MAX, places: usize::MAX }
    }

    /// A date, `YYYY-MM-DD`.
    pub fn date<'c>(&'c mut self, name: &'c str) -> DateField<'c, 'f> {
        DateField { field: self.field(name) }
    }

    /// A date and time: RFC 3339, or a `datetime-local` input's value read as UTC (see
    /// [`Timestamp`](crate::Timestamp)'s `FromStr`).
    pub fn datetime<'c>(&'c mut self, name: &'c str) -> DatetimeField<'c, 'f> {
        DatetimeField { field: self.field(name) }
    }

    /// An `http` or `https` URL with a host, at most 2000 characters, no spaces.
    pub fn url<'c>(&'c mut self, name: &'c str) -> UrlField<'c, 'f> {
        UrlField { field: self.field(name) }
    }

    /// An email address (one `@`, a dotted domain, no spaces, at most 254 characters).
    pub fn email<'c>(&'c mut self, name: &'c str) -> EmailField<'c, 'f> {
        EmailField { field: self.field(name) }
    }

    /// One of `choices`, exactly.
    pub fn choice<'c>(&'c mut self, name: &'c str, choices: &'c [&'c str]) -> ChoiceField<'c, 'f> {
        ChoiceField { field: self.field(name), choices }
    }

    /// A checkbox: `false` when missing, `on`/`true`/`1`/`yes` or `off`/`false`/`0`/`no`
    /// otherwise (the last value wins, so a hidden `false` before the checkbox works).
    pub fn bool(&mut self, name: &str) -> bool {
        match self.form.get_all(name).last().map(|value| value.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "off" | "false" | "0" | "no") => false,
            Some("on" | "true" | "1" | "yes") => true,
            Some(_) => {
                self.errors.add(name, "must be true or false");
                false
            }
        }
    }

    /// Records an error of the app's own (a title already taken, dates in the wrong order).
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.add(field, message);
    }

    /// The errors so far.
    pub fn errors(&self) -> &FormErrors {
        &self.errors
    }

    /// `value` if every field passed, else the errors.
    pub fn finish<T>(self, value: T) -> Result<T, FormErrors> {
        if self.errors.is_empty() { Ok(value) } else { Err(self.errors) }
    }
}

/// One field being checked: its trimmed value, `None` when missing or empty.
pub(crate) struct Field<'c, 'f> {
    check: &'c mut Check<'f>,
    name: &'c str,
    raw: Option<&'f str>,
}

impl Field<'_, '_> {
    pub(crate) fn optional<T>(self, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.raw?;
        parse(raw).map_err(|message| self.check.errors.add(self.name, message)).ok()
    }

    pub(crate) fn required<T: Default>(self, parse: impl FnOnce(&str) -> Result<T, String>) -> T {
        if self.raw.is_none() {
            self.check.errors.add(self.name, "is required");
            return T::default();
        }
        self.optional(parse).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
