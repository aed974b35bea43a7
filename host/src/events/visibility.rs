//! Who may see an event.
//!
//! The rule mirrors `api::access`: an event about an idea is for people with a role on the idea
//! (`idea_role`: a collaborator row, or anyone signed in when the idea is public); an event about an app
//! is for people with a role on the app (`app_role`: its owner, or a role on its idea); an event naming a
//! user is for that user only. When an event names several of these, a reader must pass every one of
//! them; an event that names none is for nobody (a broadcast to every account is not a thing we send).
//!
//! The rule is written twice on purpose, once per shape of question:
//! - "who may see this one event" ([`Audience`]), answered by the columns the bus loads together with
//!   the event itself, so a process pays no extra query per event however many clients it serves;
//! - "which of these stored events may this user see" ([`VISIBLE_TO`]), a predicate for the catch-up
//!   query, so replaying a backlog costs one query rather than one per event.
//!
//! Both sit in this file so that they change together; `tests/api/events.rs` checks them against the
//! same cases.

use std::collections::HashSet;

use uuid::Uuid;

/// Columns describing an event's audience, selected from `events e` joined by [`AUDIENCE_JOINS`].
pub(crate) const AUDIENCE_COLUMNS: &str = "\
    i.id IS NOT NULL AS idea_found, \
    COALESCE(i.visibility = 'public', false) AS idea_public, \
    ARRAY(SELECT c.user_id FROM idea_collaborators c \
          WHERE c.idea_id = i.id AND c.user_id IS NOT NULL) AS idea_members, \
    a.id IS NOT NULL AS app_found, \
    a.user_id AS app_owner, \
    COALESCE(ai.visibility = 'public', false) AS app_idea_public, \
    ARRAY(SELECT c.user_id FROM idea_collaborators c \
          WHERE c.idea_id = ai.id AND c.user_id IS NOT NULL) AS app_idea_members";

/// The joins [`AUDIENCE_COLUMNS`] reads from.
pub(crate) const AUDIENCE_JOINS: &str = "\
    LEFT JOIN ideas i ON i.id = e.idea_id \
    LEFT JOIN apps a ON a.id = e.app_id \
    LEFT JOIN ideas ai ON ai.id = a.idea_id";

/// A predicate on `events e`: the user bound as `$1` may see the event.
pub(crate) const VISIBLE_TO: &str = "\
    (e.idea_id IS NOT NULL OR e.app_id IS NOT NULL OR e.user_id IS NOT NULL) \
    AND (e.user_id IS NULL OR e.user_id = $1) \
    AND (e.idea_id IS NULL OR EXISTS ( \
        SELECT 1 FROM ideas i WHERE i.id = e.idea_id AND (i.visibility = 'public' OR EXISTS ( \
            SELECT 1 FROM idea_collaborators c WHERE c.idea_id = i.id AND c.user_id = $1)))) \
    AND (e.app_id IS NULL OR EXISTS ( \
        SELECT 1 FROM apps a LEFT JOIN ideas ai ON ai.id = a.idea_id \
        WHERE a.id = e.app_id AND (a.user_id = $1 OR ai.visibility = 'public' OR EXISTS ( \
            SELECT 1 FROM idea_collaborators c WHERE c.idea_id = ai.id AND c.user_id = $1))))";

/// The audience columns as loaded.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AudienceRow {
    idea_found: bool,
    idea_public: bool,
    idea_members: Vec<Uuid>,
    app_found: bool,
    app_owner: Option<Uuid>,
    app_idea_public: bool,
    app_idea_members: Vec<Uuid>,
}

/// Who may see one event, resolved once per process and shared by all its connections.
#[derive(Debug, Clone)]
pub struct Audience {
    idea: Option<Scope>,
    app: Option<Scope>,
    user: Option<Uuid>,
}

/// Who passes one of an event's conditions.
#[derive(Debug, Clone)]
enum Scope {
    /// Anyone signed in (a public idea).
    Everyone,
    /// These users only (possibly nobody, when the idea or app is gone).
    Members(HashSet<Uuid>),
}

impl Scope {
    fn admits(&self, user: Uuid) -> bool {
        match self {
            Scope::Everyone => true,
            Scope::Members(members) => members.contains(&user),
        }
    }
}

impl Audience {
    /// The audience of an event naming `idea`, `app` and `user`, from the columns loaded with it.
    pub(crate) fn new(idea: Option<Uuid>, app: Option<Uuid>, user: Option<Uuid>, row: AudienceRow) -> Self {
        let idea = idea.map(|_| match (row.idea_found, row.idea_public) {
            (false, _) => Scope::Members(HashSet::new()),
            (true, true) => Scope::Everyone,
            (true, false) => Scope::Members(row.idea_members.into_iter().collect()),
        });
        let app = app.map(|_| match (row.app_found, row.app_idea_public) {
            (false, _) => Scope::Members(HashSet::new()),
            (true, true) => Scope::Everyone,
            (true, false) => Scope::Members(row.app_idea_members.into_iter().chain(row.app_owner).collect()),
        });
        Audience { idea, app, user }
    }

    /// Whether `user` may see the event.
    pub fn admits(&self, user: Uuid) -> bool {
        if self.idea.is_none() && self.app.is_none() && self.user.is_none() {
            return false;
        }
        self.user.is_none_or(|only| only == user)
            && self.idea.as_ref().is_none_or(|scope| scope.admits(user))
            && self.app.as_ref().is_none_or(|scope| scope.admits(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(idea_public: bool, members: &[Uuid], owner: Option<Uuid>) -> AudienceRow {
        AudienceRow {
            idea_found: true,
            idea_public,
            idea_members: members.to_vec(),
            app_found: true,
            app_owner: owner,
            app_idea_public: idea_public,
            app_idea_members: members.to_vec(),
        }
    }

    #[test]
    fn every_named_condition_must_hold() {
        let (alice, bob, carol) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let idea = Some(Uuid::new_v4());
        let app = Some(Uuid::new_v4());

        let private = Audience::new(idea, None, None, row(false, &[alice, bob], None));
        assert!(private.admits(alice) && private.admits(bob) && !private.admits(carol));

        let public = Audience::new(idea, None, None, row(true, &[alice], None));
        assert!(public.admits(carol));

        let for_bob = Audience::new(idea, None, Some(bob), row(true, &[alice], None));
        assert!(for_bob.admits(bob) && !for_bob.admits(alice));

        let app_event = Audience::new(None, app, None, row(false, &[alice], Some(carol)));
        assert!(app_event.admits(carol) && app_event.admits(alice) && !app_event.admits(bob));

        let gone = AudienceRow { idea_found: false, ..row(true, &[alice], None) };
        assert!(!Audience::new(idea, None, None, gone).admits(alice));

        assert!(!Audience::new(None, None, None, row(true, &[alice], None)).admits(alice));
    }
}
