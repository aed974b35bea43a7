//! The rules a JSON Schema cannot express, checked on a spec that passed the schema: names are
//! unique and not reserved, every reference (field, page, action, permission, role, sample
//! record) points at something that exists, the roles of pages and actions hold the permission
//! they need, defaults and sample data fit their fields, and required references form no cycle.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::SpecViolation;
use super::model::{AppSpec, Entity, FieldKind, OnDelete, Operation, PageKind};
use super::reserved::{NameUse, refusal};
use super::values;

/// Every semantic violation of `spec`.
pub(super) fn check(spec: &AppSpec) -> Vec<SpecViolation> {
    let mut checker = Checker::new(spec);
    checker.names();
    checker.entities();
    checker.reference_cycles();
    checker.roles();
    checker.permissions();
    checker.pages();
    checker.actions();
    checker.sample_data();
    checker.violations
}

struct Checker<'s> {
    spec: &'s AppSpec,
    entities: HashMap<&'s str, &'s Entity>,
    roles: HashSet<&'s str>,
    /// What each role may do with each entity.
    grants: HashMap<(&'s str, &'s str), BTreeSet<Operation>>,
    violations: Vec<SpecViolation>,
}

impl<'s> Checker<'s> {
    fn new(spec: &'s AppSpec) -> Self {
        let mut grants: HashMap<(&str, &str), BTreeSet<Operation>> = HashMap::new();
        for permission in &spec.permissions {
            grants
                .entry((permission.role.as_str(), permission.entity.as_str()))
                .or_default()
                .extend(permission.allow.iter().copied());
        }
        Checker {
            spec,
            // The first of two entities of one name wins; the second is reported by `names`.
            entities: spec.entities.iter().rev().map(|entity| (entity.name.as_str(), entity)).collect(),
            roles: spec.roles.iter().map(|role| role.name.as_str()).collect(),
            grants,
            violations: Vec::new(),
        }
    }

    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.violations.push(SpecViolation::new(path, message));
    }

    fn may(&self, role: &str, entity: &str, operation: Operation) -> bool {
        self.grants.get(&(role, entity)).is_some_and(|allowed| allowed.contains(&operation))
    }

    /// Reserved names, and names that must be unique.
    fn names(&mut self) {
        let spec = self.spec;
        // Entity names and plurals share one namespace (tables, types, addresses).
        let mut taken: HashMap<&str, usize> = HashMap::new();
        for (i, entity) in spec.entities.iter().enumerate() {
            let own = [("name", &entity.name), ("plural", &entity.plural)];
            for (key, name) in own {
                let path = format!("/entities/{i}/{key}");
                if let Some(why) = refusal(name, NameUse::Entity) {
                    self.add(&path, why);
                }
                if key == "plural" && *name == entity.name {
                    continue;
                }
                match taken.get(name.as_str()) {
                    Some(&other) if other != i => {
                        self.add(&path, format!("`{name}` is already used by entity {other}"))
                    }
                    Some(_) => {}
                    None => {
                        taken.insert(name, i);
                    }
                }
            }
            let mut fields = HashSet::new();
            for (k, field) in entity.fields.iter().enumerate() {
                let path = format!("/entities/{i}/fields/{k}/name");
                if let Some(why) = refusal(&field.name, NameUse::Field) {
                    self.add(&path, why);
                }
                if !fields.insert(field.name.as_str()) {
                    self.add(
                        &path,
                        format!("`{}` names another field of `{}` already", field.name, entity.name),
                    );
                }
                if let FieldKind::Enum { values, .. } = &field.kind {
                    let mut seen = HashSet::new();
                    for (v, value) in values.iter().enumerate() {
                        if !seen.insert(value.value.as_str()) {
                            self.add(
                                format!("/entities/{i}/fields/{k}/values/{v}/value"),
                                format!("`{}` is listed twice", value.value),
                            );
                        }
                    }
                }
            }
        }
        let mut roles = HashSet::new();
        for (r, role) in spec.roles.iter().enumerate() {
            let path = format!("/roles/{r}/name");
            if let Some(why) = refusal(&role.name, NameUse::Identifier) {
                self.add(&path, why);
            }
            if !roles.insert(role.name.as_str()) {
                self.add(&path, format!("the role `{}` is listed twice", role.name));
            }
        }
        let mut actions = HashSet::new();
        for (a, action) in spec.actions.iter().enumerate() {
            let path = format!("/actions/{a}/name");
            if let Some(why) = refusal(&action.name, NameUse::Identifier) {
                self.add(&path, why);
            }
            if !actions.insert(action.name.as_str()) {
                self.add(&path, format!("another action is named `{}` already", action.name));
            }
        }
    }

    /// Each entity's display field and each field's own rules.
    fn entities(&mut self) {
        let spec = self.spec;
        for (i, entity) in spec.entities.iter().enumerate() {
            match entity.field(&entity.display_field).map(|field| &field.kind) {
                None => self.add(
                    format!("/entities/{i}/display_field"),
                    format!("`{}` is not a field of `{}`", entity.display_field, entity.name),
                ),
                Some(FieldKind::Reference { .. }) => self.add(
                    format!("/entities/{i}/display_field"),
                    "a reference field cannot name its records; choose a field of their own",
                ),
                Some(_) => {}
            }
            for (k, field) in entity.fields.iter().enumerate() {
                self.field(&format!("/entities/{i}/fields/{k}"), &field.kind);
            }
        }
    }

    fn field(&mut self, path: &str, kind: &FieldKind) {
        match kind {
            FieldKind::String { min_length, max_length, pattern, .. } => {
                let max = max_length.unwrap_or(super::model::DEFAULT_STRING_MAX);
                if min_length.is_some_and(|min| min > max) {
                    self.add(
                        format!("{path}/min_length"),
                        format!("is more than the maximum length ({max})"),
                    );
                }
                if let Some(Err(why)) = pattern.as_deref().map(values::compile_pattern) {
                    self.add(format!("{path}/pattern"), why);
                }
            }
            FieldKind::Text { min_length, max_length, .. } => {
                let max = max_length.unwrap_or(super::model::DEFAULT_TEXT_MAX);
                if min_length.is_some_and(|min| min > max) {
                    self.add(
                        format!("{path}/min_length"),
                        format!("is more than the maximum length ({max})"),
                    );
                }
            }
            FieldKind::Integer { min: Some(min), max: Some(max), .. } if min > max => {
                self.add(format!("{path}/min"), format!("is more than the maximum ({max})"));
            }
            FieldKind::Decimal { min: Some(min), max: Some(max), .. } if min > max => {
                self.add(format!("{path}/min"), format!("is more than the maximum ({max})"));
            }
            FieldKind::Reference { required, entity, on_delete, .. } => {
                if !self.entities.contains_key(entity.as_str()) {
                    self.add(format!("{path}/entity"), format!("there is no entity named `{entity}`"));
                }
                if *required && *on_delete == OnDelete::SetNull {
                    self.add(format!("{path}/on_delete"), "`set_null` needs a field that is not required");
                }
            }
            _ => {}
        }
        if !matches!(kind, FieldKind::Boolean { .. })
            && let Some(default) = kind.default_value()
            && let Err(why) = values::check(kind, &default)
        {
            self.add(format!("{path}/default"), why);
        }
    }

    /// Required references that lead back to their entity: no record of the cycle could be created first.
    fn reference_cycles(&mut self) {
        let spec = self.spec;
        let index: HashMap<&str, usize> =
            spec.entities.iter().enumerate().map(|(i, entity)| (entity.name.as_str(), i)).collect();
        // For each entity, its required reference fields: (field index, target entity index).
        let edges: Vec<Vec<(usize, usize)>> = spec
            .entities
            .iter()
            .map(|entity| {
                entity
                    .fields
                    .iter()
                    .enumerate()
                    .filter_map(|(k, field)| match &field.kind {
                        FieldKind::Reference { required: true, entity, .. } => {
                            index.get(entity.as_str()).map(|&target| (k, target))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let mut reported = HashSet::new();
        for start in 0..spec.entities.len() {
            if reported.contains(&start) {
                continue;
            }
            let mut path = Vec::new();
            if !find_cycle(&edges, start, start, &mut HashSet::new(), &mut path) {
                continue;
            }
            reported.extend(path.iter().map(|&(entity, _)| entity));
            let mut names: Vec<&str> =
                path.iter().map(|&(entity, _)| spec.entities[entity].name.as_str()).collect();
            names.push(spec.entities[start].name.as_str());
            let first_field = path.first().map_or(0, |&(_, field)| field);
            self.add(
                format!("/entities/{start}/fields/{first_field}"),
                format!(
                    "required references form a cycle ({}): no record could be created first; make one of them optional",
                    names.join(" → ")
                ),
            );
        }
    }

    fn roles(&mut self) {
        let defaults = &self.spec.default_roles;
        let named = [
            ("owner", Some(&defaults.owner)),
            ("signed_in", Some(&defaults.signed_in)),
            ("anonymous", defaults.anonymous.as_ref()),
        ];
        for (key, role) in named {
            if let Some(role) = role
                && !self.roles.contains(role.as_str())
            {
                self.add(format!("/default_roles/{key}"), format!("there is no role named `{role}`"));
            }
        }
    }

    fn permissions(&mut self) {
        let mut seen = HashSet::new();
        for (p, permission) in self.spec.permissions.iter().enumerate() {
            if !self.roles.contains(permission.role.as_str()) {
                self.add(
                    format!("/permissions/{p}/role"),
                    format!("there is no role named `{}`", permission.role),
                );
            }
            if !self.entities.contains_key(permission.entity.as_str()) {
                self.add(
                    format!("/permissions/{p}/entity"),
                    format!("there is no entity named `{}`", permission.entity),
                );
            }
            if !seen.insert((permission.role.as_str(), permission.entity.as_str())) {
                self.add(
                    format!("/permissions/{p}"),
                    format!(
                        "`{}` already has a grant on `{}`: merge the two",
                        permission.role, permission.entity
                    ),
                );
            }
        }
    }

    /// `roles` (at `path/j`) exist and may do `needs` with `entity`.
    fn role_list(&mut self, path: &str, roles: &[String], entity: Option<&str>, needs: Option<Operation>) {
        for (j, role) in roles.iter().enumerate() {
            if !self.roles.contains(role.as_str()) {
                self.add(format!("{path}/{j}"), format!("there is no role named `{role}`"));
                continue;
            }
            if let (Some(entity), Some(needs)) = (entity, needs)
                && self.entities.contains_key(entity)
                && !self.may(role, entity, needs)
            {
                self.add(
                    format!("{path}/{j}"),
                    format!("`{role}` may not {} `{entity}` (see permissions)", needs.as_str()),
                );
            }
        }
    }

    fn pages(&mut self) {
        let spec = self.spec;
        let mut homes = 0;
        let mut seen: HashSet<(PageKind, &str)> = HashSet::new();
        for (p, page) in spec.pages.iter().enumerate() {
            let entity = page.entity.as_deref();
            if page.kind == PageKind::Home {
                homes += 1;
                if homes == 2 {
                    self.add(format!("/pages/{p}"), "there is a home page already");
                }
            }
            if let Some(entity) = entity {
                if !self.entities.contains_key(entity) {
                    self.add(format!("/pages/{p}/entity"), format!("there is no entity named `{entity}`"));
                }
                if !seen.insert((page.kind, entity)) {
                    self.add(
                        format!("/pages/{p}"),
                        format!("there is a {} page for `{entity}` already", page.kind.as_str()),
                    );
                }
            }
            self.role_list(&format!("/pages/{p}/visible_to"), &page.visible_to, entity, page.kind.needs());
        }
        if homes == 0 {
            self.add("/pages", "there must be one page of kind `home`");
        }
    }

    fn actions(&mut self) {
        let spec = self.spec;
        for (a, action) in spec.actions.iter().enumerate() {
            let entity = self.entities.get(action.entity.as_str()).copied();
            if entity.is_none() {
                self.add(
                    format!("/actions/{a}/entity"),
                    format!("there is no entity named `{}`", action.entity),
                );
            }
            self.role_list(
                &format!("/actions/{a}/roles"),
                &action.roles,
                Some(&action.entity),
                Some(action.kind.needs()),
            );
            let (Some(entity), Some(set)) = (entity, &action.set) else { continue };
            for (name, value) in set {
                let path = format!("/actions/{a}/set/{name}");
                match entity.field(name).map(|field| &field.kind) {
                    None => self.add(path, format!("`{name}` is not a field of `{}`", entity.name)),
                    Some(FieldKind::Reference { .. }) => {
                        self.add(path, "an action cannot set a reference to a fixed value")
                    }
                    Some(kind) if value.is_null() => {
                        if kind.required() || matches!(kind, FieldKind::Boolean { .. }) {
                            self.add(path, format!("`{name}` cannot be cleared: it must have a value"));
                        }
                    }
                    Some(kind) => {
                        if let Err(why) = values::check(kind, value) {
                            self.add(path, why);
                        }
                    }
                }
            }
        }
    }

    fn sample_data(&mut self) {
        let spec = self.spec;
        // Keys of the records so far, by entity.
        let mut keys: HashMap<&str, HashSet<&str>> = HashMap::new();
        // Values of unique fields so far: (entity, field, value as JSON).
        let mut unique: HashSet<(&str, &str, String)> = HashSet::new();
        for (s, record) in spec.sample_data.iter().enumerate() {
            let Some(entity) = self.entities.get(record.entity.as_str()).copied() else {
                self.add(
                    format!("/sample_data/{s}/entity"),
                    format!("there is no entity named `{}`", record.entity),
                );
                continue;
            };
            for (name, value) in &record.values {
                let path = format!("/sample_data/{s}/values/{name}");
                let Some(field) = entity.field(name) else {
                    self.add(path, format!("`{name}` is not a field of `{}`", entity.name));
                    continue;
                };
                if value.is_null() {
                    if matches!(field.kind, FieldKind::Boolean { .. }) {
                        self.add(path, "must be true or false");
                    }
                    continue;
                }
                let fits = match &field.kind {
                    // A reference to an unknown entity is reported at the field already.
                    FieldKind::Reference { entity: target, .. }
                        if !self.entities.contains_key(target.as_str()) =>
                    {
                        Ok(())
                    }
                    FieldKind::Reference { entity: target, .. } => match value.as_str() {
                        Some(key) if keys.get(target.as_str()).is_some_and(|known| known.contains(key)) => {
                            Ok(())
                        }
                        Some(key) => Err(format!("no earlier sample `{target}` has the key `{key}`")),
                        None => Err(format!("must be the key of an earlier sample `{target}`")),
                    },
                    kind => values::check(kind, value),
                };
                match fits {
                    Err(why) => self.add(path, why),
                    Ok(()) if field.kind.unique() => {
                        if !unique.insert((entity.name.as_str(), field.name.as_str(), value.to_string())) {
                            self.add(
                                path,
                                format!(
                                    "another sample `{}` has this `{name}`; it must be unique",
                                    entity.name
                                ),
                            );
                        }
                    }
                    Ok(()) => {}
                }
            }
            for field in &entity.fields {
                let given = record.values.get(&field.name).is_some_and(|value| !value.is_null());
                if field.kind.required() && !field.kind.has_default() && !given {
                    self.add(format!("/sample_data/{s}/values"), format!("`{}` is required", field.name));
                }
            }
            if let Some(key) = &record.key
                && !keys.entry(entity.name.as_str()).or_default().insert(key.as_str())
            {
                self.add(
                    format!("/sample_data/{s}/key"),
                    format!("another sample `{}` has the key `{key}`", entity.name),
                );
            }
        }
    }
}

/// Whether required references lead from `node` back to `start`; `path` then holds the
/// (entity, field) steps taken.
fn find_cycle(
    edges: &[Vec<(usize, usize)>],
    start: usize,
    node: usize,
    visited: &mut HashSet<usize>,
    path: &mut Vec<(usize, usize)>,
) -> bool {
    for &(field, target) in &edges[node] {
        path.push((node, field));
        if target == start || (visited.insert(target) && find_cycle(edges, start, target, visited, path)) {
            return true;
        }
        path.pop();
    }
    false
}
