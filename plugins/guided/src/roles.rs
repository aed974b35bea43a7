//! Roles and their permissions from the answers to "who will use it?" and "who may do what?".
//!
//! The app's owner always gets a role that may do everything (named after what the person calls
//! themselves: organiser, admin… or `owner`). People who use it become a role each ("the members of
//! our club" → `member`); without any, `member`. "Who may do what" is read clause by clause: a
//! subject (I, members, anyone…), a verb (manage, add, sign up, view…) and the things named (all of
//! them when none is). Unless the answer says otherwise, the other roles may read everything and
//! add records; "anyone"/"visitors" make a read-only role for people who are not signed in.

use crate::model::{Entity, Operation, Role};
use crate::words::{self, singular, title};

/// Words people use for themselves as the app's owner.
const OWNER_WORDS: &[&str] =
    &["organiser", "organizer", "admin", "administrator", "manager", "owner", "leader", "coordinator"];
/// Words that name the people who use an app.
const PEOPLE_WORDS: &[&str] = &[
    "member",
    "friend",
    "parent",
    "kid",
    "child",
    "student",
    "teacher",
    "coach",
    "player",
    "volunteer",
    "employee",
    "staff",
    "colleague",
    "teammate",
    "customer",
    "client",
    "guest",
    "neighbour",
    "neighbor",
    "reader",
    "participant",
    "attendee",
    "roommate",
    "flatmate",
    "tenant",
    "user",
    "family",
    "worker",
];
/// Subjects that mean people who are not signed in.
const ANYONE_WORDS: &[&str] =
    &["anyone", "everyone", "everybody", "anybody", "public", "visitor", "visitors", "guests"];

/// What a role may do: (entity, operations), entities in the app's order.
type Grants = Vec<(String, Vec<Operation>)>;

/// The roles, the role names for the owner, the signed-in people and visitors (if any).
pub struct Roles {
    pub roles: Vec<Role>,
    pub owner: String,
    pub signed_in: String,
    pub anonymous: Option<String>,
}

/// Derives the roles from the `users` and `permissions` answers for `entities`.
pub fn derive(users: Option<&str>, permissions: Option<&str>, entities: &[Entity]) -> Roles {
    let mentioned = |text: Option<&str>| -> Vec<String> { text.map(words::tokens).unwrap_or_default() };
    let user_words: Vec<String> =
        mentioned(users).into_iter().chain(mentioned(permissions)).map(|w| singular(&w)).collect();
    let owner = user_words
        .iter()
        .find(|w| OWNER_WORDS.contains(&w.as_str()))
        .cloned()
        .unwrap_or_else(|| "owner".into());
    let owner = if owner == "organiser" { "organizer".to_owned() } else { owner };
    let people: Vec<String> = {
        let mut found: Vec<String> = Vec::new();
        for word in &user_words {
            if PEOPLE_WORDS.contains(&word.as_str()) && !found.contains(word) && found.len() < 4 {
                found.push(word.clone());
            }
        }
        if found.is_empty() { vec!["member".into()] } else { found }
    };
    let all: Vec<String> = entities.iter().map(|e| e.name.clone()).collect();
    let mut grants: Vec<(String, Grants)> = Vec::new();
    grants.push((owner.clone(), all.iter().map(|e| (e.clone(), Operation::ALL.to_vec())).collect()));
    let said = permissions.map(clauses).unwrap_or_default();
    let mut anonymous = None;
    for person in &people {
        let mut own: Vec<(String, Vec<Operation>)> = Vec::new();
        for (subject, operations, things) in &said {
            if singular(subject) == *person || subject == "everyone" || subject == "everybody" {
                merge(&mut own, &targets(things, &all), operations);
            }
        }
        if own.is_empty() {
            merge(&mut own, &all, &[Operation::View, Operation::Create]);
        }
        merge(&mut own, &all, &[Operation::View]);
        grants.push((person.clone(), own));
    }
    if said.iter().any(|(subject, ..)| ANYONE_WORDS.contains(&subject.as_str()))
        || user_words.iter().any(|w| w == "public" || w == "visitor")
    {
        let mut seen: Vec<(String, Vec<Operation>)> = Vec::new();
        for (_, _, things) in said.iter().filter(|(subject, ..)| ANYONE_WORDS.contains(&subject.as_str())) {
            merge(&mut seen, &targets(things, &all), &[Operation::View]);
        }
        if seen.is_empty() {
            merge(&mut seen, &all, &[Operation::View]);
        }
        grants.push(("visitor".into(), seen));
        anonymous = Some("visitor".to_owned());
    }
    let roles = grants
        .into_iter()
        .map(|(name, grants)| Role {
            label: title(&name),
            description: describe(&name, &owner),
            name,
            grants,
        })
        .collect::<Vec<_>>();
    let signed_in = people.first().cloned().unwrap_or_else(|| owner.clone());
    Roles { roles, owner, signed_in, anonymous }
}

fn describe(role: &str, owner: &str) -> String {
    if role == owner {
        "Runs the app: may do everything.".to_owned()
    } else if role == "visitor" {
        "Not signed in: may look around.".to_owned()
    } else {
        format!("Signed in as a {role}.")
    }
}

/// Adds `operations` on each of `entities` to `grants`.
fn merge(grants: &mut Vec<(String, Vec<Operation>)>, entities: &[String], operations: &[Operation]) {
    for entity in entities {
        let index = match grants.iter().position(|(e, _)| e == entity) {
            Some(index) => index,
            None => {
                grants.push((entity.clone(), Vec::new()));
                grants.len() - 1
            }
        };
        let ops = &mut grants[index].1;
        for op in operations {
            if !ops.contains(op) {
                ops.push(*op);
            }
        }
        ops.sort();
    }
}

/// The entities `things` names (by word, singular or plural, or as the first word of a compound
/// name such as snack → snack_assignment); all of them when it names none.
fn targets(things: &[String], all: &[String]) -> Vec<String> {
    let named: Vec<String> = all
        .iter()
        .filter(|entity| {
            things.iter().any(|word| {
                let one = singular(word);
                **entity == one || entity.split('_').next() == Some(one.as_str())
            })
        })
        .cloned()
        .collect();
    if named.is_empty() { all.to_vec() } else { named }
}

/// "I manage the books, members sign up for snacks" → [(i, all ops, [books]), (members, create, [snacks])].
fn clauses(text: &str) -> Vec<(String, Vec<Operation>, Vec<String>)> {
    let lower = text.to_lowercase();
    lower
        .split([',', ';', '.', '\n'])
        .flat_map(|part| part.split(" but ").map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|clause| {
            let tokens = words::tokens(&clause);
            let subject_at = tokens
                .iter()
                .position(|w| !["the", "our", "my", "and", "only", "all"].contains(&w.as_str()))?;
            let subject = tokens[subject_at].clone();
            let rest = &tokens[subject_at + 1..];
            let operations = operations(rest);
            Some((subject, operations, rest.to_vec()))
        })
        .collect()
}

/// What a clause's verbs allow.
fn operations(words: &[String]) -> Vec<Operation> {
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    if has(&[
        "manage",
        "manages",
        "edit",
        "edits",
        "run",
        "runs",
        "control",
        "admin",
        "organise",
        "organize",
        "everything",
        "change",
        "delete",
    ]) {
        Operation::ALL.to_vec()
    } else if has(&[
        "add", "adds", "create", "creates", "sign", "signs", "suggest", "suggests", "submit", "post", "book",
        "bring", "brings", "log", "record", "enter", "propose", "join",
    ]) {
        vec![Operation::View, Operation::Create]
    } else {
        vec![Operation::View]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities;

    fn grants_of<'a>(roles: &'a Roles, role: &str) -> &'a [(String, Vec<Operation>)] {
        &roles.roles.iter().find(|r| r.name == role).unwrap_or_else(|| panic!("no role {role}")).grants
    }

    #[test]
    fn the_book_club_roles() {
        let entities = entities::from_answer("books with title; meetings with date; snacks: who brings what");
        let roles = derive(
            Some("the members of our club, and me as the organiser"),
            Some("I manage the books and meetings, members sign up for snacks, anyone can see the books"),
            &entities,
        );
        assert_eq!(roles.owner, "organizer");
        assert_eq!(roles.signed_in, "member");
        assert_eq!(roles.anonymous.as_deref(), Some("visitor"));
        assert!(grants_of(&roles, "organizer").iter().all(|(_, ops)| ops.len() == 4));
        let member = grants_of(&roles, "member");
        let snacks = member.iter().find(|(e, _)| e == "snack_assignment").unwrap();
        assert_eq!(snacks.1, vec![Operation::View, Operation::Create]);
        let books = member.iter().find(|(e, _)| e == "book").unwrap();
        assert_eq!(books.1, vec![Operation::View], "members only read what they were not given");
        assert_eq!(grants_of(&roles, "visitor"), &[("book".to_owned(), vec![Operation::View])]);
    }

    #[test]
    fn defaults_without_answers() {
        let entities = entities::from_answer("tasks with title and due date");
        let roles = derive(None, None, &entities);
        assert_eq!(roles.owner, "owner");
        assert_eq!(roles.signed_in, "member");
        assert_eq!(roles.anonymous, None);
        assert_eq!(
            grants_of(&roles, "member"),
            &[("task".to_owned(), vec![Operation::View, Operation::Create])]
        );
    }
}
