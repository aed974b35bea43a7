//! Long-term memory of a person's preferences, across all their ideas (`user_preferences`).
//!
//! Preferences are learned two ways, both deterministic so they work in guided mode too: from what the
//! person says ("please answer in French", "I prefer a minimal style") and from a `user-preferences`
//! JSON artifact an agent writes (an object of names to values). Each is one row per person and name;
//! the newest statement wins. Every turn shows them to the agent in the `context.profile` artifact.

use sqlx::PgConnection;
use uuid::Uuid;

/// The artifact agents write preferences to.
pub const PREFERENCES_ARTIFACT: &str = "user-preferences";
/// The most preferences one artifact may set.
const MAX_FROM_ARTIFACT: usize = 20;
/// The longest value kept.
const MAX_VALUE_CHARS: usize = 200;

/// Languages a person may ask to be answered in.
const LANGUAGES: [&str; 20] = [
    "english",
    "french",
    "german",
    "spanish",
    "italian",
    "portuguese",
    "dutch",
    "polish",
    "swedish",
    "danish",
    "norwegian",
    "finnish",
    "greek",
    "turkish",
    "russian",
    "ukrainian",
    "japanese",
    "chinese",
    "korean",
    "hindi",
];

/// A preference learned: its name (`language`, `style`, …) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preference {
    pub key: String,
    pub value: String,
}

/// The preferences a person states in `message`.
pub fn stated_in(message: &str) -> Vec<Preference> {
    let lower = message.to_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !c.is_alphanumeric() && c != '-').filter(|word| !word.is_empty()).collect();
    let mut found = Vec::new();
    // "answer in French", "reply in German please", "speak Spanish", "my language is Italian".
    for (index, word) in words.iter().enumerate() {
        if !LANGUAGES.contains(word) {
            continue;
        }
        let before = |back: usize| index.checked_sub(back).and_then(|at| words.get(at)).copied();
        let asked = matches!(before(1), Some("speak" | "is"))
            || (before(1) == Some("in")
                && matches!(
                    before(2),
                    Some("answer" | "reply" | "respond" | "write" | "talk" | "me" | "us")
                ));
        if asked {
            found.push(Preference { key: "language".into(), value: capitalize(word) });
            break;
        }
    }
    // "I prefer a minimal style", "we like a dark, playful look".
    for (index, word) in words.iter().enumerate() {
        if !matches!(*word, "style" | "look" | "design") {
            continue;
        }
        let start = words[..index].iter().rposition(|w| matches!(*w, "prefer" | "like" | "love" | "want"));
        if let Some(start) = start.filter(|start| index - start <= 4) {
            let described: Vec<&str> = words[start + 1..index]
                .iter()
                .copied()
                .filter(|w| !matches!(*w, "a" | "an" | "the" | "more" | "very"))
                .collect();
            if !described.is_empty() {
                found.push(Preference { key: "style".into(), value: described.join(" ") });
                break;
            }
        }
    }
    found
}

/// The preferences of a `user-preferences` artifact's JSON content (an object; other shapes set none).
pub fn from_artifact(content: &str) -> Vec<Preference> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(content) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter_map(|(key, value)| {
            let key = normalize_key(&key)?;
            let value = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => value.to_string(),
                _ => return None,
            };
            let value: String = value.trim().chars().take(MAX_VALUE_CHARS).collect();
            (!value.is_empty()).then_some(Preference { key, value })
        })
        .take(MAX_FROM_ARTIFACT)
        .collect()
}

fn normalize_key(key: &str) -> Option<String> {
    let key: String = key
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(64)
        .collect();
    key.starts_with(|c: char| c.is_ascii_lowercase()).then_some(key)
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Remembers `preferences` of `user_id`, learned from `source` on `idea_id`.
pub async fn remember(
    conn: &mut PgConnection,
    user_id: Uuid,
    idea_id: Uuid,
    source: &str,
    preferences: &[Preference],
) -> sqlx::Result<()> {
    for preference in preferences {
        sqlx::query(
            "INSERT INTO user_preferences (user_id, key, value, source, idea_id) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, key) DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source, \
                 idea_id = EXCLUDED.idea_id, updated_at = now()",
        )
        .bind(user_id)
        .bind(&preference.key)
        .bind(&preference.value)
        .bind(source)
        .bind(idea_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pref(key: &str, value: &str) -> Preference {
        Preference { key: key.into(), value: value.into() }
    }

    #[test]
    fn stated_preferences_are_found_and_ordinary_talk_is_not() {
        assert_eq!(stated_in("Please answer in French from now on"), [pref("language", "French")]);
        assert_eq!(stated_in("I prefer a minimal style"), [pref("style", "minimal")]);
        assert_eq!(
            stated_in("We like a dark playful look. Reply in German."),
            [pref("language", "German"), pref("style", "dark playful")]
        );
        assert!(stated_in("A book club app: who brings snacks, in english class").is_empty());
        assert!(stated_in("style matters").is_empty());
    }

    #[test]
    fn artifact_preferences_are_an_object_of_values() {
        assert_eq!(
            from_artifact(r#"{"Colour Scheme": "green", "dark_mode": true, "nested": {"x": 1}}"#),
            [pref("colour_scheme", "green"), pref("dark_mode", "true")]
        );
        assert!(from_artifact("[1, 2]").is_empty());
        assert!(from_artifact("not json").is_empty());
    }
}
