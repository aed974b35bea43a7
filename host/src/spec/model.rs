//! The spec as Rust types, read from a spec that passed the schema: what the semantic checks and
//! the code generator work on. Keys the platform ignores (`$schema`, `$comment`) are dropped.
//! Serialising a model gives back a spec of the same meaning.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A whole app spec (format version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppSpec {
    /// Always 1.
    pub spec_version: u32,
    pub app: AppInfo,
    pub entities: Vec<Entity>,
    pub roles: Vec<Role>,
    pub default_roles: DefaultRoles,
    pub permissions: Vec<Permission>,
    pub pages: Vec<Page>,
    #[serde(default)]
    pub actions: Vec<Action>,
    #[serde(default)]
    pub sample_data: Vec<SampleRecord>,
}

/// The app's name, address and purpose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppInfo {
    pub name: String,
    pub slug: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A kind of record: one table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub name: String,
    pub plural: String,
    pub label: String,
    pub label_plural: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub display_field: String,
    pub fields: Vec<Field>,
}

impl Entity {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.name == name)
    }
}

/// A typed field of an entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub kind: FieldKind,
}

/// A field's type with the rules that go with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    String {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        unique: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_length: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    Text {
        #[serde(default)]
        required: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_length: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    Integer {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        unique: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<i64>,
    },
    Decimal {
        #[serde(default)]
        required: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        #[serde(default = "default_scale")]
        scale: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<f64>,
    },
    Boolean {
        #[serde(default)]
        default: bool,
    },
    Date {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        unique: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    Datetime {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        unique: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    Email {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        unique: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    Url {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        unique: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    Enum {
        #[serde(default)]
        required: bool,
        values: Vec<EnumValue>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    Reference {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        unique: bool,
        entity: String,
        #[serde(default)]
        on_delete: OnDelete,
    },
}

fn default_scale() -> u8 {
    2
}

/// A string field's longest value when the spec names none.
pub const DEFAULT_STRING_MAX: u32 = 200;
/// A text field's longest value when the spec names none.
pub const DEFAULT_TEXT_MAX: u32 = 10_000;
/// An email's longest value.
pub const EMAIL_MAX: usize = 254;
/// A URL's longest value.
pub const URL_MAX: usize = 2000;
/// A decimal's largest magnitude (15 digits before the point).
pub const DECIMAL_LIMIT: f64 = 1e15;

impl FieldKind {
    /// The type's name as the spec writes it.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldKind::String { .. } => "string",
            FieldKind::Text { .. } => "text",
            FieldKind::Integer { .. } => "integer",
            FieldKind::Decimal { .. } => "decimal",
            FieldKind::Boolean { .. } => "boolean",
            FieldKind::Date { .. } => "date",
            FieldKind::Datetime { .. } => "datetime",
            FieldKind::Email { .. } => "email",
            FieldKind::Url { .. } => "url",
            FieldKind::Enum { .. } => "enum",
            FieldKind::Reference { .. } => "reference",
        }
    }

    /// Whether a record must have a value (a boolean always has one).
    pub fn required(&self) -> bool {
        match self {
            FieldKind::String { required, .. }
            | FieldKind::Text { required, .. }
            | FieldKind::Integer { required, .. }
            | FieldKind::Decimal { required, .. }
            | FieldKind::Date { required, .. }
            | FieldKind::Datetime { required, .. }
            | FieldKind::Email { required, .. }
            | FieldKind::Url { required, .. }
            | FieldKind::Enum { required, .. }
            | FieldKind::Reference { required, .. } => *required,
            FieldKind::Boolean { .. } => false,
        }
    }

    /// Whether no two records may share a value.
    pub fn unique(&self) -> bool {
        match self {
            FieldKind::String { unique, .. }
            | FieldKind::Integer { unique, .. }
            | FieldKind::Date { unique, .. }
            | FieldKind::Datetime { unique, .. }
            | FieldKind::Email { unique, .. }
            | FieldKind::Url { unique, .. }
            | FieldKind::Reference { unique, .. } => *unique,
            _ => false,
        }
    }

    /// Whether the field has a default value (a boolean always has one).
    pub fn has_default(&self) -> bool {
        self.default_value().is_some() || matches!(self, FieldKind::Boolean { .. })
    }

    /// The default value as JSON, if the spec gives one.
    pub fn default_value(&self) -> Option<Value> {
        match self {
            FieldKind::String { default, .. }
            | FieldKind::Text { default, .. }
            | FieldKind::Date { default, .. }
            | FieldKind::Datetime { default, .. }
            | FieldKind::Email { default, .. }
            | FieldKind::Url { default, .. }
            | FieldKind::Enum { default, .. } => default.clone().map(Value::String),
            FieldKind::Integer { default, .. } => default.map(Value::from),
            FieldKind::Decimal { default, .. } => default.map(Value::from),
            FieldKind::Boolean { default } => Some(Value::Bool(*default)),
            FieldKind::Reference { .. } => None,
        }
    }
}

/// One value of an enum field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumValue {
    pub value: String,
    pub label: String,
}

/// What happens to records that refer to a deleted record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    #[default]
    Restrict,
    Cascade,
    SetNull,
}

/// A kind of person using the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The roles people have without being given one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRoles {
    /// The app's owner.
    pub owner: String,
    /// Anyone signed in who was given no other role.
    pub signed_in: String,
    /// Visitors who are not signed in; `None`: they must sign in.
    pub anonymous: Option<String>,
}

/// What a permission allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Read,
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// A role's rights on an entity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub role: String,
    pub entity: String,
    pub allow: Vec<Operation>,
}

/// A page's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageKind {
    Home,
    List,
    Detail,
    Create,
    Edit,
}

impl PageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PageKind::Home => "home",
            PageKind::List => "list",
            PageKind::Detail => "detail",
            PageKind::Create => "create",
            PageKind::Edit => "edit",
        }
    }

    /// The operation a role needs on the page's entity to see it (none for the home page).
    pub fn needs(self) -> Option<Operation> {
        match self {
            PageKind::Home => None,
            PageKind::List | PageKind::Detail => Some(Operation::Read),
            PageKind::Create => Some(Operation::Create),
            PageKind::Edit => Some(Operation::Update),
        }
    }
}

/// A page of the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub kind: PageKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub visible_to: Vec<String>,
}

/// An action's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Create,
    Update,
    Delete,
    Custom,
}

impl ActionKind {
    /// The operation every role of the action needs on its entity.
    pub fn needs(self) -> Operation {
        match self {
            ActionKind::Create => Operation::Create,
            ActionKind::Update | ActionKind::Custom => Operation::Update,
            ActionKind::Delete => Operation::Delete,
        }
    }
}

/// Something people do to records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub name: String,
    pub kind: ActionKind,
    pub entity: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub roles: Vec<String>,
    /// For `custom`: the fields set and their values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<BTreeMap<String, Value>>,
}

/// A record the app starts with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    pub entity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub values: BTreeMap<String, Value>,
}
