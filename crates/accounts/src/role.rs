//! Roles and what each may do: the permission matrix, as data the code enforces and the docs
//! print (`docs/security/roles.md` is checked against [`MATRIX`] by a test).
//!
//! Least privilege: each role gets only what its job needs. Landlord isolation is not decided
//! here: PostgreSQL row-level security confines every request to its landlord's rows, and these
//! permissions sit on top of it.

use std::fmt;
use std::str::FromStr;

/// A person's role. Every user has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Runs the platform (landlords, operators); sees no landlord's data by default.
    Operator,
    /// Manages the landlord's users, API keys, OAuth clients, webhooks and policy.
    LandlordAdmin,
    /// Works alerts, triage, cases and their events; reads devices.
    HousingOfficer,
    /// Sees only the cases assigned to them and records works on them.
    Contractor,
    /// Reads everything of the landlord, including the audit log; changes nothing.
    Auditor,
}

/// Something a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    ReadAlerts,
    TriageAlerts,
    /// Read cases (for a contractor: only those assigned to them, enforced by the database).
    ReadCases,
    /// Record any case event.
    RecordCaseEvents,
    /// Record the works events of a case (works started and completed).
    RecordWorks,
    AssignCases,
    ReadSla,
    ReadDevices,
    ReadWebhookLog,
    ManageUsers,
    ManageApiKeys,
    ManageWebhooks,
    ReadAuditLog,
    /// Download a case's sealed evidence pack (its readings as signed, events, deadlines).
    ExportEvidence,
    /// Platform administration: landlords and operators.
    ManagePlatform,
}

impl Role {
    pub const ALL: [Role; 5] =
        [Role::Operator, Role::LandlordAdmin, Role::HousingOfficer, Role::Contractor, Role::Auditor];

    /// The name stored in the database and used in the CLI and API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::LandlordAdmin => "landlord_admin",
            Role::HousingOfficer => "housing_officer",
            Role::Contractor => "contractor",
            Role::Auditor => "auditor",
        }
    }

    /// Whether this role must present a second factor to sign in. The two roles that can
    /// change who gets in (users, keys, clients, landlords) must; for the others it is optional.
    pub fn requires_mfa(self) -> bool {
        matches!(self, Role::Operator | Role::LandlordAdmin)
    }

    /// Whether users of this role belong to a landlord (all but operators).
    pub fn belongs_to_landlord(self) -> bool {
        self != Role::Operator
    }

    pub fn allows(self, permission: Permission) -> bool {
        MATRIX.iter().any(|(role, granted)| *role == self && granted.contains(&permission))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected operator, landlord_admin, housing_officer, contractor or auditor")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

impl Permission {
    pub const ALL: [Permission; 15] = [
        Permission::ReadAlerts,
        Permission::TriageAlerts,
        Permission::ReadCases,
        Permission::RecordCaseEvents,
        Permission::RecordWorks,
        Permission::AssignCases,
        Permission::ReadSla,
        Permission::ReadDevices,
        Permission::ReadWebhookLog,
        Permission::ManageUsers,
        Permission::ManageApiKeys,
        Permission::ManageWebhooks,
        Permission::ReadAuditLog,
        Permission::ExportEvidence,
        Permission::ManagePlatform,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ReadAlerts => "read_alerts",
            Permission::TriageAlerts => "triage_alerts",
            Permission::ReadCases => "read_cases",
            Permission::RecordCaseEvents => "record_case_events",
            Permission::RecordWorks => "record_works",
            Permission::AssignCases => "assign_cases",
            Permission::ReadSla => "read_sla",
            Permission::ReadDevices => "read_devices",
            Permission::ReadWebhookLog => "read_webhook_log",
            Permission::ManageUsers => "manage_users",
            Permission::ManageApiKeys => "manage_api_keys",
            Permission::ManageWebhooks => "manage_webhooks",
            Permission::ReadAuditLog => "read_audit_log",
            Permission::ExportEvidence => "export_evidence",
            Permission::ManagePlatform => "manage_platform",
        }
    }

    /// Whether the permission only reads (what an API key with the `read` scope may do).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Permission::ReadAlerts
                | Permission::ReadCases
                | Permission::ReadSla
                | Permission::ReadDevices
                | Permission::ReadWebhookLog
                | Permission::ReadAuditLog
                | Permission::ExportEvidence
        )
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use Permission::*;

/// The permission matrix. A permission not listed for a role is refused.
pub const MATRIX: &[(Role, &[Permission])] = &[
    (Role::Operator, &[ManagePlatform]),
    (
        Role::LandlordAdmin,
        &[
            ReadAlerts,
            ReadCases,
            ReadSla,
            ReadDevices,
            ReadWebhookLog,
            ManageUsers,
            ManageApiKeys,
            ManageWebhooks,
            ReadAuditLog,
            ExportEvidence,
        ],
    ),
    (
        Role::HousingOfficer,
        &[
            ReadAlerts,
            TriageAlerts,
            ReadCases,
            RecordCaseEvents,
            RecordWorks,
            AssignCases,
            ReadSla,
            ReadDevices,
            ReadWebhookLog,
            ExportEvidence,
        ],
    ),
    (Role::Contractor, &[ReadCases, RecordWorks]),
    (
        Role::Auditor,
        &[ReadAlerts, ReadCases, ReadSla, ReadDevices, ReadWebhookLog, ReadAuditLog, ExportEvidence],
    ),
];

/// The matrix as a Markdown table (roles across, permissions down), as the docs show it.
pub fn matrix_markdown() -> String {
    let mut out = String::from("| permission |");
    for role in Role::ALL {
        out.push_str(&format!(" `{role}` |"));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    for permission in Permission::ALL {
        out.push_str(&format!("| `{permission}` |"));
        for role in Role::ALL {
            out.push_str(if role.allows(permission) { " yes |" } else { " |" });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn every_role_has_one_row_and_every_permission_is_granted_to_someone() {
        for role in Role::ALL {
            assert_eq!(MATRIX.iter().filter(|(r, _)| *r == role).count(), 1, "{role}");
        }
        for permission in Permission::ALL {
            assert!(Role::ALL.iter().any(|r| r.allows(permission)), "{permission} granted to nobody");
        }
    }

    #[test]
    fn least_privilege_holds_where_the_roles_differ() {
        assert!(!Role::Operator.allows(ReadCases), "operators see no landlord data by default");
        assert!(!Role::HousingOfficer.allows(ManageUsers));
        assert!(!Role::Contractor.allows(ReadAlerts));
        assert!(!Role::Contractor.allows(RecordCaseEvents));
        assert!(Role::ALL.iter().all(|r| !r.allows(ManageUsers) || r.requires_mfa()));
        for permission in Permission::ALL {
            if Role::Auditor.allows(permission) {
                assert!(permission.is_read(), "auditors only read: {permission}");
            }
        }
    }

    #[test]
    fn the_documented_matrix_is_the_enforced_one() {
        let doc = include_str!("../../../docs/security/roles.md");
        assert!(
            doc.contains(&matrix_markdown()),
            "docs/security/roles.md must contain the matrix exactly as enforced:\n{}",
            matrix_markdown()
        );
    }
}
