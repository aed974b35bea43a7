//! Small English helpers for reading answers: normalising, splitting into words and lists,
//! singular forms, identifiers and labels. Deliberately simple: they serve short, plain answers.

/// Lowercase, trimmed, inner whitespace collapsed, trailing punctuation dropped.
pub fn normalise(text: &str) -> String {
    let lower = text.trim().to_lowercase().replace('’', "'");
    let collapsed = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.trim_end_matches(['.', '!', ',', ';']).trim().to_owned()
}

/// The words of `text`, lowercase, letters, digits and inner apostrophes only.
pub fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('’', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|word| word.trim_matches('\''))
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Words that never name a thing or a detail.
const STOP: &[&str] = &[
    "a",
    "an",
    "the",
    "our",
    "my",
    "their",
    "your",
    "his",
    "her",
    "its",
    "we",
    "i",
    "they",
    "you",
    "all",
    "each",
    "every",
    "some",
    "any",
    "of",
    "for",
    "to",
    "in",
    "on",
    "at",
    "by",
    "about",
    "list",
    "lists",
    "track",
    "keep",
    "also",
    "plus",
    "etc",
    "like",
    "such",
    "as",
    "and",
    "or",
    "with",
    "which",
    "that",
    "this",
    "these",
    "those",
    "what",
    "who",
    "want",
    "need",
    "app",
    "want",
    "things",
    "thing",
    "info",
    "information",
    "details",
    "data",
    "record",
    "records",
    "them",
    "it",
    "is",
    "are",
    "be",
    "do",
    "does",
    "have",
    "has",
    "there",
    "also",
    "just",
    "only",
    "e.g",
    "eg",
];

/// Whether `word` is a stop word.
pub fn is_stop(word: &str) -> bool {
    STOP.contains(&word)
}

/// The singular of an English noun (good enough for the names of things people keep track of).
pub fn singular(word: &str) -> String {
    let irregular = [
        ("people", "person"),
        ("children", "child"),
        ("men", "man"),
        ("women", "woman"),
        ("mice", "mouse"),
        ("feet", "foot"),
        ("teeth", "tooth"),
        ("geese", "goose"),
        ("data", "data"),
        ("series", "series"),
        ("news", "news"),
    ];
    if let Some((_, one)) = irregular.iter().find(|(many, _)| *many == word) {
        return (*one).to_owned();
    }
    if word.len() <= 3 || word.ends_with("ss") || word.ends_with("us") || word.ends_with("is") {
        return word.to_owned();
    }
    if let Some(stem) = word.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for ending in ["ches", "shes", "sses", "xes", "zes"] {
        if word.ends_with(ending) {
            return word[..word.len() - 2].to_owned();
        }
    }
    word.strip_suffix('s').unwrap_or(word).to_owned()
}

/// The plural of a singular noun.
pub fn plural(word: &str) -> String {
    if word.ends_with('y') && !word.ends_with("ay") && !word.ends_with("ey") && !word.ends_with("oy") {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"].iter().any(|end| word.ends_with(end)) {
        format!("{word}es")
    } else if word == "person" {
        "people".to_owned()
    } else {
        format!("{word}s")
    }
}

/// A snake_case identifier of `words`: lowercase ASCII letters, digits and `_`, starting with a letter.
pub fn identifier(words: &[String]) -> Option<String> {
    let joined = words
        .iter()
        .map(|word| word.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let trimmed = joined.trim_start_matches(|c: char| !c.is_ascii_alphabetic());
    (!trimmed.is_empty()).then(|| trimmed.chars().take(48).collect())
}

/// "date_read" → "Date read".
pub fn label(identifier: &str) -> String {
    let spaced = identifier.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "book_club" → "Book Club".
pub fn title(identifier: &str) -> String {
    identifier.split('_').filter(|w| !w.is_empty()).map(label).collect::<Vec<_>>().join(" ")
}

/// Splits a list such as "title, author and date read" into its items.
pub fn list_items(text: &str) -> Vec<String> {
    text.replace(" and ", ",")
        .replace(" & ", ",")
        .replace(" as well as ", ",")
        .replace(" plus ", ",")
        .replace('/', ",")
        .split(',')
        .map(|item| {
            item.trim().trim_start_matches("and ").trim_end_matches(['.', ')', '(']).trim().to_owned()
        })
        .filter(|item| !item.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_plural_and_names() {
        for (many, one) in
            [("books", "book"), ("snacks", "snack"), ("people", "person"), ("classes", "class")]
        {
            assert_eq!(singular(many), one);
        }
        assert_eq!(singular("activities"), "activity");
        assert_eq!(singular("status"), "status");
        assert_eq!(plural("activity"), "activities");
        assert_eq!(plural("book"), "books");
        assert_eq!(identifier(&["date".into(), "read".into()]).as_deref(), Some("date_read"));
        assert_eq!(identifier(&["1st".into(), "place".into()]).as_deref(), Some("st_place"));
        assert_eq!(label("date_read"), "Date read");
        assert_eq!(title("book_club"), "Book Club");
        assert_eq!(list_items("title, author and date read"), vec!["title", "author", "date read"]);
        assert_eq!(normalise("  Don’t know. "), "don't know");
    }
}
