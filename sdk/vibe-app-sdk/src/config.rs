//! The app's settings and secrets (`vibe:app/config`), set by its owner and read-only to the app.
//! A secret is read as a [`Secret`], which never prints its value (not in `{:?}`, not in logs).

use std::fmt;

use crate::sys::config as sys;

/// The value of setting `name`, if it is set; `None` also when the configuration cannot be read
/// (logged), so a page can fall back to a default.
pub fn get(name: &str) -> Option<String> {
    match sys::get(name) {
        Ok(value) => value,
        Err(sys::Error::Unavailable(why)) => {
            crate::log::write(crate::log::Level::Warn, &format!("config `{name}` unavailable: {why}"));
            None
        }
    }
}

/// The value of setting `name`, or `default` when it is not set.
pub fn get_or(name: &str, default: &str) -> String {
    get(name).unwrap_or_else(|| default.to_owned())
}

/// The secret `name` (an API key, a password); a logged 500 when it is not set, since the app
/// cannot work without it.
pub fn secret(name: &str) -> Result<Secret, crate::Error> {
    match sys::get(name) {
        Ok(Some(value)) => Ok(Secret(value)),
        Ok(None) => Err(crate::Error::internal(format!("the secret `{name}` is not set"))),
        Err(sys::Error::Unavailable(why)) => {
            Err(crate::Error::unavailable(format!("config unavailable: {why}")))
        }
    }
}

/// The names of all settings and secrets, in ascending order (empty when unreadable).
pub fn names() -> Vec<String> {
    sys::list_names().unwrap_or_default()
}

/// A secret value; its `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret("hunter2".into());
        assert_eq!(format!("{secret} {secret:?}"), "*** Secret(***)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn outside_the_runtime_settings_fall_back() {
        assert_eq!(get_or("title", "Guestbook"), "Guestbook");
        assert_eq!(secret("api_key").unwrap_err().status(), 503);
    }
}
