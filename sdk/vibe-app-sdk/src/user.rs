//! Who is asking: the identity the platform vouches for. The host removes any `x-vibe-user-*`
//! headers a client sends and, when it knows the visitor (the platform's session), adds:
//! `x-vibe-user-id` (a UUID), `x-vibe-user-email` and `x-vibe-user-name` (either may be absent)
//! and `x-vibe-user-relation` (`owner`: owns the app; `signed_in`: anyone else signed in). No
//! headers: an anonymous visitor, [`Request::user`] is `None`.
//!
//! ```
//! # use vibe_app_sdk::{Method, Request, user::Relation};
//! let req = Request::new(Method::Get, "/")
//!     .with_header("x-vibe-user-id", "7e570000-0000-4000-8000-0000000000ff")
//!     .with_header("x-vibe-user-relation", "owner");
//! let user = req.user().unwrap();
//! assert_eq!(user.relation, Relation::Owner);
//! assert!(user.is_owner());
//! ```

use crate::request::Request;

/// How a signed-in visitor relates to the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Relation {
    /// The app's owner.
    Owner,
    /// Anyone else signed in to the platform.
    SignedIn,
}

/// A signed-in visitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The platform's id of the user (a UUID, lower case), stable across visits.
    pub id: String,
    /// The user's email address, if the platform shares it.
    pub email: Option<String>,
    /// The user's display name, if they have one.
    pub name: Option<String>,
    /// Owner or anyone else.
    pub relation: Relation,
}

impl User {
    /// Whether the user owns the app.
    pub fn is_owner(&self) -> bool {
        self.relation == Relation::Owner
    }
}

/// The longest id, email or name read from a header (longer values are not trusted as identity).
const MAX_VALUE: usize = 320;

impl Request {
    /// The signed-in visitor, or `None` for an anonymous one. Headers that do not make a whole
    /// identity (no id, an id that is no UUID, an unknown relation) count as anonymous: the host
    /// sets all of them or none, so anything else was not set by the host.
    pub fn user(&self) -> Option<User> {
        let id = self.header("x-vibe-user-id").map(str::trim).filter(|id| is_uuid(id))?;
        let relation = match self.header("x-vibe-user-relation").map(str::trim)? {
            "owner" => Relation::Owner,
            "signed_in" => Relation::SignedIn,
            _ => return None,
        };
        let optional = |name: &str| {
            self.header(name)
                .map(str::trim)
                .filter(|value| !value.is_empty() && value.len() <= MAX_VALUE)
                .map(str::to_owned)
        };
        Some(User {
            id: id.to_ascii_lowercase(),
            email: optional("x-vibe-user-email"),
            name: optional("x-vibe-user-name"),
            relation,
        })
    }
}

/// Whether `text` is a UUID in its hyphenated form (`8-4-4-4-12` hex digits).
pub fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Method;

    const ID: &str = "7E570000-0000-4000-8000-000000000001";

    fn request(headers: &[(&str, &str)]) -> Request {
        headers
            .iter()
            .fold(Request::new(Method::Get, "/"), |request, (name, value)| request.with_header(name, *value))
    }

    #[test]
    fn anonymous_without_headers() {
        assert_eq!(request(&[]).user(), None);
    }

    #[test]
    fn reads_a_whole_identity() {
        let user = request(&[
            ("X-Vibe-User-Id", ID),
            ("x-vibe-user-email", "user1@test.invalid"),
            ("x-vibe-user-name", " Ada "),
            ("x-vibe-user-relation", "signed_in"),
        ])
        .user()
        .unwrap();
        assert_eq!(
            user,
            User {
                id: ID.to_ascii_lowercase(),
                email: Some("user1@test.invalid".to_owned()),
                name: Some("Ada".to_owned()),
                relation: Relation::SignedIn,
            }
        );
        assert!(!user.is_owner());
        let owner = request(&[("x-vibe-user-id", ID), ("x-vibe-user-relation", "owner")]).user().unwrap();
        assert!(owner.is_owner());
        assert_eq!((owner.email, owner.name), (None, None));
    }

    #[test]
    fn partial_or_malformed_identities_are_anonymous() {
        assert_eq!(request(&[("x-vibe-user-id", ID)]).user(), None, "no relation");
        assert_eq!(request(&[("x-vibe-user-relation", "owner")]).user(), None, "no id");
        let bad_id = request(&[("x-vibe-user-id", "1 OR 1=1"), ("x-vibe-user-relation", "owner")]);
        assert_eq!(bad_id.user(), None);
        let bad_relation = request(&[("x-vibe-user-id", ID), ("x-vibe-user-relation", "admin")]);
        assert_eq!(bad_relation.user(), None);
    }

    #[test]
    fn recognises_uuids() {
        assert!(is_uuid("7e570000-0000-4000-8000-0000000000ff"));
        assert!(!is_uuid("7e570000000040008000000000000000ff"));
        assert!(!is_uuid("7e570000-0000-4000-8000-0000000000fg"));
    }
}
