//! Rust enums for the PostgreSQL enum types of the schema.
//!
//! Each maps to its type in [`crate::schema::sql_types`] with diesel-derive-enum; the
//! database labels and the serde names are the variant names in snake_case
//! (`InProgress` is `'in_progress'` and `"in_progress"`). [`MemberRole`] lives in
//! [`crate::tenant`] and is re-exported here.

use serde::{Deserialize, Serialize};

pub use crate::tenant::MemberRole;

macro_rules! pg_enums {
    ($(
        $(#[$doc:meta])*
        $name:ident => $sql:literal { $($(#[$vdoc:meta])* $variant:ident = $label:literal),+ $(,)? }
    )+) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, diesel_derive_enum::DbEnum)]
        #[ExistingTypePath = $sql]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every variant, in the order of the PostgreSQL type.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The label in the database (and the serde name).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $label),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}

pg_enums! {
    /// `embedding_kind`: which embedding table a row of `embedding_counts` counts.
    EmbeddingKind => "crate::schema::sql_types::EmbeddingKind" {
        /// `document_embeddings`.
        Documents = "documents",
        /// `deal_activity_embeddings`.
        Deals = "deals",
        /// `meeting_embeddings`.
        Meetings = "meetings",
    }

    /// `job_state`: where a job of `jobs` is in its life (a done job is deleted).
    JobState => "crate::schema::sql_types::JobState" {
        /// Waiting to be claimed once `next_attempt_at` has come.
        Ready = "ready",
        /// Claimed by a worker, under a lease.
        Running = "running",
        /// Out of attempts: a dead letter, until requeued.
        Dead = "dead",
    }

    /// `tenant_status`: whether a tenant may be used.
    TenantStatus => "crate::schema::sql_types::TenantStatus" {
        /// In use.
        Active = "active",
        /// Temporarily blocked (billing, abuse); its look-ups do not resolve.
        Suspended = "suspended",
        /// Closed for good.
        Closed = "closed",
    }

    /// `tenant_plan`: the tenant's billing plan.
    TenantPlan => "crate::schema::sql_types::TenantPlan" {
        /// Free tier.
        Free = "free",
        /// Starter plan.
        Starter = "starter",
        /// Pro plan.
        Pro = "pro",
        /// Enterprise plan.
        Enterprise = "enterprise",
    }

    /// `user_status`: whether a user may sign in.
    UserStatus => "crate::schema::sql_types::UserStatus" {
        /// May sign in.
        Active = "active",
        /// Blocked; their sessions no longer resolve.
        Suspended = "suspended",
    }

    /// `document_type`: what kind of document.
    DocumentType => "crate::schema::sql_types::DocumentType" {
        /// Written in the application.
        Note = "note",
        /// An uploaded PDF.
        Pdf = "pdf",
        /// A captured web page.
        WebPage = "web_page",
        /// A spreadsheet.
        Spreadsheet = "spreadsheet",
        /// Anything else.
        Other = "other",
    }

    /// `document_status`: where a document is in text extraction and embedding.
    DocumentStatus => "crate::schema::sql_types::DocumentStatus" {
        /// Waiting to be processed.
        Pending = "pending",
        /// Being processed.
        Processing = "processing",
        /// Processed and searchable.
        Ready = "ready",
        /// Processing failed; see `processing_error`.
        Failed = "failed",
    }

    /// `deal_stage`: a deal's pipeline stage.
    DealStage => "crate::schema::sql_types::DealStage" {
        /// A new lead.
        Lead = "lead",
        /// Qualified.
        Qualified = "qualified",
        /// A proposal was sent.
        Proposal = "proposal",
        /// In negotiation.
        Negotiation = "negotiation",
        /// Won (closed).
        Won = "won",
        /// Lost (closed).
        Lost = "lost",
    }

    /// `deal_activity_kind`: what kind of deal activity.
    DealActivityKind => "crate::schema::sql_types::DealActivityKind" {
        /// A note.
        Note = "note",
        /// A phone call.
        Call = "call",
        /// An e-mail.
        Email = "email",
        /// A meeting.
        Meeting = "meeting",
        /// A task.
        Task = "task",
    }

    /// `meeting_status`: where a meeting is in its life.
    MeetingStatus => "crate::schema::sql_types::MeetingStatus" {
        /// Planned.
        Scheduled = "scheduled",
        /// Happening now.
        InProgress = "in_progress",
        /// Over.
        Completed = "completed",
        /// Called off.
        Cancelled = "cancelled",
    }

    /// `attendance_status`: a participant's answer before a meeting, or presence after it.
    AttendanceStatus => "crate::schema::sql_types::AttendanceStatus" {
        /// Invited, no answer yet.
        Invited = "invited",
        /// Accepted the invitation.
        Accepted = "accepted",
        /// Declined the invitation.
        Declined = "declined",
        /// Tentatively accepted.
        Tentative = "tentative",
        /// Was there.
        Attended = "attended",
        /// Was not there.
        Absent = "absent",
    }

    /// `task_status`: where a task is.
    TaskStatus => "crate::schema::sql_types::TaskStatus" {
        /// Not started.
        Todo = "todo",
        /// Being worked on.
        InProgress = "in_progress",
        /// Finished.
        Done = "done",
        /// Dropped.
        Cancelled = "cancelled",
    }

    /// `task_priority`: how urgent a task is.
    TaskPriority => "crate::schema::sql_types::TaskPriority" {
        /// Low.
        Low = "low",
        /// Medium (the default).
        Medium = "medium",
        /// High.
        High = "high",
        /// Urgent.
        Urgent = "urgent",
    }

    /// `job_status`: the state of an automation run or an AI employee job.
    JobStatus => "crate::schema::sql_types::JobStatus" {
        /// Waiting for `next_attempt_at`.
        Queued = "queued",
        /// Claimed by a worker.
        Running = "running",
        /// Done.
        Succeeded = "succeeded",
        /// The last attempt failed; another is scheduled at `next_attempt_at`.
        Failed = "failed",
        /// Failed with no attempts left; needs a human.
        Dead = "dead",
    }

    /// `hub_entity_type`: the table a hub link end points into.
    HubEntityType => "crate::schema::sql_types::HubEntityType" {
        /// `documents`.
        Document = "document",
        /// `contacts`.
        Contact = "contact",
        /// `companies`.
        Company = "company",
        /// `deals`.
        Deal = "deal",
        /// `deal_activities`.
        DealActivity = "deal_activity",
        /// `meetings`.
        Meeting = "meeting",
        /// `tasks`.
        Task = "task",
        /// `automations`.
        Automation = "automation",
        /// `files`.
        File = "file",
    }

    /// `integration_status`: the state of an integration.
    IntegrationStatus => "crate::schema::sql_types::IntegrationStatus" {
        /// Created, not yet authorised.
        Pending = "pending",
        /// Working.
        Active = "active",
        /// Failing; see `last_error`.
        Error = "error",
        /// Turned off.
        Disabled = "disabled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labels of every `CREATE TYPE name AS ENUM (...)` in the migrations.
    fn migration_enums() -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut dirs: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        dirs.sort();
        for d in dirs {
            let sql = std::fs::read_to_string(d.join("up.sql")).unwrap_or_default();
            let mut rest = sql.as_str();
            while let Some(at) = rest.find("CREATE TYPE ") {
                rest = &rest[at + "CREATE TYPE ".len()..];
                let name: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                let open = rest.find('(').unwrap_or(0);
                let close = rest.find(')').unwrap_or(0);
                let labels = rest[open + 1..close]
                    .split(',')
                    .map(|l| l.trim().trim_matches('\'').to_owned())
                    .collect();
                out.push((name, labels));
            }
        }
        out
    }

    fn labels<T: Serialize>(all: &[T]) -> Vec<String> {
        all.iter()
            .map(|v| {
                serde_json::to_value(v)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn rust_enums_match_the_migrations_and_serde() {
        let expected: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
            (
                "tenant_status",
                labels(TenantStatus::ALL),
                TenantStatus::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "tenant_plan",
                labels(TenantPlan::ALL),
                TenantPlan::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "user_status",
                labels(UserStatus::ALL),
                UserStatus::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "document_type",
                labels(DocumentType::ALL),
                DocumentType::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "document_status",
                labels(DocumentStatus::ALL),
                DocumentStatus::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "deal_stage",
                labels(DealStage::ALL),
                DealStage::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "deal_activity_kind",
                labels(DealActivityKind::ALL),
                DealActivityKind::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "meeting_status",
                labels(MeetingStatus::ALL),
                MeetingStatus::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "attendance_status",
                labels(AttendanceStatus::ALL),
                AttendanceStatus::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "task_status",
                labels(TaskStatus::ALL),
                TaskStatus::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "task_priority",
                labels(TaskPriority::ALL),
                TaskPriority::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "job_status",
                labels(JobStatus::ALL),
                JobStatus::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "hub_entity_type",
                labels(HubEntityType::ALL),
                HubEntityType::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "integration_status",
                labels(IntegrationStatus::ALL),
                IntegrationStatus::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "embedding_kind",
                labels(EmbeddingKind::ALL),
                EmbeddingKind::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "job_state",
                labels(JobState::ALL),
                JobState::ALL.iter().map(|v| v.as_str()).collect(),
            ),
        ];
        let mut migrations = migration_enums();
        // member_role is MemberRole in crate::tenant.
        migrations.retain(|(name, _)| name != "member_role");
        assert_eq!(
            migrations.len(),
            expected.len(),
            "every enum type has a Rust enum"
        );
        for (name, serde_labels, db_labels) in expected {
            let (_, sql) = migrations
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("{name} is not in the migrations"));
            assert_eq!(&serde_labels, sql, "serde names of {name}");
            assert_eq!(&db_labels, sql, "database labels of {name}");
        }
    }
}
