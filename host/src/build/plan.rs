//! The tests derived from a spec, as data: what the test runner sends to a built app and what it
//! expects back. Deriving them is the code generator's business (it knows the URLs and shapes it
//! generates); running them is the runner's.

mod derive;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use derive::derive;

/// Every test of one app version, run in order on one throw-away schema.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestPlan {
    pub cases: Vec<TestCase>,
}

/// One named test: its steps run in order; the first failing step fails the case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    pub name: String,
    pub steps: Vec<Step>,
}

/// One request and what must come back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub method: String,
    /// The path under the app's root, with `{name}` placeholders for values captured earlier in
    /// the same plan (e.g. `/books/{book_id}`).
    pub path: String,
    pub visitor: Visitor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// The status the app must answer.
    pub expect_status: u16,
    /// Substrings the response body must contain (after placeholder substitution).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_contains: Vec<String>,
    /// Substrings the response body must not contain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_absent: Vec<String>,
    /// Values to remember from a JSON response: placeholder name → JSON pointer (`/id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capture: Vec<(String, String)>,
}

/// Who sends a request: the identity the platform vouches for, as the `x-vibe-user-*` headers
/// (see `crate::apps::identity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "as", content = "user")]
pub enum Visitor {
    /// Not signed in: no identity headers.
    Anonymous,
    /// The app's owner.
    Owner,
    /// Signed-in test user number `n` (1, 2, …), not the owner; its id is [`Visitor::user_id`].
    SignedIn(u8),
}

impl Visitor {
    /// The stable user id test user `n` has in every plan.
    pub fn user_id(n: u8) -> uuid::Uuid {
        uuid::Uuid::from_u128(0x7e57_0000_0000_4000_8000_0000_0000_0000 | u128::from(n))
    }

    /// The owner's user id in every plan.
    pub fn owner_id() -> uuid::Uuid {
        uuid::Uuid::from_u128(0x7e57_0000_0000_4000_8000_0000_0000_00ff)
    }
}

/// A request body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Body {
    /// `application/x-www-form-urlencoded`, fields in order (values may hold placeholders).
    Form(Vec<(String, String)>),
    /// `application/json` (string values may hold placeholders).
    Json(Value),
}

/// What running a plan gave: stored with the build, shown to the user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestReport {
    pub passed: u32,
    pub failed: u32,
    pub cases: Vec<CaseResult>,
}

impl TestReport {
    pub fn is_green(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

/// One case's outcome; a failure names the step and what differed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub duration_ms: u64,
}
