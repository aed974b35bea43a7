//! Submitted fields: the `name=value` pairs of an `application/x-www-form-urlencoded` body, or
//! the members of a JSON object, as text. One [`Form`] type for both lets an app validate an HTML
//! form and a JSON API request with the same code ([`Form::check`], `validate.rs`), and re-render
//! a form with what the user typed.

use serde_json::Value;

use crate::error::Error;
use crate::validate::Check;

/// Named text values, in the order they were sent; a name may repeat (checkboxes, multi-selects).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// An empty form (a "new" page's blank inputs).
    pub fn new() -> Form {
        Form::default()
    }

    /// A form holding `pairs`: an existing record's values, to fill an edit page's inputs.
    pub fn from_pairs<N: Into<String>, V: ToString>(pairs: impl IntoIterator<Item = (N, V)>) -> Form {
        Form { pairs: pairs.into_iter().map(|(name, value)| (name.into(), value.to_string())).collect() }
    }

    /// Parses an `application/x-www-form-urlencoded` body; a 400 if it is not UTF-8 once decoded.
    pub fn parse_urlencoded(body: &[u8]) -> Result<Form, Error> {
        let text =
            std::str::from_utf8(body).map_err(|_| Error::bad_request("the form is not valid UTF-8"))?;
        crate::url::parse_pairs(text)
            .map(|pairs| Form { pairs })
            .ok_or_else(|| Error::bad_request("the form is not valid UTF-8"))
    }

    /// The members of a JSON object as fields: strings as they are, numbers and booleans as
    /// their JSON text, `null` as absent, arrays as repeated fields of those. A 400 names the
    /// first member that is an object (or an array holding one), or says the body is no object.
    pub fn from_json(value: &Value) -> Result<Form, Error> {
        let Value::Object(members) = value else {
            return Err(Error::bad_request("the JSON body must be an object"));
        };
        let mut pairs = Vec::with_capacity(members.len());
        for (name, value) in members {
            let items = match value {
                Value::Array(items) => items.as_slice(),
                single => std::slice::from_ref(single),
            };
            for item in items {
                let text = match item {
                    Value::Null => continue,
                    Value::String(text) => text.clone(),
                    Value::Bool(_) | Value::Number(_) => item.to_string(),
                    Value::Array(_) | Value::Object(_) => {
                        return Err(Error::bad_request(format!(
                            "`{name}` must be a string, a number, a boolean or null"
                        )));
                    }
                };
                pairs.push((name.clone(), text));
            }
        }
        Ok(Form { pairs })
    }

    /// The first value of `name`, if it was sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The first value of `name`, or `""`: what to put back into an input.
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Adds a value for `name` (after any it already has).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((name.into(), value.into()));
    }

    /// Starts validating this form's fields; see [`Check`].
    pub fn check(&self) -> Check<'_> {
        Check::new(self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_urlencoded_bodies() {
        let form = Form::parse_urlencoded(b"name=Ada+Lovelace&tag=a&tag=b%26c&empty=").unwrap();
        assert_eq!(form.get("name"), Some("Ada Lovelace"));
        assert_eq!(form.get_all("tag"), ["a", "b&c"]);
        assert_eq!(form.get("empty"), Some(""));
        assert_eq!(form.get("missing"), None);
        assert_eq!(form.value("missing"), "");
        let error = Form::parse_urlencoded(b"name=%FF").unwrap_err();
        assert_eq!(error.status(), 400);
    }

    #[test]
    fn reads_json_objects_as_fields() {
        let value =
            json!({"title": "x", "pages": 12, "price": 9.5, "done": true, "note": null, "tags": ["a", 1]});
        let form = Form::from_json(&value).unwrap();
        assert_eq!(form.get("title"), Some("x"));
        assert_eq!(form.get("pages"), Some("12"));
        assert_eq!(form.get("price"), Some("9.5"));
        assert_eq!(form.get("done"), Some("true"));
        assert_eq!(form.get("note"), None);
        assert_eq!(form.get_all("tags"), ["a", "1"]);

        let nested = Form::from_json(&json!({"author": {"name": "x"}})).unwrap_err();
        assert_eq!(nested.status(), 400);
        assert!(nested.message().contains("`author`"), "{}", nested.message());
        assert_eq!(Form::from_json(&json!([1, 2])).unwrap_err().status(), 400);
    }

    #[test]
    fn builds_from_pairs() {
        let form = Form::from_pairs([("id", 7)]);
        assert_eq!(form.value("id"), "7");
    }
}
