//! The app as the interview describes it, before it is written out as a spec: entities with typed
//! fields and roles with what they may do. `spec.rs` renders them in the spec's JSON format.

/// The type of a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A short line of text.
    Text,
    /// Several lines (notes, a review).
    LongText,
    Integer,
    /// An amount of money, in the app's currency.
    Money,
    Boolean,
    Date,
    DateTime,
    Email,
    Url,
    Phone,
    /// A reference to a row of the named entity.
    Reference(String),
}

/// A field of an entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// snake_case.
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
}

/// A thing the app keeps track of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// snake_case, singular.
    pub name: String,
    /// "Book".
    pub label: String,
    /// "Books".
    pub plural_label: String,
    pub fields: Vec<Field>,
}

impl Entity {
    /// The field shown as a row's name (the first text field).
    pub fn title_field(&self) -> Option<&Field> {
        self.fields.iter().find(|field| field.kind == FieldKind::Text).or(self.fields.first())
    }
}

/// What a role may do with an entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    View,
    Create,
    Update,
    Delete,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 4] =
        [Operation::View, Operation::Create, Operation::Update, Operation::Delete];

    /// Its name in the spec.
    pub fn name(self) -> &'static str {
        match self {
            Operation::View => "read",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// A role and what it may do, entity by entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// snake_case.
    pub name: String,
    pub label: String,
    pub description: String,
    /// (entity, operations), entities in the app's order.
    pub grants: Vec<(String, Vec<Operation>)>,
}
