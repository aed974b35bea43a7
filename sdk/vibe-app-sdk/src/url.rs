//! Percent-encoding: decoding paths, query strings and `application/x-www-form-urlencoded` bodies,
//! and encoding values into links (`/books/{}` with a title in it stays one path segment).

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as forms and query strings
/// use it). `None` when the result is not UTF-8; a `%` not followed by two hex digits is kept.
pub(crate) fn decode(input: &str, plus_is_space: bool) -> Option<String> {
    if !input.contains(['%', '+']) {
        return Some(input.to_owned());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex)) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex(byte: &u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The `name=value` pairs of a query string or form body, decoded, in order. `None` when a name
/// or value is not UTF-8 once decoded.
pub(crate) fn parse_pairs(input: &str) -> Option<Vec<(String, String)>> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(name, true)?, decode(value, true)?))
        })
        .collect()
}

/// `value` with every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) percent-encoded, so
/// that it is safe as one path segment or one query value.
pub fn encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &byte in value.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_plus() {
        assert_eq!(decode("a%20b+c", true).as_deref(), Some("a b c"));
        assert_eq!(decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(decode("%C3%A9t%C3%A9", false).as_deref(), Some("été"));
        assert_eq!(decode("100%", false).as_deref(), Some("100%"));
        assert_eq!(decode("%zz%4", false).as_deref(), Some("%zz%4"));
        assert_eq!(decode("%FF", false), None);
    }

    #[test]
    fn parses_pairs_in_order() {
        let pairs = parse_pairs("a=1&b=&c&&a=x%26y").unwrap();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("a", "1"), ("b", ""), ("c", ""), ("a", "x&y")]);
        assert_eq!(parse_pairs("a=%FF"), None);
    }

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(encode("a b/c?d&e=é~"), "a%20b%2Fc%3Fd%26e%3D%C3%A9~");
        assert_eq!(decode(&encode("x/y z+%"), true).as_deref(), Some("x/y z+%"));
    }
}
