//! The authorization matrix of the resource endpoints: for every endpoint, what the idea's owner, a
//! collaborator, a viewer, a stranger and an anonymous caller get, and that every refusal leaves the
//! database exactly as it was. Also the shared fixture (`World`, `Scene`) the resource tests build on.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{TestServer, TestUser, error_code};

/// A server with an owner, a collaborator, a viewer and a stranger signed up.
pub struct World {
    pub server: TestServer,
    pub owner: TestUser,
    pub collaborator: TestUser,
    pub viewer: TestUser,
    pub stranger: TestUser,
}

/// One idea of the owner's (collaborator and viewer invited), with a session and an app.
#[derive(Debug, Clone, Copy)]
pub struct Scene {
    pub idea: Uuid,
    pub session: Uuid,
    pub app: Uuid,
}

impl World {
    pub async fn new(db: PgPool) -> World {
        let server = TestServer::start(db).await;
        let owner = server.signup("owner@example.com").await;
        let collaborator = server.signup("collaborator@example.com").await;
        let viewer = server.signup("viewer@example.com").await;
        let stranger = server.signup("stranger@example.com").await;
        World { server, owner, collaborator, viewer, stranger }
    }

    /// Creates an idea with `visibility` through the API, invites the collaborator and the viewer,
    /// starts a session and inserts an app (the build pipeline's job) for it.
    pub async fn scene(&self, visibility: &str) -> Scene {
        let response =
            self.owner.post("/api/ideas", json!({"name": "Plant swap", "visibility": visibility})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let idea = id_of(response).await;
        for (user, role) in [(&self.collaborator, "collaborator"), (&self.viewer, "viewer")] {
            let path = format!("/api/ideas/{idea}/collaborate");
            let response = self.owner.post(&path, json!({"email": user.email, "role": role})).await;
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        let response =
            self.owner.post("/api/sessions", json!({"idea_id": idea, "agent_type": "ideation"})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let session = id_of(response).await;
        let app = insert_app(&self.server.db, self.owner.id, Some(idea)).await;
        Scene { idea, session, app }
    }
}

/// Inserts an app row as the build pipeline would.
pub async fn insert_app(db: &PgPool, owner: Uuid, idea: Option<Uuid>) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO apps (id, idea_id, user_id, slug, name) VALUES ($1, $2, $3, $4, 'Plant swap')")
        .bind(id)
        .bind(idea)
        .bind(owner)
        .bind(format!("app-{}", id.simple()))
        .execute(db)
        .await
        .unwrap();
    id
}

/// The `id` of a JSON response body.
pub async fn id_of(response: Response) -> Uuid {
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).parse().unwrap()
}

/// Every row the resource endpoints can write, as one comparable text.
pub async fn snapshot(db: &PgPool) -> String {
    let tables = [
        "ideas",
        "idea_collaborators",
        "agent_sessions",
        "agent_messages",
        "apps",
        "credit_ledger",
        "mail_outbox",
        "events",
    ];
    let mut all = String::new();
    for table in tables {
        let rows: Option<String> = sqlx::query_scalar(&format!(
            "SELECT jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text)::text FROM {table} t"
        ))
        .fetch_one(db)
        .await
        .unwrap();
        all.push_str(&format!("{table}: {}\n", rows.unwrap_or_default()));
    }
    all
}

/// Who calls.
#[derive(Debug, Clone, Copy)]
enum Who {
    Owner,
    Collaborator,
    Viewer,
    Stranger,
    Anonymous,
    /// A stranger, on a public idea.
    PublicStranger,
}

const EVERYONE: [Who; 6] =
    [Who::Owner, Who::Collaborator, Who::Viewer, Who::Stranger, Who::Anonymous, Who::PublicStranger];

/// One endpoint and the status each caller gets, in the order of [`EVERYONE`].
struct Case {
    method: Method,
    /// With `{idea}`, `{session}`, `{app}` and `{viewer}` (the viewer's email) filled in per scene.
    path: &'static str,
    body: Option<Value>,
    expect: [u16; 6],
}

fn case(method: Method, path: &'static str, body: Option<Value>, expect: [u16; 6]) -> Case {
    Case { method, path, body, expect }
}

fn fill(template: &str, world: &World, scene: Scene) -> String {
    template
        .replace("{idea}", &scene.idea.to_string())
        .replace("{session}", &scene.session.to_string())
        .replace("{app}", &scene.app.to_string())
        .replace("{viewer}", &world.viewer.email)
}

/// Runs every case for every caller, each on a fresh scene, and checks refusals change nothing.
async fn run_matrix(world: &World, cases: &[Case]) {
    for case in cases {
        for (who, expect) in EVERYONE.into_iter().zip(case.expect) {
            let public = matches!(who, Who::PublicStranger);
            let scene = world.scene(if public { "public" } else { "private" }).await;
            let path = fill(case.path, world, scene);
            let body = case
                .body
                .as_ref()
                .map(|b| serde_json::from_str::<Value>(&fill(&b.to_string(), world, scene)).unwrap());
            let request = match who {
                Who::Owner => world.owner.request(case.method.clone(), &path),
                Who::Collaborator => world.collaborator.request(case.method.clone(), &path),
                Who::Viewer => world.viewer.request(case.method.clone(), &path),
                Who::Stranger | Who::PublicStranger => world.stranger.request(case.method.clone(), &path),
                Who::Anonymous => world.server.anon(case.method.clone(), &path),
            };
            let request = match &body {
                Some(body) => request.json(body),
                None => request,
            };
            let before = snapshot(&world.server.db).await;
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let what = format!("{} {} as {who:?}", case.method, case.path);
            assert_eq!(status, expect, "{what}");
            if status >= 400 {
                let expected_code = match status {
                    401 => "unauthorized",
                    403 => "forbidden",
                    404 => "not_found",
                    other => panic!("unexpected refusal {other} for {what}"),
                };
                assert_eq!(error_code(response).await, expected_code, "{what}");
            }
            let after = snapshot(&world.server.db).await;
            if status >= 400 || case.method == Method::GET {
                assert_eq!(after, before, "{what} changed rows");
            } else {
                assert_ne!(after, before, "{what} succeeded but changed nothing");
            }
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn idea_and_collaborator_endpoints(db: PgPool) {
    let world = World::new(db).await;
    let patch = Some(json!({"summary": "Swap cuttings with neighbours"}));
    let invite = Some(json!({"email": "new@example.com", "role": "viewer"}));
    //        owner collab viewer stranger anon public-stranger
    let cases = [
        case(Method::GET, "/api/ideas", None, [200, 200, 200, 200, 401, 200]),
        case(Method::POST, "/api/ideas", Some(json!({"name": "Mine"})), [201, 201, 201, 201, 401, 201]),
        case(Method::GET, "/api/ideas/{idea}", None, [200, 200, 200, 404, 401, 200]),
        case(Method::PATCH, "/api/ideas/{idea}", patch, [200, 200, 403, 404, 401, 403]),
        case(Method::DELETE, "/api/ideas/{idea}", None, [204, 403, 403, 404, 401, 403]),
        case(Method::GET, "/api/ideas/{idea}/collaborate", None, [200, 200, 200, 404, 401, 403]),
        case(Method::POST, "/api/ideas/{idea}/collaborate", invite, [201, 403, 403, 404, 401, 403]),
        case(Method::DELETE, "/api/ideas/{idea}/collaborate/{viewer}", None, [204, 403, 403, 404, 401, 403]),
    ];
    run_matrix(&world, &cases).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn session_app_and_credit_endpoints(db: PgPool) {
    let world = World::new(db).await;
    let start = Some(json!({"idea_id": "{idea}", "agent_type": "spec"}));
    let message = Some(json!({"content": "Can neighbours rate each other?"}));
    let rename = Some(json!({"name": "Plant swap 2"}));
    //        owner collab viewer stranger anon public-stranger
    let cases = [
        case(Method::POST, "/api/sessions", start, [201, 201, 403, 404, 401, 403]),
        case(Method::GET, "/api/sessions/{session}", None, [200, 200, 200, 404, 401, 200]),
        case(Method::POST, "/api/sessions/{session}/message", message, [201, 201, 403, 404, 401, 403]),
        case(Method::GET, "/api/apps", None, [200, 200, 200, 200, 401, 200]),
        case(Method::GET, "/api/apps/{app}", None, [200, 200, 200, 404, 401, 200]),
        case(Method::PATCH, "/api/apps/{app}", rename, [200, 200, 403, 404, 401, 403]),
        case(Method::GET, "/api/credits", None, [200, 200, 200, 200, 401, 200]),
    ];
    run_matrix(&world, &cases).await;
}

/// Ids that do not exist answer 404 to everyone signed in, exactly like ids they may not see.
#[sqlx::test(migrations = "../migrations")]
async fn unknown_ids_are_not_found(db: PgPool) {
    let world = World::new(db).await;
    let missing = Uuid::new_v4();
    for path in [
        format!("/api/ideas/{missing}"),
        format!("/api/ideas/{missing}/collaborate"),
        format!("/api/sessions/{missing}"),
        format!("/api/apps/{missing}"),
    ] {
        let response = world.owner.get(&path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(response).await, "not_found");
    }
    let response = world.owner.post("/api/sessions", json!({"idea_id": missing, "agent_type": "spec"})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// Lists only ever show the caller's own things, whatever else exists.
#[sqlx::test(migrations = "../migrations")]
async fn lists_do_not_leak(db: PgPool) {
    let world = World::new(db).await;
    let scene = world.scene("public").await;
    for path in ["/api/ideas", "/api/apps"] {
        let body: Value = world.stranger.get(path).await.json().await.unwrap();
        assert_eq!(body, json!([]), "{path} as a stranger");
        let body: Value = world.viewer.get(path).await.json().await.unwrap();
        let ids: Vec<&str> = body.as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
        let expected = if path == "/api/ideas" { scene.idea } else { scene.app };
        assert_eq!(ids, [expected.to_string()], "{path} as a viewer");
    }
    let body: Value = world.stranger.get("/api/credits").await.json().await.unwrap();
    let entries = body["ledger"].as_array().unwrap();
    assert!(entries.iter().all(|e| e["reason"] == "welcome credits"), "{body}");
    assert_eq!(entries.len(), 1, "{body}");
}
