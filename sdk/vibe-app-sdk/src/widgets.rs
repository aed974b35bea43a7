//! Form inputs, each with its label, the value to show (from a [`Form`]: what the user sent, or
//! a record's values) and its validation message: one line per field in a page's form.
//!
//! ```
//! # use vibe_app_sdk::{Form, FormErrors, widgets::{field, Input}};
//! let values = Form::from_pairs([("title", "Dune")]);
//! let html = field(Input::Text, "title", "Title", &values, &FormErrors::new());
//! assert!(html.as_str().contains("value=\"Dune\""));
//! ```

use crate::form::Form;
use crate::html;
use crate::html::Html;
use crate::validate::FormErrors;

/// The kind of input.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// One line of text.
    Text,
    /// Several lines of text.
    TextArea,
    /// A whole number.
    Number,
    /// A decimal number (a text input with a decimal keyboard, so no browser rounds it).
    Decimal,
    /// A date picker.
    Date,
    /// An email address.
    Email,
    /// A password (its value is never written back into the page).
    Password,
    /// A checkbox (sends `true` when ticked).
    Checkbox,
    /// One of these options (the first choice is empty, for "none").
    Select(&'a [&'a str]),
}

/// A labelled input named `name` showing `values`' value for it and `errors`' message for it.
pub fn field(input: Input<'_>, name: &str, label: &str, values: &Form, errors: &FormErrors) -> Html {
    let id = format!("field-{name}");
    let value = values.value(name);
    let error = errors.get(name);
    let invalid = if error.is_some() { Html::raw(" aria-invalid=\"true\"") } else { Html::default() };
    let message = error.map(|message| html!("<span class=\"error\">{}</span>", message));
    let control = match input {
        Input::Checkbox => {
            let checked = matches!(value, "on" | "true" | "1" | "yes");
            let checked = if checked { Html::raw(" checked") } else { Html::default() };
            return html!(
                "<label><input type=\"checkbox\" id=\"{}\" name=\"{}\" value=\"true\"{}{}> {}</label>{}",
                id,
                name,
                checked,
                invalid,
                label,
                message
            );
        }
        Input::TextArea => {
            html!("<textarea id=\"{}\" name=\"{}\" rows=\"4\"{}>{}</textarea>", id, name, invalid, value)
        }
        Input::Select(choices) => {
            let options: Html = choices
                .iter()
                .map(|choice| {
                    let selected = if *choice == value { Html::raw(" selected") } else { Html::default() };
                    html!("<option value=\"{}\"{}>{}</option>", choice, selected, choice)
                })
                .collect();
            html!(
                "<select id=\"{}\" name=\"{}\"{}><option value=\"\"></option>{}</select>",
                id,
                name,
                invalid,
                options
            )
        }
        Input::Password => html!("<input type=\"password\" id=\"{}\" name=\"{}\"{}>", id, name, invalid),
        other => {
            let kind = match other {
                Input::Number => "number\" step=\"1",
                Input::Decimal => "text\" inputmode=\"decimal",
                Input::Date => "date",
                Input::Email => "email",
                _ => "text",
            };
            html!(
                "<input type=\"{}\" id=\"{}\" name=\"{}\" value=\"{}\"{}>",
                Html::raw(kind),
                id,
                name,
                value,
                invalid
            )
        }
    };
    html!("<label for=\"{}\">{}</label>{}{}", id, label, control, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_show_values_and_errors_escaped() {
        let values = Form::from_pairs([("title", "\"><script>"), ("done", "true"), ("status", "open")]);
        let mut errors = FormErrors::new();
        errors.add("title", "is <required>");
        let out = field(Input::Text, "title", "Title", &values, &errors);
        assert_eq!(
            out.as_str(),
            "<label for=\"field-title\">Title</label><input type=\"text\" id=\"field-title\" name=\"title\" \
             value=\"&quot;&gt;&lt;script&gt;\" aria-invalid=\"true\"><span class=\"error\">is &lt;required&gt;</span>"
        );
        let out = field(Input::Checkbox, "done", "Done", &values, &FormErrors::new());
        assert!(out.as_str().contains("value=\"true\" checked>"), "{out}");
        let out = field(Input::Select(&["open", "closed"]), "status", "Status", &values, &FormErrors::new());
        assert!(out.as_str().contains("<option value=\"open\" selected>open</option>"), "{out}");
        let out = field(Input::Password, "title", "Password", &values, &FormErrors::new());
        assert!(!out.as_str().contains("script"), "a password is never written back: {out}");
    }
}
