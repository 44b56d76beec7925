//! `GET /admin`: a landlord administrator's page. The landlord's people and their roles (add
//! one, change a role, disable or enable, reset a lost second factor, lift a lockout), API keys
//! and OAuth clients (make one, its secret shown once; revoke), the webhook receivers with
//! their recent deliveries and dead letters, and the landlord's case policy.
//!
//! Each section needs its own permission, and each form calls the API's own handler for the
//! same change (`handlers::users`, `handlers::credentials`), so the page checks, limits and
//! audits exactly as the API does: it only draws the forms and the answers.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use dampwatch_accounts::{Permission, Role};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{page, when};
use super::sign_in::TokenForm;
use super::viewer::Viewer;
use crate::extract::JsonBody;
use crate::handlers::credentials::{self, CredentialRequest};
use crate::handlers::users::{self, UserRequest, UserUpdate};
use crate::handlers::webhooks::{self, DeliveryQuery, MessageStatus, WebhookMessage};
use crate::problem::ApiError;
use crate::state::ApiState;

/// Whether the person may see the page at all.
pub fn may_administer(viewer: &Viewer) -> bool {
    [Permission::ManageUsers, Permission::ManageApiKeys, Permission::ManageWebhooks]
        .into_iter()
        .any(|p| viewer.may(p))
}

/// Messages shown per list on the page.
const RECENT: u32 = 20;

/// `GET /admin`.
pub async fn get(State(state): State<ApiState>, viewer: Viewer) -> Result<Response, ApiError> {
    render(&state, &viewer, None).await
}

/// The page with `notice` (a result or a refusal) at the top.
async fn render(state: &ApiState, viewer: &Viewer, notice: Option<Markup>) -> Result<Response, ApiError> {
    if !may_administer(viewer) {
        viewer.require(Permission::ManageUsers)?;
    }
    let token = &viewer.csrf_token;
    let me = viewer.session().user_id;
    let mut sections = Vec::new();
    if viewer.may(Permission::ManageUsers) {
        let Json(people) = users::list(viewer.tenant(state)).await?;
        sections.push(html! {
            section aria-labelledby="people" {
                h2 id="people" { "People" }
                table {
                    caption.visually-hidden { "The landlord's people and their roles" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "E-mail address" } th scope="col" { "Role" }
                                 th scope="col" { "Second factor" } th scope="col" { "State" } th scope="col" { "Change" } } }
                    tbody {
                        @for u in &people {
                            tr {
                                td { (u.display_name) }
                                td { (u.email) }
                                td { (u.role.as_str().replace('_', " ")) }
                                td { @if u.mfa_enabled { "in use" } @else { "none" } }
                                td {
                                    @if u.disabled_at.is_some() { "disabled" }
                                    @else if u.locked_until.is_some_and(|t| t > state.now()) { "locked until " (when(u.locked_until.unwrap_or_default())) }
                                    @else if !u.password_set { "no password yet" }
                                    @else { "active" }
                                }
                                td {
                                    @if u.id == me { "(you)" } @else {
                                        form method="post" action={"/admin/users/" (u.id)} {
                                            input type="hidden" name="csrf_token" value=(token);
                                            label.visually-hidden for={"role-" (u.id)} { "Role of " (u.display_name) }
                                            select id={"role-" (u.id)} name="role" {
                                                @for r in Role::ALL.into_iter().filter(|r| r.belongs_to_landlord()) {
                                                    option value=(r.as_str()) selected[r == u.role] { (r.as_str().replace('_', " ")) }
                                                }
                                            }
                                            button type="submit" name="action" value="role" { "Change role" }
                                            " "
                                            @if u.disabled_at.is_some() {
                                                button type="submit" name="action" value="enable" { "Enable" }
                                            } @else {
                                                button type="submit" name="action" value="disable" { "Disable" }
                                            }
                                            @if u.mfa_enabled { " " button type="submit" name="action" value="reset_mfa" { "Reset second factor" } }
                                            @if u.locked_until.is_some() { " " button type="submit" name="action" value="unlock" { "Unlock" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 { "Add a person" }
                form method="post" action="/admin/users" {
                    input type="hidden" name="csrf_token" value=(token);
                    label for="new-name" { "Name" }
                    input id="new-name" name="display_name" required autocomplete="off";
                    label for="new-email" { "E-mail address" }
                    input id="new-email" name="email" type="email" required autocomplete="off";
                    label for="new-role" { "Role" }
                    select id="new-role" name="role" {
                        @for r in Role::ALL.into_iter().filter(|r| r.belongs_to_landlord()) {
                            option value=(r.as_str()) selected[r == Role::HousingOfficer] { (r.as_str().replace('_', " ")) }
                        }
                    }
                    p { button type="submit" { "Add" } }
                }
            }
        });
    }
    if viewer.may(Permission::ManageApiKeys) {
        let Json(keys) = credentials::list_keys(viewer.tenant(state)).await?;
        let Json(clients) = credentials::list_oauth_clients(viewer.tenant(state)).await?;
        sections.push(html! {
            section aria-labelledby="keys" {
                h2 id="keys" { "API keys" }
                table {
                    caption.visually-hidden { "API keys (never the keys themselves)" }
                    thead { tr { th scope="col" { "Label" } th scope="col" { "Starts with" } th scope="col" { "Scope" }
                                 th scope="col" { "Last used" } th scope="col" { "Expires" } th scope="col" { "State" } } }
                    tbody {
                        @for k in &keys {
                            tr {
                                td { (k.label) } td { code { (k.prefix) } } td { (k.scopes.join(" ")) }
                                td { (k.last_used_at.map(when).unwrap_or_else(|| "never".into())) }
                                td { (k.expires_at.map(when).unwrap_or_else(|| "—".into())) }
                                td {
                                    @if k.revoked_at.is_some() { "revoked" } @else {
                                        form method="post" action={"/admin/api-keys/" (k.id) "/revoke"} {
                                            input type="hidden" name="csrf_token" value=(token);
                                            button type="submit" aria-label={"Revoke the key " (k.label)} { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                (credential_form("/admin/api-keys", "key", true, token))
                h2 { "OAuth clients" }
                table {
                    caption.visually-hidden { "OAuth clients (never their secrets)" }
                    thead { tr { th scope="col" { "Label" } th scope="col" { "Client id" } th scope="col" { "Scope" }
                                 th scope="col" { "Last used" } th scope="col" { "State" } } }
                    tbody {
                        @for c in &clients {
                            tr {
                                td { (c.label) } td { code { (c.client_id) } }
                                td { (c.scopes.join(" ")) @if let Some(r) = &c.recipient { " (third party: " (r) ")" } }
                                td { (c.last_used_at.map(when).unwrap_or_else(|| "never".into())) }
                                td {
                                    @if c.revoked_at.is_some() { "revoked" } @else {
                                        form method="post" action={"/admin/oauth-clients/" (c.id) "/revoke"} {
                                            input type="hidden" name="csrf_token" value=(token);
                                            button type="submit" aria-label={"Revoke the client " (c.label)} { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                (credential_form("/admin/oauth-clients", "client", false, token))
            }
        });
    }
    if viewer.may(Permission::ManageWebhooks) || viewer.may(Permission::ReadWebhookLog) {
        let recent = deliveries(state, viewer, None).await?;
        let dead = deliveries(state, viewer, Some(MessageStatus::Dead)).await?;
        sections.push(html! {
            section aria-labelledby="webhooks" {
                h2 id="webhooks" { "Webhooks" }
                p { "Receivers are registered by the operator (" code { "dampwatch webhooks add" } "); dead letters are re-sent with "
                    code { "dampwatch webhooks requeue" } "." }
                h3 { "Recent deliveries" }
                (messages(&recent))
                h3 { "Dead letters" }
                @if dead.is_empty() { p { "None." } } @else { (messages(&dead)) }
            }
        });
    }
    let policy = landlord_policy(state, viewer).await?;
    let content = html! {
        @if let Some(n) = notice { (n) }
        @for s in &sections { (s) }
        section aria-labelledby="policy" {
            h2 id="policy" { "Case policy" }
            dl {
                dt { "Landlord" } dd { (policy.0) }
                dt { "A sensor alert" }
                dd { @if policy.1 == "open_on_triage" { "waits for a person's triage before a case opens" }
                     @else { "opens a case at once (the statutory clock starts at detection)" } }
            }
            p { "The operator changes it (" code { "dampwatch landlords" } ")." }
        }
    };
    Ok(page("Administration", Some(viewer), content))
}

fn credential_form(action: &str, what: &str, expires: bool, token: &str) -> Markup {
    html! {
        h3 { "Make a new " (what) }
        form method="post" action=(action) {
            input type="hidden" name="csrf_token" value=(token);
            label for={(what) "-label"} { "What it is for" }
            input id={(what) "-label"} name="label" required autocomplete="off";
            label for={(what) "-scope"} { "Scope" }
            select id={(what) "-scope"} name="scope" {
                option value="read" { "read" }
                option value="read write" { "read and write (triage, case events, works)" }
            }
            @if expires {
                label for={(what) "-days"} { "Days until it stops working (at most 365)" }
                input id={(what) "-days"} name="days" type="number" min="1" max="365" value="90";
            } @else {
                label for={(what) "-recipient"} { "For a third party (an insurer, say): its name, as the tenants' consents give it" }
                input id={(what) "-recipient"} name="recipient" autocomplete="off" aria-describedby={(what) "-recipient-help"};
                p id={(what) "-recipient-help"} { "Leave it empty for your own system. A third party's client only fetches the shares of tenancies whose tenants consented to that recipient (the scope above does not apply to it)." }
            }
            p { button type="submit" { "Make the " (what) } }
        }
    }
}

async fn deliveries(
    state: &ApiState,
    viewer: &Viewer,
    status: Option<MessageStatus>,
) -> Result<Vec<WebhookMessage>, ApiError> {
    let query = DeliveryQuery::new(status, RECENT);
    let Json(page) =
        webhooks::list(State(state.clone()), viewer.tenant(state), crate::extract::QueryParams(query))
            .await?;
    Ok(page.items)
}

fn messages(list: &[WebhookMessage]) -> Markup {
    html! {
        @if list.is_empty() { p { "None yet." } } @else {
            table {
                thead { tr { th scope="col" { "Message" } th scope="col" { "Event" } th scope="col" { "Receiver" }
                             th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Last error" } } }
                tbody {
                    @for m in list {
                        tr {
                            td { (m.id) } td { (m.event_type) } td { (m.endpoint_url) }
                            td { (m.status.as_str()) } td { (m.attempt_count) }
                            td { (m.last_error.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
        }
    }
}

/// The landlord's name and case policy.
async fn landlord_policy(state: &ApiState, viewer: &Viewer) -> Result<(String, String), ApiError> {
    let mut tenant = viewer.tenant(state);
    let tx = tenant.transaction().await?;
    let row = tx.query_opt("SELECT coalesce(nullif(name, ''), id), case_policy FROM landlords", &[]).await?;
    tx.commit().await?;
    Ok(row.map(|r| (r.get(0), r.get(1))).unwrap_or_default())
}

/// The result of a form: the page again with what happened (or why not) at the top.
async fn answer(
    state: &ApiState,
    viewer: &Viewer,
    result: Result<Markup, ApiError>,
) -> Result<Response, ApiError> {
    match result {
        Ok(done) => render(state, viewer, Some(html! { div.notice role="status" { (done) } })).await,
        Err(ApiError::Unprocessable(reason)) => {
            render(state, viewer, Some(html! { p.error role="alert" { (reason) } })).await
        }
        Err(e) => Err(e),
    }
}

/// The new-person form.
#[derive(Deserialize)]
pub struct NewPerson {
    csrf_token: String,
    email: String,
    display_name: String,
    role: String,
}

/// `POST /admin/users`: the person is made; the link to set their password is shown once.
pub async fn add_user(
    State(state): State<ApiState>,
    viewer: Viewer,
    Form(f): Form<NewPerson>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    viewer.require(Permission::ManageUsers)?;
    let request = UserRequest { email: f.email, display_name: f.display_name, role: f.role };
    let result = users::create(State(state.clone()), viewer.tenant(&state), JsonBody(request)).await.map(
        |(_, Json(created))| {
            let link = format!("/set-password?token={}", created.password_setup_token);
            html! {
                p { (created.user.display_name) " (" (created.user.email) ") is added as "
                    (created.user.role.as_str().replace('_', " ")) "." }
                p { "Send them this link to set their password. It works once, until "
                    (when(created.password_setup_expires_at)) ", and is not shown again: " }
                p { code.secret { (link) } }
            }
        },
    );
    answer(&state, &viewer, result).await
}

/// A change to a person.
#[derive(Deserialize)]
pub struct PersonChange {
    csrf_token: String,
    action: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/users/{id}`.
pub async fn change_user(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(f): Form<PersonChange>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    viewer.require(Permission::ManageUsers)?;
    let mut update =
        UserUpdate { role: None, disabled: None, reset_mfa: None, unlock: None, end_sessions: None };
    match f.action.as_str() {
        "role" => update.role = Some(f.role),
        "disable" => update.disabled = Some(true),
        "enable" => update.disabled = Some(false),
        "reset_mfa" => update.reset_mfa = Some(true),
        "unlock" => update.unlock = Some(true),
        other => return Err(ApiError::BadRequest(format!("no such change: {other:?}"))),
    }
    let result = users::update(State(state.clone()), viewer.tenant(&state), Path(id), JsonBody(update))
        .await
        .map(|Json(user)| html! { p { (user.display_name) " is changed." } });
    answer(&state, &viewer, result).await
}

/// The new key or client form.
#[derive(Deserialize)]
pub struct NewCredential {
    csrf_token: String,
    label: String,
    scope: String,
    days: Option<i64>,
    /// Clients only: a third party's name (empty for the landlord's own system).
    #[serde(default)]
    recipient: String,
}

/// `POST /admin/api-keys`: the key, shown once.
pub async fn add_key(
    State(state): State<ApiState>,
    viewer: Viewer,
    Form(f): Form<NewCredential>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    viewer.require(Permission::ManageApiKeys)?;
    let request =
        CredentialRequest { label: f.label, scope: Some(f.scope), expires_in_days: f.days, recipient: None };
    let result = credentials::create_key_handler(State(state.clone()), viewer.tenant(&state), JsonBody(request))
        .await
        .map(|(_, Json(new))| {
            html! {
                p { "The key " (new.info.label) " is made. Copy it now: only its hash is kept, so it is not shown again." }
                p { code.secret { (new.key) } }
            }
        });
    answer(&state, &viewer, result).await
}

/// `POST /admin/oauth-clients`: the client's secret, shown once.
pub async fn add_client(
    State(state): State<ApiState>,
    viewer: Viewer,
    Form(f): Form<NewCredential>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    viewer.require(Permission::ManageApiKeys)?;
    let recipient = Some(f.recipient.trim().to_owned()).filter(|r| !r.is_empty());
    // A third party's client holds `share` alone, whatever the scope list says.
    let scope = if recipient.is_some() { None } else { Some(f.scope) };
    let request = CredentialRequest { label: f.label, scope, expires_in_days: None, recipient };
    let result = credentials::create_oauth_client(viewer.tenant(&state), JsonBody(request)).await.map(
        |(_, Json(new))| {
            html! {
                p { "The client is registered. Copy its secret now: it is not shown again." }
                dl { dt { "Client id" } dd { code { (new.client_id) } } dt { "Client secret" } dd { code.secret { (new.client_secret) } } }
            }
        },
    );
    answer(&state, &viewer, result).await
}

/// `POST /admin/api-keys/{id}/revoke`.
pub async fn revoke_key(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(f): Form<TokenForm>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    viewer.require(Permission::ManageApiKeys)?;
    credentials::revoke_key(viewer.tenant(&state), Path(id)).await?;
    Ok(Redirect::to("/admin").into_response())
}

/// `POST /admin/oauth-clients/{id}/revoke`.
pub async fn revoke_client(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(f): Form<TokenForm>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    viewer.require(Permission::ManageApiKeys)?;
    credentials::revoke_oauth_client(viewer.tenant(&state), Path(id)).await?;
    Ok(Redirect::to("/admin").into_response())
}
