//! Demo data: three tenants with rows in every table, written the way an application
//! writes them.
//!
//! [`demo`] creates the tenants `acme` (Acme Logistics, enterprise, the largest),
//! `globex` (Globex Energy, pro) and `initech` (Initech, starter, the smallest) through
//! [`AdminPool::as_admin`], then writes each tenant's rows *acting as that tenant*
//! through [`TenantPool::with_tenant`], so the RLS `WITH CHECK` of every table proves
//! each row lands in the tenant it was written for. Every table gets rows: users with
//! all four roles, sessions and invites (SHA-256 hashes of the known
//! [`DEMO_SESSION_TOKENS`] and [`DEMO_INVITE_TOKENS`]), CRM companies, contacts and
//! deals across stages with their activities, documents, meetings with participants,
//! transcripts and summaries, embeddings of document chunks, deal activities and
//! meeting transcripts (from all-MiniLM-L6-v2, [`crate::embedder`]), tasks, automations and their runs,
//! AI employee jobs and outputs, hub links, integrations, events, queued jobs, notifications,
//! files and the audit log. Each tenant's text is about its own business, so the same
//! search gives each tenant different results.
//!
//! # Idempotence
//!
//! Running [`demo`] any number of times leaves exactly the same rows:
//! - every id is deterministic, [`demo_id`]: a UUID v8 made of the first 16 bytes of
//!   `SHA-256("rowguard-demo-seed/v1" ‖ tenant slug ‖ table ‖ natural key)` (the
//!   name-based construction RFC 9562 shows for v8), so a row's id never changes;
//! - every row is inserted with `INSERT ... ON CONFLICT DO NOTHING`, so a row that is
//!   already there is left exactly as it is (timestamps included) and is not counted in
//!   [`SeedReport::rows_written`];
//! - each tenant's rows are written in one transaction, so an interrupted seed leaves
//!   a tenant either complete or empty, and the next run completes it.
//!
//! A `tenants` row whose slug is taken by a tenant with a different id (a real tenant
//! called `acme`, say) stops the seed with [`Error::InvalidInput`]: demo rows are never
//! written into a tenant the seed did not create.
//!
//! The demo tokens are public: never seed a production database.

mod content;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use content::DemoToken;
use content::TenantSpec;

use rowguard::embed::Embedder;
use rowguard::error::{Error, Result};
use rowguard::models::{AttendanceStatus, DealStage, DocumentStatus};
use rowguard::models::{
    HubEntityType, IntegrationStatus, JobStatus, MeetingStatus, MemberRole, NewAiEmployeeJob,
    NewAiEmployeeOutput, NewAuditLogEntry, NewAutomation, NewAutomationRun, NewCompany, NewContact,
    NewDeal, NewDealActivity, NewDealActivityEmbedding, NewDocument, NewDocumentEmbedding,
    NewEvent, NewFile, NewHubLink, NewIntegration, NewInvite, NewJob, NewMeeting,
    NewMeetingEmbedding, NewMeetingParticipant, NewMeetingSummary, NewNotification, NewSession,
    NewTask, NewTenant, NewTranscript, NewUser, TaskStatus, TenantPlan, TenantStatus, UserStatus,
};
use rowguard::pool::{AdminPool, TenantPool};
use rowguard::schema;
use rowguard::tenant::{TenantConn, TenantContext, TenantId, UserId};

/// The namespace every demo id is derived from; changing it changes every id.
pub const DEMO_ID_NAMESPACE: &str = "rowguard-demo-seed/v1";

/// Session tokens of demo users (at least the owner of each tenant). Each resolves with
/// `rowguard::auth::resolve_session` to its tenant, user and role for a year after seeding.
pub const DEMO_SESSION_TOKENS: &[DemoToken] = content::SESSION_TOKENS;

/// Tokens of pending demo invites, one per tenant; each resolves with
/// `rowguard::auth::accept_invite` for two weeks after seeding.
pub const DEMO_INVITE_TOKENS: &[DemoToken] = content::INVITE_TOKENS;

/// The slugs of the demo tenants, largest first.
pub const DEMO_TENANT_SLUGS: &[&str] = &["acme", "globex", "initech"];

/// What [`demo`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedReport {
    /// The demo tenants, largest first.
    pub tenants: Vec<SeededTenant>,
    /// Rows inserted by this run, over every table; 0 when everything was already there.
    pub rows_written: u64,
}

/// One demo tenant and the rows the seed guarantees it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeededTenant {
    /// The tenant's id (deterministic: [`demo_id`]`(slug, "tenants", slug)`).
    pub id: TenantId,
    /// Its slug (`acme`, `globex`, `initech`).
    pub slug: String,
    /// Its display name.
    pub name: String,
    /// Its plan.
    pub plan: TenantPlan,
    /// Rows this run inserted for this tenant (its `tenants` row included).
    pub rows_written: u64,
    /// Every row of the seed for this tenant, by table name, whether this run inserted
    /// it or found it: `row_ids["deals"]` are the ids of the tenant's demo deals.
    pub row_ids: BTreeMap<String, Vec<uuid::Uuid>>,
}

impl SeededTenant {
    /// A context acting for this tenant as a whole (no user).
    pub fn context(&self) -> TenantContext {
        TenantContext::new(self.id)
    }

    /// The ids of this tenant's demo rows in `table` (empty for an unknown table).
    pub fn ids(&self, table: &str) -> &[Uuid] {
        self.row_ids.get(table).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The deterministic id of the demo row of `table` with natural key `key` in tenant
/// `tenant_slug`: a UUID v8 holding the first 16 bytes of
/// `SHA-256(DEMO_ID_NAMESPACE ‖ 0 ‖ slug ‖ 0 ‖ table ‖ 0 ‖ key)`.
///
/// ```
/// use rowguard_testkit::seed::demo_id;
/// let a = demo_id("acme", "users", "dana.whitfield@acme-logistics.example");
/// assert_eq!(a, demo_id("acme", "users", "dana.whitfield@acme-logistics.example"));
/// assert_ne!(a, demo_id("globex", "users", "dana.whitfield@acme-logistics.example"));
/// assert_eq!(a.get_version_num(), 8);
/// ```
pub fn demo_id(tenant_slug: &str, table: &str, key: &str) -> Uuid {
    let mut hasher = Sha256::new();
    for part in [DEMO_ID_NAMESPACE, tenant_slug, table, key] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// SHA-256 of `data`, as stored in `sessions.token_hash`, `invites.token_hash` and
/// `files.sha256` (the look-up functions hash the UTF-8 token the same way).
pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// Seeds the demo tenants; see the [module documentation](self). Idempotent.
///
/// `admin` creates the tenants (as `rowguard_admin`); `pool` writes their rows, acting
/// as each tenant.
///
/// # Errors
/// [`Error::InvalidInput`] when a demo slug belongs to a tenant the seed did not
/// create; database errors as classified by [`rowguard::Error`] (for example
/// [`Error::Forbidden`] when the admin login may not act as `rowguard_admin`).
pub async fn demo(pool: &TenantPool, admin: &AdminPool) -> Result<SeedReport> {
    let specs = content::tenants();
    let embedder = crate::embedder()?;
    let now = Utc::now();
    let mut report = SeedReport {
        tenants: Vec::with_capacity(specs.len()),
        rows_written: 0,
    };
    for spec in &specs {
        let tenant_id = demo_id(spec.slug, "tenants", spec.slug);
        let created = create_tenant(admin, spec, tenant_id).await?;
        let ctx = TenantContext::new(TenantId::from_uuid(tenant_id));
        let mut rows = pool
            .with_tenant(&ctx, async |conn| {
                let mut w = Writer::new(spec.slug, tenant_id, now);
                w.write_all(conn, spec, &embedder).await?;
                Ok(w)
            })
            .await?;
        rows.ids
            .entry("tenants".to_owned())
            .or_default()
            .push(tenant_id);
        rows.written += created;
        report.rows_written += rows.written;
        report.tenants.push(SeededTenant {
            id: TenantId::from_uuid(tenant_id),
            slug: spec.slug.to_owned(),
            name: spec.name.to_owned(),
            plan: spec.plan,
            rows_written: rows.written,
            row_ids: rows.ids,
        });
    }
    Ok(report)
}

/// Inserts the tenant row as `rowguard_admin` unless it exists, and checks that the
/// slug is the seed's own tenant. Returns the rows inserted (0 or 1).
async fn create_tenant(admin: &AdminPool, spec: &TenantSpec, id: Uuid) -> Result<u64> {
    admin
        .as_admin("rowguard seed demo: create demo tenant", async |conn| {
            let new = NewTenant {
                id: TenantId::from(id),
                slug: spec.slug.to_owned(),
                name: spec.name.to_owned(),
                status: Some(TenantStatus::Active),
                plan: Some(spec.plan),
                settings: Some(spec.settings.clone()),
            };
            let n = diesel::insert_into(schema::tenants::table)
                .values(new)
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            let owner: Uuid = schema::tenants::table
                .filter(schema::tenants::slug.eq(spec.slug))
                .select(schema::tenants::id)
                .first(conn)
                .await?;
            if owner != id {
                return Err(Error::InvalidInput(format!(
                "tenant slug {:?} belongs to tenant {owner}, which the demo seed did not create; \
                 refusing to write demo rows into it",
                spec.slug
            )));
            }
            // Domains are written by the admin path only; the demo's are verified (with
            // tokens nobody holds) and the first is primary.
            let mut written = n as u64;
            for (i, host) in spec.domains.iter().enumerate() {
                let token_hash = Sha256::digest(format!("{DEMO_ID_NAMESPACE}/domain/{host}"));
                written += diesel::insert_into(schema::domains::table)
                    .values((
                        schema::domains::tenant_id.eq(id),
                        schema::domains::id.eq(demo_id(spec.slug, "domains", host)),
                        schema::domains::host.eq(*host),
                        schema::domains::verification_token_hash.eq(token_hash.to_vec()),
                        schema::domains::verified_at.eq(diesel::dsl::now),
                        schema::domains::is_primary.eq(i == 0),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await? as u64;
            }
            Ok(written)
        })
        .await
}

/// Inserts `rows` into `table` with `ON CONFLICT DO NOTHING`, recording their ids and
/// counting the rows actually inserted.
macro_rules! put {
    ($w:expr, $conn:expr, $table:ident, $rows:expr) => {{
        let rows: Vec<_> = $rows;
        if !rows.is_empty() {
            let ids = $w.ids.entry(stringify!($table).to_owned()).or_default();
            ids.extend(rows.iter().map(|r| Uuid::from(r.id)));
            // The rows carry no tenant: each is inserted for the connection's tenant.
            let tenant = $conn.context().tenant_id;
            let rows: Vec<_> = rows
                .into_iter()
                .map(|r| (schema::$table::tenant_id.eq(tenant), r))
                .collect();
            let n = diesel::insert_into(schema::$table::table)
                .values(rows)
                .on_conflict_do_nothing()
                .execute(&mut *$conn)
                .await?;
            $w.written += n as u64;
        }
    }};
}

/// Builds and writes one tenant's rows.
struct Writer<'s> {
    slug: &'s str,
    tenant: Uuid,
    now: DateTime<Utc>,
    midnight: DateTime<Utc>,
    written: u64,
    ids: BTreeMap<String, Vec<Uuid>>,
}

/// A chunk of text for an embedding table: (parent id, chunk index, text).
type Chunk = (Uuid, i32, String);

impl<'s> Writer<'s> {
    fn new(slug: &'s str, tenant: Uuid, now: DateTime<Utc>) -> Self {
        Self {
            slug,
            tenant,
            now,
            midnight: now.date_naive().and_time(NaiveTime::MIN).and_utc(),
            written: 0,
            ids: BTreeMap::new(),
        }
    }

    fn id(&self, table: &str, key: &str) -> Uuid {
        demo_id(self.slug, table, key)
    }

    fn user(&self, email: &str) -> UserId {
        UserId::from(self.id("users", email))
    }

    fn days(&self, days: i64) -> DateTime<Utc> {
        self.now + Duration::days(days)
    }

    /// `hour` o'clock UTC, `day` days from today.
    fn at(&self, day: i64, hour: i64) -> DateTime<Utc> {
        self.midnight + Duration::days(day) + Duration::hours(hour)
    }

    async fn write_all(
        &mut self,
        conn: &mut TenantConn,
        spec: &TenantSpec,
        embedder: &dyn Embedder,
    ) -> Result<()> {
        let t = self.tenant;
        let owner = spec
            .users
            .iter()
            .find(|u| u.role == MemberRole::Owner)
            .ok_or_else(|| {
                Error::InvalidInput(format!("demo tenant {} has no owner", spec.slug))
            })?;
        let owner_id = self.user(owner.email);

        // tenants group: users, sessions, invites.
        let users: Vec<NewUser> = spec
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| NewUser {
                id: self.user(u.email),
                email: u.email.to_owned(),
                display_name: u.name.to_owned(),
                role: Some(u.role),
                status: Some(if u.suspended {
                    UserStatus::Suspended
                } else {
                    UserStatus::Active
                }),
                last_seen_at: Some(self.now - Duration::hours(3 * i as i64 + 1)),
            })
            .collect();
        put!(self, conn, users, users);

        let mut sessions: Vec<NewSession> = DEMO_SESSION_TOKENS
            .iter()
            .filter(|s| s.tenant_slug == spec.slug)
            .map(|s| NewSession {
                id: self.id("sessions", s.token),
                user_id: self.user(s.email),
                token_hash: sha256(s.token.as_bytes()),
                expires_at: self.days(365),
                revoked_at: None,
                user_agent: Some(
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) rowguard-demo".into(),
                ),
                last_used_at: Some(self.now - Duration::minutes(20)),
            })
            .collect();
        let revoked = format!("rg_demo_session_{}_revoked", spec.slug);
        let last_user = spec.users.last().map(|u| u.email).unwrap_or(owner.email);
        sessions.push(NewSession {
            id: self.id("sessions", &revoked),
            user_id: self.user(last_user),
            token_hash: sha256(revoked.as_bytes()),
            expires_at: self.days(20),
            revoked_at: Some(self.days(-2)),
            user_agent: Some("rowguard-demo-cli/1.0".into()),
            last_used_at: Some(self.days(-3)),
        });
        put!(self, conn, sessions, sessions);

        let mut invites: Vec<NewInvite> = DEMO_INVITE_TOKENS
            .iter()
            .filter(|i| i.tenant_slug == spec.slug)
            .map(|i| NewInvite {
                id: self.id("invites", i.token),
                email: i.email.to_owned(),
                role: Some(i.role),
                token_hash: sha256(i.token.as_bytes()),
                invited_by: Some(owner_id),
                expires_at: self.days(14),
                accepted_at: None,
            })
            .collect();
        // The invite an existing member accepted when joining.
        if let Some(member) = spec.users.iter().find(|u| u.role == MemberRole::Member) {
            let token = format!("rg_demo_invite_{}_accepted", spec.slug);
            invites.push(NewInvite {
                id: self.id("invites", &token),
                email: member.email.to_owned(),
                role: Some(MemberRole::Member),
                token_hash: sha256(token.as_bytes()),
                invited_by: Some(owner_id),
                expires_at: self.days(-16),
                accepted_at: Some(self.days(-28)),
            });
        }
        put!(self, conn, invites, invites);

        // crm group.
        let companies: Vec<NewCompany> = spec
            .companies
            .iter()
            .map(|c| NewCompany {
                id: self.id("companies", c.name),
                name: c.name.to_owned(),
                domain: Some(c.domain.to_owned()),
                industry: Some(c.industry.to_owned()),
                owner_id: Some(self.user(c.owner)),
                notes: Some(c.notes.to_owned()),
            })
            .collect();
        put!(self, conn, companies, companies);

        let contacts: Vec<NewContact> = spec
            .contacts
            .iter()
            .map(|c| NewContact {
                id: self.id("contacts", c.email),
                company_id: Some(self.id("companies", c.company)),
                full_name: c.name.to_owned(),
                email: Some(c.email.to_owned()),
                phone: Some(c.phone.to_owned()),
                job_title: Some(c.title.to_owned()),
                owner_id: spec
                    .companies
                    .iter()
                    .find(|co| co.name == c.company)
                    .map(|co| self.user(co.owner)),
                notes: None,
            })
            .collect();
        put!(self, conn, contacts, contacts);

        let deals: Vec<NewDeal> = spec
            .deals
            .iter()
            .map(|d| {
                let closed = matches!(d.stage, DealStage::Won | DealStage::Lost);
                NewDeal {
                    id: self.id("deals", d.title),
                    title: d.title.to_owned(),
                    stage: Some(d.stage),
                    value_minor: Some(d.value * 100),
                    currency: Some(spec.currency.to_owned()),
                    probability: Some(d.probability),
                    company_id: Some(self.id("companies", d.company)),
                    contact_id: (!d.contact.is_empty()).then(|| self.id("contacts", d.contact)),
                    owner_id: Some(self.user(d.owner)),
                    expected_close_on: Some(self.days(d.close_in_days).date_naive()),
                    closed_at: closed.then(|| self.days(d.close_in_days)),
                }
            })
            .collect();
        put!(self, conn, deals, deals);

        let mut activities = Vec::new();
        let mut activity_chunks: Vec<Chunk> = Vec::new();
        for d in &spec.deals {
            for (i, a) in d.activities.iter().enumerate() {
                let id = self.id("deal_activities", &format!("{}#{i}", d.title));
                activities.push(NewDealActivity {
                    id,
                    deal_id: self.id("deals", d.title),
                    kind: a.kind,
                    subject: Some(a.subject.to_owned()),
                    body: Some(a.body.to_owned()),
                    occurred_at: Some(self.days(-a.days_ago)),
                    actor_id: Some(self.user(a.actor)),
                });
                activity_chunks.push((id, 0, format!("{}. {}", a.subject, a.body)));
            }
        }
        put!(self, conn, deal_activities, activities);
        let rows = embed(embedder, activity_chunks)?
            .into_iter()
            .map(|(parent, index, chunk, vector)| NewDealActivityEmbedding {
                id: self.id("deal_activity_embeddings", &format!("{parent}#{index}")),
                deal_activity_id: parent,
                chunk_index: index,
                chunk,
                model: embedder.model().to_owned(),
                embedding: vector,
            })
            .collect();
        put!(self, conn, deal_activity_embeddings, rows);

        // documents group.
        let documents: Vec<NewDocument> = spec
            .documents
            .iter()
            .map(|d| NewDocument {
                id: self.id("documents", d.title),
                title: d.title.to_owned(),
                doc_type: Some(d.doc_type),
                status: Some(d.status),
                source_url: d.source_url.map(str::to_owned),
                content: Some(d.text.to_owned()),
                processing_error: d.error.map(str::to_owned),
                created_by: Some(self.user(d.author)),
            })
            .collect();
        put!(self, conn, documents, documents);
        let doc_chunks = spec
            .documents
            .iter()
            .filter(|d| d.status == DocumentStatus::Ready)
            .flat_map(|d| {
                let parent = self.id("documents", d.title);
                paragraphs(d.text)
                    .into_iter()
                    .enumerate()
                    .map(move |(i, p)| (parent, i as i32, p))
            })
            .collect();
        let rows = embed(embedder, doc_chunks)?
            .into_iter()
            .map(|(parent, index, chunk, vector)| NewDocumentEmbedding {
                id: self.id("document_embeddings", &format!("{parent}#{index}")),
                document_id: parent,
                chunk_index: index,
                chunk,
                model: embedder.model().to_owned(),
                embedding: vector,
            })
            .collect();
        put!(self, conn, document_embeddings, rows);

        // meetings group.
        let meetings: Vec<NewMeeting> = spec
            .meetings
            .iter()
            .map(|m| {
                let starts = self.at(m.day, m.hour);
                NewMeeting {
                    id: self.id("meetings", m.title),
                    title: m.title.to_owned(),
                    description: Some(m.description.to_owned()),
                    starts_at: starts,
                    ends_at: starts + Duration::minutes(m.minutes),
                    status: Some(m.status),
                    location: Some(m.location.to_owned()),
                    organizer_id: Some(self.user(m.organizer)),
                }
            })
            .collect();
        put!(self, conn, meetings, meetings);

        let mut participants = Vec::new();
        for m in &spec.meetings {
            let meeting_id = self.id("meetings", m.title);
            let attendance = match m.status {
                MeetingStatus::Completed => AttendanceStatus::Attended,
                _ => AttendanceStatus::Accepted,
            };
            for email in &m.attendees {
                let name = spec
                    .users
                    .iter()
                    .find(|u| u.email == *email)
                    .map(|u| u.name)
                    .unwrap_or(email);
                participants.push(NewMeetingParticipant {
                    id: self.id("meeting_participants", &format!("{}#{email}", m.title)),
                    meeting_id,
                    user_id: Some(self.user(email)),
                    contact_id: None,
                    email: Some((*email).to_owned()),
                    display_name: name.to_owned(),
                    attendance: Some(attendance),
                });
            }
            for email in &m.guests {
                let name = spec
                    .contacts
                    .iter()
                    .find(|c| c.email == *email)
                    .map(|c| c.name)
                    .unwrap_or(email);
                participants.push(NewMeetingParticipant {
                    id: self.id("meeting_participants", &format!("{}#{email}", m.title)),
                    meeting_id,
                    user_id: None,
                    contact_id: Some(self.id("contacts", email)),
                    email: Some((*email).to_owned()),
                    display_name: name.to_owned(),
                    attendance: Some(if m.status == MeetingStatus::Completed {
                        AttendanceStatus::Attended
                    } else {
                        AttendanceStatus::Invited
                    }),
                });
            }
        }
        put!(self, conn, meeting_participants, participants);

        let mut transcripts = Vec::new();
        let mut summaries = Vec::new();
        let mut meeting_chunks: Vec<Chunk> = Vec::new();
        for m in &spec.meetings {
            let meeting_id = self.id("meetings", m.title);
            let lines: Vec<String> = m
                .transcript
                .iter()
                .map(|(speaker, words)| format!("{speaker}: {words}"))
                .collect();
            let transcript_id = self.id("transcripts", m.title);
            if !lines.is_empty() {
                let mut start_ms = 0i64;
                let segments: Vec<serde_json::Value> = m
                    .transcript
                    .iter()
                    .map(|(speaker, words)| {
                        // About 150 words a minute.
                        let ms = 400 * words.split_whitespace().count() as i64 + 600;
                        let seg = json!({"speaker": speaker, "start_ms": start_ms, "end_ms": start_ms + ms, "text": words});
                        start_ms += ms;
                        seg
                    })
                    .collect();
                transcripts.push(NewTranscript {
                    id: transcript_id,
                    meeting_id,
                    language: Some("en".into()),
                    content: lines.join("\n"),
                    segments: Some(serde_json::Value::Array(segments)),
                    source: Some("recorder:demo".into()),
                });
                for (i, group) in lines.chunks(3).enumerate() {
                    meeting_chunks.push((meeting_id, i as i32, group.join("\n")));
                }
            } else {
                meeting_chunks.push((meeting_id, 0, format!("{}. {}", m.title, m.description)));
            }
            if let Some(summary) = m.summary {
                let items: Vec<serde_json::Value> = m
                    .action_items
                    .iter()
                    .map(|(text, who, due)| {
                        json!({"text": text, "assignee": who, "due": self.days(*due).date_naive()})
                    })
                    .collect();
                summaries.push(NewMeetingSummary {
                    id: self.id("meeting_summaries", m.title),
                    meeting_id,
                    transcript_id: (!lines.is_empty()).then_some(transcript_id),
                    summary: summary.to_owned(),
                    action_items: Some(serde_json::Value::Array(items)),
                    model: "rowguard-demo-summarizer-v1".into(),
                });
            }
        }
        put!(self, conn, transcripts, transcripts);
        put!(self, conn, meeting_summaries, summaries);
        let rows = embed(embedder, meeting_chunks)?
            .into_iter()
            .map(|(parent, index, chunk, vector)| NewMeetingEmbedding {
                id: self.id("meeting_embeddings", &format!("{parent}#{index}")),
                meeting_id: parent,
                chunk_index: index,
                chunk,
                model: embedder.model().to_owned(),
                embedding: vector,
            })
            .collect();
        put!(self, conn, meeting_embeddings, rows);

        // tasks group.
        let tasks: Vec<NewTask> = spec
            .tasks
            .iter()
            .map(|k| NewTask {
                id: self.id("tasks", k.title),
                title: k.title.to_owned(),
                description: Some(k.description.to_owned()),
                status: Some(k.status),
                priority: Some(k.priority),
                assignee_id: k.assignee.map(|e| self.user(e)),
                due_at: Some(self.at(k.due_in_days, 17)),
                completed_at: (k.status == TaskStatus::Done).then(|| self.at(k.due_in_days, 15)),
                deal_id: k.deal.map(|d| self.id("deals", d)),
                meeting_id: k.meeting.map(|m| self.id("meetings", m)),
                created_by: k.creator.map(|e| self.user(e)),
            })
            .collect();
        put!(self, conn, tasks, tasks);

        // automations group.
        let automations: Vec<NewAutomation> = spec
            .automations
            .iter()
            .map(|a| NewAutomation {
                id: self.id("automations", a.name),
                name: a.name.to_owned(),
                description: Some(a.description.to_owned()),
                trigger: a.trigger.clone(),
                action: a.action.clone(),
                enabled: Some(a.enabled),
                created_by: Some(self.user(a.creator)),
            })
            .collect();
        put!(self, conn, automations, automations);
        let mut runs = Vec::new();
        for a in &spec.automations {
            for (i, status) in a.runs.iter().enumerate() {
                let key = format!("demo:{}:{i}", a.name);
                let started = self.days(-(i as i64) - 1);
                let mut run = NewAutomationRun::builder()
                    .automation_id(self.id("automations", a.name))
                    .idempotency_key(&key)
                    .build();
                run.id = self.id("automation_runs", &key);
                run.status = Some(*status);
                run.input = Some(json!({"trigger": a.trigger, "fired": i}));
                match status {
                    JobStatus::Succeeded => {
                        run.attempts = Some(1);
                        run.started_at = Some(started);
                        run.finished_at = Some(started + Duration::seconds(2));
                        run.output = Some(json!({"ok": true, "action": a.action}));
                    }
                    JobStatus::Failed => {
                        run.attempts = Some(2);
                        run.started_at = Some(started);
                        run.last_error = Some("webhook returned 503 Service Unavailable".into());
                        run.next_attempt_at = Some(self.now + Duration::minutes(15));
                    }
                    JobStatus::Dead => {
                        run.attempts = Some(5);
                        run.started_at = Some(started);
                        run.finished_at = Some(started + Duration::minutes(40));
                        run.last_error =
                            Some("task template refers to a deleted pipeline stage".into());
                    }
                    _ => {
                        run.next_attempt_at = Some(self.now + Duration::minutes(5));
                    }
                }
                runs.push(run);
            }
        }
        put!(self, conn, automation_runs, runs);

        // ai employees group.
        let mut jobs = Vec::new();
        let mut outputs = Vec::new();
        for j in &spec.jobs {
            let id = self.id("ai_employee_jobs", j.key);
            let started = self.now - Duration::hours(2);
            let mut job = NewAiEmployeeJob::builder()
                .kind(j.kind)
                .idempotency_key(format!("demo:{}", j.key))
                .build();
            job.id = id;
            job.input = Some(j.input.clone());
            job.status = Some(j.status);
            job.requested_by = j.requested_by.map(|e| self.user(e));
            job.max_attempts = Some(3);
            job.last_error = j.error.map(str::to_owned);
            match j.status {
                JobStatus::Succeeded => {
                    job.attempts = Some(1);
                    job.started_at = Some(started);
                    job.finished_at = Some(started + Duration::seconds(40));
                }
                JobStatus::Running => {
                    job.attempts = Some(1);
                    job.started_at = Some(self.now - Duration::minutes(1));
                    job.locked_at = job.started_at;
                    job.locked_by = Some("ai-worker-1:4242".into());
                }
                JobStatus::Failed => {
                    job.attempts = Some(1);
                    job.started_at = Some(started);
                    job.next_attempt_at = Some(self.now + Duration::minutes(10));
                }
                JobStatus::Dead => {
                    job.attempts = Some(3);
                    job.started_at = Some(started);
                    job.finished_at = Some(started + Duration::minutes(30));
                }
                JobStatus::Queued => {}
            }
            jobs.push(job);
            if let Some(text) = j.output {
                let mut out = NewAiEmployeeOutput::builder()
                    .job_id(id)
                    .model("rowguard-demo-writer-v1")
                    .build();
                out.id = self.id("ai_employee_outputs", j.key);
                out.content = Some(text.to_owned());
                out.data = Some(json!({"kind": j.kind, "words": text.split_whitespace().count()}));
                out.prompt_tokens = Some(900 + 3 * text.len() as i32 / 10);
                out.completion_tokens = Some(text.len() as i32 / 4);
                outputs.push(out);
            }
        }
        put!(self, conn, ai_employee_jobs, jobs);
        put!(self, conn, ai_employee_outputs, outputs);

        // hub group.
        let mut links = Vec::new();
        let mut link = |from: (HubEntityType, Uuid), to: (HubEntityType, Uuid), label: &str| {
            let key = format!("{}:{}->{}:{}", from.0, from.1, to.0, to.1);
            let mut l = NewHubLink::builder()
                .from_type(from.0)
                .from_id(from.1)
                .to_type(to.0)
                .to_id(to.1)
                .build();
            l.id = demo_id(self.slug, "hub_links", &key);
            l.label = Some(label.to_owned());
            l.created_by = Some(owner_id);
            links.push(l);
        };
        for d in &spec.documents {
            if let Some(deal) = d.related_deal {
                link(
                    (HubEntityType::Document, self.id("documents", d.title)),
                    (HubEntityType::Deal, self.id("deals", deal)),
                    "reference for",
                );
            }
        }
        for m in &spec.meetings {
            if let Some(deal) = m.deal {
                link(
                    (HubEntityType::Meeting, self.id("meetings", m.title)),
                    (HubEntityType::Deal, self.id("deals", deal)),
                    "discussed",
                );
            }
        }
        for f in &spec.files {
            if let Some(company) = f.company {
                link(
                    (HubEntityType::File, self.id("files", f.name)),
                    (HubEntityType::Company, self.id("companies", company)),
                    "attachment of",
                );
            }
        }
        let integrations: Vec<NewIntegration> = spec
            .integrations
            .iter()
            .map(|i| NewIntegration {
                id: self.id("integrations", i.provider),
                provider: i.provider.to_owned(),
                status: Some(i.status),
                config: Some(i.config.clone()),
                // Stand-in ciphertext: the demo holds no real credentials.
                credentials_encrypted: (i.status != IntegrationStatus::Pending).then(|| {
                    sha256(format!("demo-credentials:{}:{}", self.slug, i.provider).as_bytes())
                }),
                last_synced_at: (i.status == IntegrationStatus::Active)
                    .then(|| self.now - Duration::minutes(12)),
                last_error: i.error.map(str::to_owned),
                connected_by: Some(self.user(i.connected_by)),
            })
            .collect();

        // system group: files first (hub links point at them), then the rest.
        let files: Vec<NewFile> = spec
            .files
            .iter()
            .map(|f| {
                let mut file = NewFile::builder()
                    .storage_key(format!("tenants/{}/files/{}", self.slug, f.name))
                    .file_name(f.name)
                    .size_bytes(f.size)
                    .mime_type(f.mime)
                    .sha256(sha256(format!("{}/{}", self.slug, f.name).as_bytes()))
                    .build();
                file.id = self.id("files", f.name);
                file.uploaded_by = Some(self.user(f.uploader));
                file
            })
            .collect();
        put!(self, conn, files, files);
        put!(self, conn, hub_links, links);
        put!(self, conn, integrations, integrations);

        let mut events = Vec::new();
        let mut event =
            |key: String, kind: &str, payload: serde_json::Value, actor: Option<UserId>| {
                let mut e = NewEvent::builder().event_type(kind).build();
                e.id = demo_id(self.slug, "events", &key);
                e.payload = Some(payload);
                e.actor_user_id = actor;
                events.push(e);
            };
        for d in &spec.deals {
            let deal_id = self.id("deals", d.title);
            let actor = Some(self.user(d.owner));
            event(
                format!("created:{}", d.title),
                "deal.created",
                json!({"deal_id": deal_id, "title": d.title}),
                actor,
            );
            event(
                format!("stage:{}", d.title),
                "deal.stage_changed",
                json!({"deal_id": deal_id, "to": d.stage.as_str()}),
                actor,
            );
            if d.stage == DealStage::Won {
                event(
                    format!("won:{}", d.title),
                    "deal.won",
                    json!({"deal_id": deal_id, "value_minor": d.value * 100, "currency": spec.currency}),
                    actor,
                );
            }
        }
        for d in spec
            .documents
            .iter()
            .filter(|d| d.status == DocumentStatus::Ready)
        {
            let doc_id = self.id("documents", d.title);
            event(
                format!("doc:{}", d.title),
                "document.processed",
                json!({"document_id": doc_id, "chunks": paragraphs(d.text).len()}),
                None,
            );
        }
        for m in spec
            .meetings
            .iter()
            .filter(|m| m.status == MeetingStatus::Completed)
        {
            let meeting_id = self.id("meetings", m.title);
            event(
                format!("meeting:{}", m.title),
                "meeting.completed",
                json!({"meeting_id": meeting_id}),
                Some(self.user(m.organizer)),
            );
        }
        for k in spec.tasks.iter().filter(|k| k.status == TaskStatus::Done) {
            event(
                format!("task:{}", k.title),
                "task.completed",
                json!({"task_id": self.id("tasks", k.title)}),
                k.assignee.map(|e| self.user(e)),
            );
        }
        put!(self, conn, events, events);

        // The job queue: one indexing job per ready document, due now, for
        // `rowguard jobs work` to run.
        let queued: Vec<NewJob> = spec
            .documents
            .iter()
            .filter(|d| d.status == DocumentStatus::Ready)
            .map(|d| {
                let mut job = NewJob::builder().kind("demo.index_document").build();
                job.id = self.id("jobs", d.title);
                job.payload = Some(json!({"document_id": self.id("documents", d.title)}));
                job.idempotency_key = Some(format!("index:{}", d.title));
                job
            })
            .collect();
        put!(self, conn, jobs, queued);

        let mut notifications = Vec::new();
        for k in &spec.tasks {
            if let Some(assignee) = k.assignee {
                let task_id = self.id("tasks", k.title);
                let mut n = NewNotification::builder()
                    .user_id(self.user(assignee))
                    .kind("task.assigned")
                    .title(format!("New task: {}", k.title))
                    .build();
                n.id = self.id("notifications", &format!("task:{}", k.title));
                n.body = Some(k.description.to_owned());
                n.link = Some(format!("/tasks/{task_id}"));
                n.read_at = matches!(k.status, TaskStatus::Done | TaskStatus::InProgress)
                    .then(|| self.now - Duration::hours(5));
                notifications.push(n);
            }
        }
        for j in spec
            .jobs
            .iter()
            .filter(|j| j.status == JobStatus::Succeeded)
        {
            if let Some(who) = j.requested_by {
                let mut n = NewNotification::builder()
                    .user_id(self.user(who))
                    .kind("ai_job.succeeded")
                    .title(format!("Your AI employee finished: {}", j.kind))
                    .build();
                n.id = self.id("notifications", &format!("job:{}", j.key));
                n.link = Some(format!("/ai/jobs/{}", self.id("ai_employee_jobs", j.key)));
                notifications.push(n);
            }
        }
        put!(self, conn, notifications, notifications);

        let owner_email = owner.email;
        let mut audit = Vec::new();
        let mut entry = |key: &str,
                         actor: (&str, Option<UserId>),
                         action: &str,
                         target: (&str, Option<Uuid>),
                         changes: serde_json::Value| {
            let mut a = NewAuditLogEntry::builder()
                .actor(actor.0)
                .action(action)
                .target_type(target.0)
                .build();
            a.id = demo_id(self.slug, "audit_log", key);
            a.actor_user_id = actor.1;
            a.target_id = target.1;
            a.changes = Some(changes);
            audit.push(a);
        };
        entry(
            "tenant.created",
            ("admin:rowguard seed demo", None),
            "tenant.created",
            ("tenants", Some(t)),
            json!({"plan": spec.plan.as_str(), "name": spec.name}),
        );
        if let Some(admin) = spec.users.iter().find(|u| u.role == MemberRole::Admin) {
            entry(
                "role:admin",
                (owner_email, Some(owner_id)),
                "user.role_changed",
                ("users", Some(self.user(admin.email).into())),
                json!({"role": ["member", "admin"]}),
            );
        }
        for i in DEMO_INVITE_TOKENS
            .iter()
            .filter(|i| i.tenant_slug == spec.slug)
        {
            entry(
                &format!("invite:{}", i.email),
                (owner_email, Some(owner_id)),
                "user.invited",
                ("invites", Some(self.id("invites", i.token))),
                json!({"email": i.email, "role": i.role.as_str()}),
            );
        }
        for i in &spec.integrations {
            let who = i.connected_by;
            entry(
                &format!("integration:{}", i.provider),
                (who, Some(self.user(who))),
                "integration.connected",
                ("integrations", Some(self.id("integrations", i.provider))),
                json!({"provider": i.provider}),
            );
        }
        if let Some(u) = spec.users.iter().find(|u| u.suspended) {
            entry(
                "suspend",
                (owner_email, Some(owner_id)),
                "user.suspended",
                ("users", Some(self.user(u.email).into())),
                json!({"status": ["active", "suspended"]}),
            );
        }
        put!(self, conn, audit_log, audit);
        Ok(())
    }
}

/// The paragraphs of `text` (separated by blank lines), trimmed, each one embedded chunk.
fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

/// Embeds every chunk: (parent, index, text) becomes (parent, index, text, vector).
fn embed(
    embedder: &dyn Embedder,
    chunks: Vec<Chunk>,
) -> Result<Vec<(Uuid, i32, String, pgvector::Vector)>> {
    let texts: Vec<&str> = chunks.iter().map(|(_, _, t)| t.as_str()).collect();
    let vectors = embedder.embed_batch_stored(&texts)?;
    Ok(chunks
        .into_iter()
        .zip(vectors)
        .map(|((parent, index, text), v)| (parent, index, text, v))
        .collect())
}
