//! HTML that is escaped by default. An [`Html`] value is markup the app vouches for; everything
//! else interpolated into it goes through [`ToHtml`], which escapes text. The [`html!`](crate::html!)
//! macro is the usual way to build one:
//!
//! ```
//! use vibe_app_sdk::{html, Html};
//! let name = "<script>";
//! let item: Html = html!("<li class=\"{}\">{}</li>", "guest", name);
//! assert_eq!(item.as_str(), "<li class=\"guest\">&lt;script&gt;</li>");
//! ```
//!
//! Templates take only `{}` placeholders, filled in order (`{{` and `}}` write braces); the number
//! of placeholders is checked at compile time. Named placeholders (`{name}`) are refused on
//! purpose: `format!` would capture a variable by name and print it unescaped. Attribute values
//! must be quoted; a link built from user input should go through [`crate::url::encode`].
//!
//! Both mistakes fail to compile:
//!
//! ```compile_fail
//! let name = "<script>";
//! let _ = vibe_app_sdk::html!("<p>{name}</p>");
//! ```
//!
//! ```compile_fail
//! let _ = vibe_app_sdk::html!("<p>{}</p>", 1, 2);
//! ```

use std::fmt;

/// Markup the app vouches for: escaped text, or HTML written by the app itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Html(String);

impl Html {
    /// `markup` as it is, unescaped: only for HTML the app wrote itself, never for user input.
    pub fn raw(markup: impl Into<String>) -> Html {
        Html(markup.into())
    }

    /// `text`, escaped.
    pub fn text(text: &str) -> Html {
        let mut out = String::with_capacity(text.len());
        escape_into(text, &mut out);
        Html(out)
    }

    /// The markup.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The markup, as a `String`.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Appends `other`.
    pub fn push(&mut self, other: impl ToHtml) {
        other.write_html(&mut self.0);
    }

    /// Fills `template`'s `{}` placeholders with `args`, in order; what [`html!`](crate::html!)
    /// expands to. Extra arguments are ignored, missing ones left empty (the macro makes sure the
    /// numbers match).
    #[doc(hidden)]
    pub fn render(template: &str, args: &[&dyn ToHtml]) -> Html {
        let mut out = String::with_capacity(template.len() + 16 * args.len());
        let mut args = args.iter();
        let mut rest = template;
        while let Some(at) = rest.find(['{', '}']) {
            out.push_str(&rest[..at]);
            let brace = &rest[at..];
            if brace.starts_with("{}") {
                if let Some(arg) = args.next() {
                    arg.write_html(&mut out);
                }
            } else {
                // `{{` or `}}`: one brace.
                out.push_str(&brace[..1]);
            }
            rest = brace.get(2..).unwrap_or("");
        }
        out.push_str(rest);
        Html(out)
    }
}

impl fmt::Display for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromIterator<Html> for Html {
    fn from_iter<I: IntoIterator<Item = Html>>(items: I) -> Html {
        Html(items.into_iter().map(|item| item.0).collect())
    }
}

/// A value that can be written into HTML: text is escaped, [`Html`] is written as it is.
pub trait ToHtml {
    /// Writes `self` to `out`, escaped as needed.
    fn write_html(&self, out: &mut String);
}

impl ToHtml for Html {
    fn write_html(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

impl ToHtml for str {
    fn write_html(&self, out: &mut String) {
        escape_into(self, out);
    }
}

impl ToHtml for String {
    fn write_html(&self, out: &mut String) {
        escape_into(self, out);
    }
}

impl<T: ToHtml + ?Sized> ToHtml for &T {
    fn write_html(&self, out: &mut String) {
        (**self).write_html(out);
    }
}

/// Nothing for `None`.
impl<T: ToHtml> ToHtml for Option<T> {
    fn write_html(&self, out: &mut String) {
        if let Some(value) = self {
            value.write_html(out);
        }
    }
}

/// Types whose text never needs escaping but is escaped anyway, through `Display`.
macro_rules! display_to_html {
    ($($ty:ty),*) => {$(
        impl ToHtml for $ty {
            fn write_html(&self, out: &mut String) {
                escape_into(&self.to_string(), out);
            }
        }
    )*};
}
display_to_html!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64, bool, char);
display_to_html!(crate::time::Date, crate::time::Timestamp);

/// Writes `text` to `out` with `& < > " '` escaped, safe in element content and quoted attributes.
pub fn escape_into(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// The number of `{}` placeholders in `template`; fails (at compile time, in
/// [`html!`](crate::html!)) on any other use of a brace.
#[doc(hidden)]
pub const fn placeholders(template: &str) -> usize {
    let bytes = template.as_bytes();
    let (mut i, mut count) = (0, 0);
    while i < bytes.len() {
        let next = if i + 1 < bytes.len() { bytes[i + 1] } else { 0 };
        match (bytes[i], next) {
            (b'{', b'}') => count += 1,
            (b'{', b'{') | (b'}', b'}') => {}
            (b'{', _) | (b'}', _) => {
                panic!("html!: only empty placeholders are allowed, and a literal brace is written twice")
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    count
}

/// Builds [`Html`] from a template whose `{}` placeholders are filled with the arguments, each
/// escaped unless it is already [`Html`]. See the [module documentation](mod@crate::html).
#[macro_export]
macro_rules! html {
    ($template:literal $(, $arg:expr)* $(,)?) => {{
        const _: () = ::core::assert!(
            $crate::html::placeholders($template) == <[&str]>::len(&[$(::core::stringify!($arg)),*]),
            "html!: the template's placeholders and the arguments differ in number",
        );
        $crate::html::Html::render($template, &[$(&$arg as &dyn $crate::html::ToHtml),*])
    }};
}

/// A complete page: doctype, UTF-8, a mobile viewport, `title` (escaped), a small neutral
/// stylesheet and `body`.
pub fn page(title: &str, body: Html) -> Html {
    crate::html!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{}</style></head>\n<body><main>{}</main></body></html>\n",
        title,
        Html::raw(STYLE),
        body
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;color:#222}\
main{max-width:46rem;margin:0 auto;padding:1.5rem}\
a{color:#2458b3}table{border-collapse:collapse;width:100%}\
td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}\
label{display:block;margin:.8rem 0 .2rem;font-weight:600}\
input,textarea,select{font:inherit;padding:.35rem;width:100%;box-sizing:border-box}\
input[type=checkbox]{width:auto}button{font:inherit;padding:.4rem 1rem;margin-top:1rem}\
.error{color:#b00020;display:block}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_html_is_not() {
        let name = "<b>\"Tom\" & 'Jerry'</b>";
        let inner = crate::html!("<i>{}</i>", "x<y");
        let out = crate::html!("<p title=\"{}\">{} {} {{literal}}</p>", name, inner, 42);
        assert_eq!(
            out.as_str(),
            "<p title=\"&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;\">\
             <i>x&lt;y</i> 42 {literal}</p>"
        );
    }

    #[test]
    fn options_strings_and_lists() {
        let missing: Option<&str> = None;
        let owned = String::from("a&b");
        let list: Html = ["1", "<2>"].iter().map(|n| crate::html!("<li>{}</li>", n)).collect();
        let out = crate::html!("{}|{}|{}|{}", missing, Some("<"), owned, list);
        assert_eq!(out.as_str(), "|&lt;|a&amp;b|<li>1</li><li>&lt;2&gt;</li>");
    }

    #[test]
    fn counts_placeholders() {
        assert_eq!(placeholders("a {} b {{}} {}"), 2);
        assert_eq!(placeholders("no braces"), 0);
        assert_eq!(placeholders("}}{{"), 0);
    }

    #[test]
    #[should_panic(expected = "only empty placeholders")]
    fn refuses_named_placeholders() {
        placeholders("{name}");
    }

    #[test]
    fn page_escapes_its_title() {
        let out = page("a<b", Html::text("&"));
        assert!(out.as_str().contains("<title>a&lt;b</title>"));
        assert!(out.as_str().contains("<main>&amp;</main>"));
    }
}
