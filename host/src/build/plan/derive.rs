//! Deriving the tests of a spec: every generated app must pass them. They follow the URLs and
//! shapes the code generator writes (see /work/notes/build-pipeline.md): `/_health`, the home
//! page, the members API, and per entity its pages, its JSON API (create, read, list, update,
//! delete), validation errors and role checks.
//!
//! Every role gets a visitor: the owner's role is the owner's, the signed-in default is test
//! user 1's, the anonymous default the anonymous visitor's, and each other role is given by the
//! owner to one more test user first (`PUT /api/members/{user_id}`). Entities are tested in an
//! order where the records a reference needs exist already (captured as `{<entity>_id}`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::{Body, Step, TestCase, TestPlan, Visitor};
use crate::spec::model::{
    ActionKind, AppSpec, DEFAULT_STRING_MAX, DEFAULT_TEXT_MAX, Entity, Field, FieldKind, Operation, PageKind,
};

/// The tests every app generated from `spec` must pass, in the order they run.
pub fn derive(spec: &AppSpec) -> TestPlan {
    let mut deriver = Deriver::new(spec);
    let mut cases = vec![deriver.health(), deriver.members(), deriver.home()];
    for entity in creation_order(spec) {
        cases.extend(deriver.entity(entity));
    }
    TestPlan { cases }
}

/// Entities in an order where each comes after the entities it refers to (as far as cycles of
/// optional references allow).
fn creation_order(spec: &AppSpec) -> Vec<&Entity> {
    let mut done: Vec<&Entity> = Vec::new();
    let mut left: Vec<&Entity> = spec.entities.iter().collect();
    while !left.is_empty() {
        let ready = left.iter().position(|entity| {
            entity.fields.iter().all(|field| match &field.kind {
                FieldKind::Reference { entity: target, .. } => {
                    *target == entity.name || done.iter().any(|other| other.name == *target)
                }
                _ => true,
            })
        });
        // A cycle (of optional references): take the first; its references to later ones stay empty.
        done.push(left.remove(ready.unwrap_or(0)));
    }
    done
}

fn step(method: &str, path: impl Into<String>, visitor: Visitor, status: u16) -> Step {
    Step {
        method: method.to_owned(),
        path: path.into(),
        visitor,
        body: None,
        expect_status: status,
        expect_contains: Vec::new(),
        expect_absent: Vec::new(),
        capture: Vec::new(),
    }
}

impl Step {
    fn json(mut self, body: Value) -> Step {
        self.body = Some(Body::Json(body));
        self
    }

    fn form(mut self, pairs: Vec<(String, String)>) -> Step {
        self.body = Some(Body::Form(pairs));
        self
    }

    fn contains(mut self, text: impl Into<String>) -> Step {
        self.expect_contains.push(text.into());
        self
    }

    fn capture(mut self, name: &str, pointer: &str) -> Step {
        self.capture.push((name.to_owned(), pointer.to_owned()));
        self
    }
}

fn case(name: impl Into<String>, steps: Vec<Step>) -> TestCase {
    TestCase { name: name.into(), steps }
}

/// The status a visitor gets when refused: 401 when not signed in, else 403.
fn refused(visitor: Visitor) -> u16 {
    if visitor == Visitor::Anonymous { 401 } else { 403 }
}

struct Deriver<'s> {
    spec: &'s AppSpec,
    /// The visitor who has each role.
    visitors: BTreeMap<&'s str, Visitor>,
    /// Roles given by the owner: (test user number, role).
    assigned: Vec<(u8, &'s str)>,
    /// Entities whose record `{<name>_id}` exists by now.
    created: BTreeSet<&'s str>,
    /// Makes every sample value unique within the plan.
    counter: u32,
}

impl<'s> Deriver<'s> {
    fn new(spec: &'s AppSpec) -> Self {
        let mut visitors = BTreeMap::new();
        if let Some(role) = &spec.default_roles.anonymous {
            visitors.insert(role.as_str(), Visitor::Anonymous);
        }
        visitors.insert(spec.default_roles.signed_in.as_str(), Visitor::SignedIn(1));
        visitors.insert(spec.default_roles.owner.as_str(), Visitor::Owner);
        let mut assigned = Vec::new();
        let mut next = 2u8;
        for role in &spec.roles {
            if !visitors.contains_key(role.name.as_str()) && next < u8::MAX {
                visitors.insert(role.name.as_str(), Visitor::SignedIn(next));
                assigned.push((next, role.name.as_str()));
                next += 1;
            }
        }
        Deriver { spec, visitors, assigned, created: BTreeSet::new(), counter: 0 }
    }

    fn may(&self, role: &str, entity: &Entity, op: Operation) -> bool {
        self.spec
            .permissions
            .iter()
            .any(|grant| grant.role == role && grant.entity == entity.name && grant.allow.contains(&op))
    }

    /// A visitor whose role may do `op` with `entity` (the owner first).
    fn actor(&self, entity: &Entity, op: Operation) -> Option<Visitor> {
        let owner = self.spec.default_roles.owner.as_str();
        if self.may(owner, entity, op) {
            return Some(Visitor::Owner);
        }
        self.visitors.iter().find(|(role, _)| self.may(role, entity, op)).map(|(_, visitor)| *visitor)
    }

    /// A visitor who sees a page visible to `roles`.
    fn viewer(&self, roles: &[String]) -> Option<Visitor> {
        let owner = &self.spec.default_roles.owner;
        if roles.contains(owner) {
            return Some(Visitor::Owner);
        }
        roles.iter().find_map(|role| self.visitors.get(role.as_str()).copied())
    }

    /// Every visitor with their role (`None`: the anonymous visitor of an app that wants a sign-in).
    fn everyone(&self) -> Vec<(Visitor, Option<&'s str>)> {
        let mut all: Vec<(Visitor, Option<&str>)> =
            self.visitors.iter().map(|(role, visitor)| (*visitor, Some(*role))).collect();
        if self.spec.default_roles.anonymous.is_none() {
            all.push((Visitor::Anonymous, None));
        }
        all
    }

    fn health(&self) -> TestCase {
        case(
            "the app answers its health check",
            vec![step("GET", "/_health", Visitor::Anonymous, 200).contains("\"status\":\"ok\"")],
        )
    }

    fn members(&self) -> TestCase {
        let mut steps = vec![step("GET", "/members", Visitor::Owner, 200).contains("Members")];
        for (number, role) in &self.assigned {
            steps.push(
                step("PUT", format!("/api/members/{}", Visitor::user_id(*number)), Visitor::Owner, 200)
                    .json(json!({ "role": role }))
                    .contains(format!("\"role\":\"{role}\"")),
            );
        }
        steps.push(step("GET", "/api/members", Visitor::SignedIn(1), 403));
        steps.push(step("GET", "/api/members", Visitor::Anonymous, 401));
        steps.push(
            step("PUT", format!("/api/members/{}", Visitor::user_id(1)), Visitor::SignedIn(1), 403)
                .json(json!({ "role": self.spec.default_roles.owner })),
        );
        steps.push(
            step("PUT", format!("/api/members/{}", Visitor::user_id(1)), Visitor::Owner, 422)
                .json(json!({ "role": "no_such_role_here" }))
                .contains("role"),
        );
        case("the owner gives roles; nobody else may", steps)
    }

    fn home(&self) -> TestCase {
        let page = self.spec.pages.iter().find(|page| page.kind == PageKind::Home);
        let title = page.map_or(self.spec.app.name.as_str(), |page| page.title.as_str());
        let visible = page.map(|page| page.visible_to.clone()).unwrap_or_default();
        let steps = self
            .everyone()
            .into_iter()
            .map(|(visitor, role)| match role {
                Some(role) if visible.iter().any(|allowed| allowed == role) => {
                    step("GET", "/", visitor, 200).contains(html_text(title))
                }
                _ => step("GET", "/", visitor, refused(visitor)),
            })
            .collect();
        case("the home page shows to the roles that see it", steps)
    }

    fn next(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    /// Valid values for every field of `entity` this plan can fill, as JSON.
    fn values(&mut self, entity: &Entity) -> Map<String, Value> {
        let n = self.next();
        let mut values = Map::new();
        for field in &entity.fields {
            if let Some(value) = self.sample(entity, field, n) {
                values.insert(field.name.clone(), value);
            }
        }
        values
    }

    /// A valid value of `field` (the `n`th of the plan); `None` for a reference whose entity has
    /// no record yet, and for a pattern the plan cannot satisfy.
    fn sample(&self, entity: &Entity, field: &Field, n: u32) -> Option<Value> {
        let from_spec = || {
            let sample = self.spec.sample_data.iter().filter(|record| record.entity == entity.name);
            sample.filter_map(|record| record.values.get(&field.name).cloned()).next()
        };
        let day = 1 + n % 28;
        Some(match &field.kind {
            FieldKind::String { pattern: Some(_), default, .. } => {
                default.clone().map(Value::String).or_else(from_spec)?
            }
            FieldKind::String { min_length, max_length, .. } => Value::String(text(
                &format!("Test {} {n}", field.label),
                *min_length,
                max_length.unwrap_or(DEFAULT_STRING_MAX),
            )),
            FieldKind::Text { min_length, max_length, .. } => Value::String(text(
                &format!("Notes on test {n}: {}", field.label),
                *min_length,
                max_length.unwrap_or(DEFAULT_TEXT_MAX),
            )),
            FieldKind::Integer { min, max, .. } => {
                let low = min.unwrap_or(1);
                let value = low.saturating_add(i64::from(n % 50));
                json!(max.map_or(value, |max| value.min(max)))
            }
            FieldKind::Decimal { min, max, .. } => {
                let low = min.unwrap_or(0.0).ceil();
                let value = low + f64::from(n % 50);
                json!(max.map_or(value, |max| value.min(max.floor())))
            }
            FieldKind::Boolean { .. } => json!(true),
            FieldKind::Date { .. } => json!(format!("{}-02-{day:02}", 2031 + n / 28)),
            FieldKind::Datetime { .. } => {
                json!(format!("{}-03-{day:02}T{:02}:30:00Z", 2031 + n / 28, n % 24))
            }
            FieldKind::Email { .. } => json!(format!("test{n}@example.com")),
            FieldKind::Url { .. } => json!(format!("https://example.com/test/{n}")),
            FieldKind::Enum { values, default, .. } => {
                json!(default.clone().unwrap_or_else(|| values[0].value.clone()))
            }
            FieldKind::Reference { entity: target, .. } => {
                if !self.created.contains(target.as_str()) {
                    return None;
                }
                json!(format!("{{{target}_id}}"))
            }
        })
    }

    /// Whether the records every required reference of `entity` needs exist by now.
    fn can_fill(&self, entity: &Entity) -> bool {
        entity.fields.iter().all(|field| match &field.kind {
            FieldKind::Reference { required: true, entity: target, .. } => {
                self.created.contains(target.as_str())
            }
            _ => true,
        })
    }

    fn entity(&mut self, entity: &'s Entity) -> Vec<TestCase> {
        let mut cases = Vec::new();
        let creator = self.actor(entity, Operation::Create).filter(|_| self.can_fill(entity));
        let Some(creator) = creator else {
            // Nobody may create one (or what it needs): only the role checks can be tested.
            cases.push(self.roles(entity));
            return cases;
        };
        cases.push(self.json_crud(entity, creator));
        self.created.insert(entity.name.as_str());
        cases.push(self.pages(entity, creator));
        if let Some(deleter) = self.actor(entity, Operation::Delete) {
            cases.push(self.deletes(entity, creator, deleter));
        }
        cases.push(self.validation(entity, creator));
        cases.push(self.roles(entity));
        if let Some(actions) = self.actions(entity) {
            cases.push(actions);
        }
        cases
    }

    /// The field whose value identifies a record in responses (the display field when it is
    /// text the plan writes, else another string field).
    fn marker<'e>(&self, entity: &'e Entity) -> Option<&'e Field> {
        let writable = |field: &&Field| {
            matches!(field.kind, FieldKind::String { pattern: None, .. } | FieldKind::Text { .. })
        };
        entity.field(&entity.display_field).filter(writable).or_else(|| entity.fields.iter().find(writable))
    }

    /// The text the marker field holds in `values`: what a page showing the record must contain.
    fn marker_value(&self, entity: &Entity, values: &Map<String, Value>) -> Option<String> {
        let field = self.marker(entity)?;
        values.get(&field.name).and_then(Value::as_str).map(str::to_owned)
    }

    fn json_crud(&mut self, entity: &'s Entity, creator: Visitor) -> TestCase {
        let plural = &entity.plural;
        let id = format!("{{{}_id}}", entity.name);
        let values = self.values(entity);
        let marker = self.marker(entity);
        let shown =
            marker.and_then(|field| values.get(&field.name)).and_then(Value::as_str).map(str::to_owned);
        let mut create = step("POST", format!("/api/{plural}"), creator, 201)
            .json(Value::Object(values))
            .capture(&format!("{}_id", entity.name), "/id");
        if let Some(shown) = &shown {
            create = create.contains(json_text(shown));
        }
        let mut steps = vec![create];
        if let Some(reader) = self.actor(entity, Operation::Read) {
            let mut show = step("GET", format!("/api/{plural}/{id}"), reader, 200).contains("\"created_at\"");
            let mut list = step("GET", format!("/api/{plural}?limit=5"), reader, 200);
            if let Some(shown) = &shown {
                show = show.contains(json_text(shown));
                list = list.contains(json_text(shown));
            }
            steps.extend([show, list]);
        }
        if let Some(updater) = self.actor(entity, Operation::Update) {
            let mut patch = step("PATCH", format!("/api/{plural}/{id}"), updater, 200);
            if let Some(field) = marker {
                let n = self.next();
                let changed = self.sample(entity, field, n).unwrap_or(Value::Null);
                patch = patch.json(json!({ field.name.clone(): changed.clone() }));
                if let Some(changed) = changed.as_str() {
                    patch = patch.contains(json_text(changed));
                    if let Some(reader) = self.actor(entity, Operation::Read) {
                        steps.push(patch);
                        patch = step("GET", format!("/api/{plural}/{id}"), reader, 200)
                            .contains(json_text(changed));
                    }
                }
            } else {
                patch = patch.json(json!({}));
            }
            steps.push(patch);
        }
        case(format!("{}: create, read, list and update over JSON", entity.label_plural), steps)
    }

    fn page_roles(&self, entity: &Entity, kind: PageKind) -> Vec<String> {
        if let Some(page) = self
            .spec
            .pages
            .iter()
            .find(|page| page.kind == kind && page.entity.as_deref() == Some(&entity.name))
        {
            return page.visible_to.clone();
        }
        let needs = kind.needs().unwrap_or(Operation::Read);
        self.spec
            .roles
            .iter()
            .filter(|role| self.may(&role.name, entity, needs))
            .map(|role| role.name.clone())
            .collect()
    }

    fn page_title(&self, entity: &Entity, kind: PageKind) -> String {
        self.spec
            .pages
            .iter()
            .find(|page| page.kind == kind && page.entity.as_deref() == Some(&entity.name))
            .map_or_else(
                || match kind {
                    PageKind::Create => format!("New {}", entity.label.to_lowercase()),
                    PageKind::Edit => format!("Edit {}", entity.label.to_lowercase()),
                    PageKind::Detail => entity.label.clone(),
                    _ => entity.label_plural.clone(),
                },
                |page| page.title.clone(),
            )
    }

    /// The form fields for `values` (JSON values as the text a form sends).
    fn form(values: &Map<String, Value>) -> Vec<(String, String)> {
        values
            .iter()
            .map(|(name, value)| {
                (name.clone(), value.as_str().map_or_else(|| value.to_string(), str::to_owned))
            })
            .collect()
    }

    fn pages(&mut self, entity: &'s Entity, creator: Visitor) -> TestCase {
        let plural = &entity.plural;
        let id = format!("{{{}_id}}", entity.name);
        let mut steps = Vec::new();
        for (kind, path) in [
            (PageKind::List, format!("/{plural}")),
            (PageKind::Create, format!("/{plural}/new")),
            (PageKind::Detail, format!("/{plural}/{id}")),
            (PageKind::Edit, format!("/{plural}/{id}/edit")),
        ] {
            let roles = self.page_roles(entity, kind);
            if let Some(viewer) = self.viewer(&roles) {
                steps
                    .push(step("GET", path, viewer, 200).contains(html_text(&self.page_title(entity, kind))));
            }
        }
        // Create through the form: 303 to the new record, which the list then shows.
        let values = self.values(entity);
        let marker = self.marker_value(entity, &values);
        steps.push(step("POST", format!("/{plural}"), creator, 303).form(Self::form(&values)));
        let list_viewer = self.viewer(&self.page_roles(entity, PageKind::List));
        if let (Some(marker), Some(viewer)) = (&marker, list_viewer) {
            steps.push(step("GET", format!("/{plural}"), viewer, 200).contains(html_text(marker)));
        }
        // Update through the form: every field again, one changed.
        if let Some(updater) = self.actor(entity, Operation::Update) {
            let values = self.values(entity);
            let marker = self.marker_value(entity, &values);
            steps.push(step("POST", format!("/{plural}/{id}"), updater, 303).form(Self::form(&values)));
            let detail_viewer = self.viewer(&self.page_roles(entity, PageKind::Detail));
            if let (Some(marker), Some(viewer)) = (&marker, detail_viewer) {
                steps.push(step("GET", format!("/{plural}/{id}"), viewer, 200).contains(html_text(marker)));
            }
        }
        case(format!("{}: the pages render, and the forms create and update", entity.label_plural), steps)
    }

    fn deletes(&mut self, entity: &'s Entity, creator: Visitor, deleter: Visitor) -> TestCase {
        let plural = &entity.plural;
        let reader = self.actor(entity, Operation::Read).unwrap_or(Visitor::Owner);
        let mut steps = Vec::new();
        for (n, html) in [(1, false), (2, true)] {
            let name = format!("{}_doomed_{n}", entity.name);
            let values = self.values(entity);
            steps.push(
                step("POST", format!("/api/{plural}"), creator, 201)
                    .json(Value::Object(values))
                    .capture(&name, "/id"),
            );
            if html {
                steps.push(step("GET", format!("/{plural}/{{{name}}}/delete"), deleter, 200));
                steps.push(
                    step("POST", format!("/{plural}/{{{name}}}/delete"), deleter, 303).form(Vec::new()),
                );
            } else {
                steps.push(step("DELETE", format!("/api/{plural}/{{{name}}}"), deleter, 204));
            }
            steps.push(step("GET", format!("/api/{plural}/{{{name}}}"), reader, 404));
        }
        case(format!("{}: delete over JSON and through the confirmation", entity.label_plural), steps)
    }

    fn validation(&mut self, entity: &'s Entity, creator: Visitor) -> TestCase {
        let plural = &entity.plural;
        let mut steps = Vec::new();
        for field in &entity.fields {
            let invalid: Option<Value> = match &field.kind {
                _ if field.kind.required() => Some(json!("")),
                FieldKind::String { max_length, .. } => {
                    Some(json!("x".repeat(max_length.unwrap_or(DEFAULT_STRING_MAX) as usize + 1)))
                }
                FieldKind::Text { max_length, .. } => {
                    Some(json!("x".repeat(max_length.unwrap_or(DEFAULT_TEXT_MAX) as usize + 1)))
                }
                FieldKind::Integer { max: Some(max), .. } => max.checked_add(1).map(Value::from),
                FieldKind::Integer { min: Some(min), .. } => min.checked_sub(1).map(Value::from),
                FieldKind::Decimal { max: Some(max), .. } => Some(json!(max + 1.0)),
                FieldKind::Email { .. } => Some(json!("not an address")),
                FieldKind::Url { .. } => Some(json!("javascript:alert(1)")),
                FieldKind::Enum { .. } => Some(json!("no_such_value")),
                _ => None,
            };
            let Some(invalid) = invalid else { continue };
            let mut values = self.values(entity);
            values.insert(field.name.clone(), invalid);
            steps.push(
                step("POST", format!("/api/{plural}"), creator, 422)
                    .json(Value::Object(values))
                    .contains(format!("\"{}\"", field.name)),
            );
        }
        if let Some(required) = entity.fields.iter().find(|field| field.kind.required()) {
            let mut values = self.values(entity);
            values.insert(required.name.clone(), json!(""));
            steps.push(
                step("POST", format!("/{plural}"), creator, 422)
                    .form(Self::form(&values))
                    .contains("is required"),
            );
        }
        case(format!("{}: invalid values are refused with the field named", entity.label_plural), steps)
    }

    fn roles(&mut self, entity: &'s Entity) -> TestCase {
        let plural = &entity.plural;
        let mut steps = Vec::new();
        let list_roles = self.page_roles(entity, PageKind::List);
        for (visitor, role) in self.everyone() {
            let may = |op| role.is_some_and(|role| self.may(role, entity, op));
            let read = if may(Operation::Read) { 200 } else { refused(visitor) };
            steps.push(step("GET", format!("/api/{plural}"), visitor, read));
            let sees_list = role.is_some_and(|role| list_roles.iter().any(|allowed| allowed == role));
            steps.push(step(
                "GET",
                format!("/{plural}"),
                visitor,
                if sees_list { 200 } else { refused(visitor) },
            ));
            let create = if may(Operation::Create) { 201 } else { refused(visitor) };
            if create != 201 || self.can_fill(entity) {
                let values = self.values(entity);
                steps.push(
                    step("POST", format!("/api/{plural}"), visitor, create).json(Value::Object(values)),
                );
            }
        }
        case(format!("{}: each role may do what the spec allows, and no more", entity.label_plural), steps)
    }

    fn actions(&mut self, entity: &'s Entity) -> Option<TestCase> {
        let plural = &entity.plural;
        let id = format!("{{{}_id}}", entity.name);
        let mut steps = Vec::new();
        for action in self
            .spec
            .actions
            .iter()
            .filter(|action| action.entity == entity.name && action.kind == ActionKind::Custom)
        {
            let allowed = action.roles.iter().find_map(|role| self.visitors.get(role.as_str()).copied());
            if let Some(visitor) = allowed {
                let mut run =
                    step("POST", format!("/api/{plural}/{id}/actions/{}", action.name), visitor, 200);
                for value in action.set.iter().flatten().map(|(_, value)| value) {
                    run = run.contains(value.as_str().map_or_else(|| value.to_string(), json_text));
                }
                steps.push(run);
                steps.push(
                    step("POST", format!("/{plural}/{id}/actions/{}", action.name), visitor, 303)
                        .form(Vec::new()),
                );
            }
            for (visitor, role) in self.everyone() {
                if !role.is_some_and(|role| action.roles.iter().any(|allowed| allowed == role)) {
                    steps.push(step(
                        "POST",
                        format!("/api/{plural}/{id}/actions/{}", action.name),
                        visitor,
                        refused(visitor),
                    ));
                }
            }
        }
        (!steps.is_empty()).then(|| case(format!("{}: the custom actions", entity.label_plural), steps))
    }
}

/// `base` cut or padded to fit `min..=max` characters.
fn text(base: &str, min: Option<u32>, max: u32) -> String {
    let max = max as usize;
    let mut text: String = base.chars().take(max).collect();
    let min = min.unwrap_or(0) as usize;
    while text.chars().count() < min {
        text.push('x');
    }
    text
}

/// `text` as it appears in an HTML page (escaped).
fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `text` as it appears inside a JSON string.
fn json_text(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
#[path = "derive_tests.rs"]
mod tests;
