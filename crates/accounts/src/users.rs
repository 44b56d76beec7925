//! Users: who they are, which landlord they belong to, their role.
//!
//! Every function here reads and writes only the columns the tenant role may touch, so the
//! same code serves a landlord admin's request (in a tenant transaction, where row-level
//! security confines it to the landlord's users) and the operator's CLI (as the service role).
//! Secrets (password hash, TOTP secret) are written by [`crate::signin`], [`crate::mfa`] and
//! [`crate::reset`], as the service role.

use chrono::{DateTime, Utc};
use tokio_postgres::{GenericClient, Row};

use crate::role::{Role, UnknownRole};

/// A user as listed to admins and shown to themselves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    /// None for a platform operator.
    pub landlord_id: Option<String>,
    pub email: String,
    pub display_name: String,
    /// operator, landlord_admin, housing_officer, contractor or auditor.
    #[serde(serialize_with = "role_name")]
    #[schema(value_type = String)]
    pub role: Role,
    pub mfa_enabled: bool,
    pub password_set: bool,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_lockout_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn role_name<S: serde::Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.as_str())
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub landlord_id: Option<String>,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0:?} is not an e-mail address")]
    BadEmail(String),
    #[error("a display name is needed (1 to 200 characters)")]
    BadName,
    #[error("an operator belongs to no landlord, every other role to one")]
    RoleAndLandlord,
    #[error("a user with e-mail {0} already exists")]
    EmailTaken(String),
    #[error("no landlord {0:?}")]
    UnknownLandlord(String),
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Role(#[from] UnknownRole),
    #[error("database error")]
    Db(#[from] tokio_postgres::Error),
}

pub(crate) const COLUMNS: &str = "id, landlord_id, email, display_name, role, mfa_enabled,
    password_changed_at IS NOT NULL AS password_set, locked_until, last_lockout_at, disabled_at, created_at";

pub(crate) fn from_row(row: &Row) -> Result<User, UserError> {
    Ok(User {
        id: row.get("id"),
        landlord_id: row.get("landlord_id"),
        email: row.get("email"),
        display_name: row.get("display_name"),
        role: row.get::<_, String>("role").parse()?,
        mfa_enabled: row.get("mfa_enabled"),
        password_set: row.get("password_set"),
        locked_until: row.get("locked_until"),
        last_lockout_at: row.get("last_lockout_at"),
        disabled_at: row.get("disabled_at"),
        created_at: row.get("created_at"),
    })
}

/// The stored form of an e-mail address: trimmed, lower case. E-mail local parts are in
/// principle case-sensitive, but no provider a landlord uses treats them so, and two accounts
/// differing only by case would be a trap.
pub fn normalise_email(email: &str) -> Result<String, UserError> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(e)
    } else {
        Err(UserError::BadEmail(email.to_owned()))
    }
}

pub async fn create(client: &impl GenericClient, new: &NewUser) -> Result<User, UserError> {
    let email = normalise_email(&new.email)?;
    let name = new.display_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(UserError::BadName);
    }
    if new.role.belongs_to_landlord() != new.landlord_id.is_some() {
        return Err(UserError::RoleAndLandlord);
    }
    let sql = format!(
        "INSERT INTO users (landlord_id, email, display_name, role) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    );
    match client.query_one(&sql, &[&new.landlord_id, &email, &name, &new.role.as_str()]).await {
        Ok(row) => from_row(&row),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
            Err(UserError::EmailTaken(email))
        }
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) => {
            Err(UserError::UnknownLandlord(new.landlord_id.clone().unwrap_or_default()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Users, of one landlord or (None) all; in a tenant transaction only that landlord's anyway.
pub async fn list(client: &impl GenericClient, landlord_id: Option<&str>) -> Result<Vec<User>, UserError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE ($1::text IS NULL OR landlord_id = $1) ORDER BY landlord_id NULLS FIRST, email"
    );
    client.query(&sql, &[&landlord_id]).await?.iter().map(from_row).collect()
}

pub async fn get(client: &impl GenericClient, id: i64) -> Result<User, UserError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = client.query_opt(&sql, &[&id]).await?.ok_or(UserError::NotFound)?;
    from_row(&row)
}

pub async fn find_by_email(client: &impl GenericClient, email: &str) -> Result<User, UserError> {
    let email = normalise_email(email)?;
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    let row = client.query_opt(&sql, &[&email]).await?.ok_or(UserError::NotFound)?;
    from_row(&row)
}

/// Changes a user's role; their sessions end (the database does it), so the new rights apply
/// from their next sign-in.
pub async fn set_role(client: &impl GenericClient, id: i64, role: Role) -> Result<User, UserError> {
    let current = get(client, id).await?;
    if role.belongs_to_landlord() != current.landlord_id.is_some() {
        return Err(UserError::RoleAndLandlord);
    }
    let sql = format!("UPDATE users SET role = $2 WHERE id = $1 RETURNING {COLUMNS}");
    let row = client.query_opt(&sql, &[&id, &role.as_str()]).await?.ok_or(UserError::NotFound)?;
    from_row(&row)
}

/// Disables (or, with `None`, re-enables) a user; a disabled user's sessions end at once.
pub async fn set_disabled(
    client: &impl GenericClient,
    id: i64,
    at: Option<DateTime<Utc>>,
) -> Result<User, UserError> {
    let sql = format!("UPDATE users SET disabled_at = $2 WHERE id = $1 RETURNING {COLUMNS}");
    let row = client.query_opt(&sql, &[&id, &at]).await?.ok_or(UserError::NotFound)?;
    from_row(&row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_normalised_and_checked() {
        assert_eq!(normalise_email("  Officer@Example-Homes.ORG ").unwrap(), "officer@example-homes.org");
        for bad in ["", "no-at-sign", "@example.org", "a@nodot", "a b@example.org", "a@example.org."] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
    }
}
