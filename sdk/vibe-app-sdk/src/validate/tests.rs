//! Tests of validation: each field type's parsing, limits and messages.

use super::*;

fn form(pairs: &[(&str, &str)]) -> Form {
    Form::from_pairs(pairs.iter().copied())
}

#[test]
fn text_is_trimmed_and_limited() {
    let form = form(&[("a", "  hi  "), ("b", "   "), ("c", "héllo"), ("d", "x")]);
    let mut check = form.check();
    assert_eq!(check.text("a").required(), "hi");
    assert_eq!(check.text("b").optional(), None);
    assert_eq!(check.text("missing").optional(), None);
    assert_eq!(check.text("c").max_len(5).required(), "héllo");
    assert_eq!(check.text("c").max_len(4).required(), "");
    check.text("d").min_len(2).optional();
    check.text("b").required();
    let errors = check.finish(()).unwrap_err();
    assert_eq!(errors.get("c"), Some("must be at most 4 characters"));
    assert_eq!(errors.get("d"), Some("must be at least 2 characters"));
    assert_eq!(errors.get("b"), Some("is required"));
    assert_eq!(errors.get("a"), None);
}

#[test]
fn integers_with_bounds() {
    let form = form(&[("n", " 42 "), ("neg", "-3"), ("bad", "4.5"), ("big", "99999999999999999999")]);
    let mut check = form.check();
    assert_eq!(check.int("n").min(1).max(100).required(), 42);
    assert_eq!(check.int("neg").optional(), Some(-3));
    check.int("neg").min(0).required();
    check.int("n").max(10).required();
    check.int("bad").optional();
    check.int("big").optional();
    let errors = check.finish(()).unwrap_err();
    assert_eq!(errors.get("neg"), Some("must be at least 0"));
    assert_eq!(errors.get("n"), Some("must be at most 10"));
    assert_eq!(errors.get("bad"), Some("must be a whole number"));
    assert_eq!(errors.get("big"), Some("must be a whole number"));
}

#[test]
fn decimals_refuse_exponents_and_extra_places() {
    let form =
        form(&[("p", "12.50"), ("q", "-.5"), ("e", "1e3"), ("nan", "NaN"), ("dot", "."), ("x", "1.999")]);
    let mut check = form.check();
    assert_eq!(check.decimal("p").places(2).min(0.0).required(), 12.5);
    assert_eq!(check.decimal("q").optional(), Some(-0.5));
    check.decimal("e").optional();
    check.decimal("nan").optional();
    check.decimal("dot").optional();
    check.decimal("x").places(2).optional();
    check.decimal("q").min(0.0).optional();
    let errors = check.finish(()).unwrap_err();
    assert_eq!(errors.get("e"), Some("must be a number"));
    assert_eq!(errors.get("nan"), Some("must be a number"));
    assert_eq!(errors.get("dot"), Some("must be a number"));
    assert_eq!(errors.get("x"), Some("must have at most 2 digits after the decimal point"));
    assert_eq!(errors.get("q"), Some("must be at least 0"));
}

#[test]
fn dates_emails_and_choices() {
    let form = form(&[
        ("d", "2024-05-01"),
        ("bad_d", "2024-02-30"),
        ("e", "ada@example.com"),
        ("bad_e", "ada@localhost"),
        ("c", "open"),
        ("bad_c", "Open"),
    ]);
    let mut check = form.check();
    assert_eq!(check.date("d").required().to_string(), "2024-05-01");
    check.date("bad_d").optional();
    assert_eq!(check.email("e").required(), "ada@example.com");
    check.email("bad_e").optional();
    assert_eq!(check.choice("c", &["open", "done"]).required(), "open");
    check.choice("bad_c", &["open", "done"]).optional();
    let errors = check.finish(()).unwrap_err();
    assert_eq!(errors.get("bad_d"), Some("must be a date (YYYY-MM-DD)"));
    assert_eq!(errors.get("bad_e"), Some("must be an email address"));
    assert_eq!(errors.get("bad_c"), Some("must be one of: open, done"));
}

#[test]
fn emails_need_a_local_part_and_a_dotted_domain() {
    for bad in ["@example.com", "a@b", "a@@b.c", "a b@c.d", "a@b..c", "a@.b", "<a@b.c>", "a@b.c,d@e.f"] {
        let form = form(&[("e", bad)]);
        let mut check = form.check();
        check.email("e").required();
        assert!(check.finish(()).is_err(), "{bad}");
    }
}

#[test]
fn checkboxes() {
    let form = form(&[
        ("on", "on"),
        ("t", "TRUE"),
        ("f", "0"),
        ("hidden", "false"),
        ("hidden", "true"),
        ("odd", "maybe"),
    ]);
    let mut check = form.check();
    assert!(check.bool("on"));
    assert!(check.bool("t"));
    assert!(!check.bool("f"));
    assert!(!check.bool("missing"));
    assert!(check.bool("hidden"));
    assert!(!check.bool("odd"));
    assert_eq!(check.finish(()).unwrap_err().get("odd"), Some("must be true or false"));
}

#[test]
fn first_error_per_field_and_own_errors() {
    let form = form(&[("title", "")]);
    let mut check = form.check();
    check.text("title").required();
    check.error("title", "is taken");
    check.error("other", "is wrong");
    let errors = check.finish(1).unwrap_err();
    let all: Vec<_> = errors.iter().collect();
    assert_eq!(all, [("title", "is required"), ("other", "is wrong")]);
}

#[test]
fn finish_gives_the_value_when_all_pass() {
    let form = form(&[("title", "Dune"), ("pages", "412")]);
    let mut check = form.check();
    let value = (check.text("title").required(), check.int("pages").optional());
    assert_eq!(check.finish(value), Ok(("Dune".to_owned(), Some(412))));
}

#[test]
fn datetimes_and_urls() {
    let form = form(&[
        ("at", "2024-05-01T14:30:00+02:00"),
        ("bad_at", "tomorrow"),
        ("link", "https://example.com/a?b"),
        ("script", "javascript:alert(1)"),
        ("no_host", "https:///x"),
    ]);
    let mut check = form.check();
    assert_eq!(check.datetime("at").required(), crate::Timestamp(1_714_566_600_000_000));
    check.datetime("bad_at").optional();
    assert_eq!(check.url("link").required(), "https://example.com/a?b");
    check.url("script").optional();
    check.url("no_host").optional();
    let errors = check.finish(()).unwrap_err();
    let failed: Vec<&str> = errors.iter().map(|(name, _)| name).collect();
    assert_eq!(failed, ["bad_at", "script", "no_host"]);
}
