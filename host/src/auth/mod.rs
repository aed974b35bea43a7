//! Authentication: who is calling.
//!
//! A login is a row in `login_sessions`; the client holds a signed token (JWT, HS256 only) naming that row,
//! as an HttpOnly cookie (browsers) or a Bearer header (API clients). Every request checks the signature,
//! the expiry and that the session was not revoked, so logout takes effect at once.

pub mod extract;
pub mod origin;
pub mod password;
pub mod rate_limit;
pub mod token;

pub use extract::{AuthUser, Role, SESSION_COOKIE};
pub use token::TokenKeys;
