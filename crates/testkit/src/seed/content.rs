//! What the demo tenants contain: plain data, one function per tenant.
//!
//! Rows refer to each other by natural key (a user's e-mail, a company's name, a
//! deal's title); `seed.rs` turns every key into the same deterministic id, so a
//! mistyped key shows up as a composite foreign-key violation, never as a wrong link.

use serde_json::{json, Value};

use rowguard::models::{
    DealActivityKind, DealStage, DocumentStatus, DocumentType, IntegrationStatus, JobStatus,
    MeetingStatus, MemberRole, TaskPriority, TaskStatus, TenantPlan,
};

pub(crate) struct TenantSpec {
    pub slug: &'static str,
    pub name: &'static str,
    pub plan: TenantPlan,
    /// Verified host names; the first is primary.
    pub domains: &'static [&'static str],
    pub settings: Value,
    pub currency: &'static str,
    pub users: Vec<UserSpec>,
    pub companies: Vec<CompanySpec>,
    pub contacts: Vec<ContactSpec>,
    pub deals: Vec<DealSpec>,
    pub documents: Vec<DocSpec>,
    pub meetings: Vec<MeetingSpec>,
    pub tasks: Vec<TaskSpec>,
    pub automations: Vec<AutomationSpec>,
    pub jobs: Vec<JobSpec>,
    pub integrations: Vec<IntegrationSpec>,
    pub files: Vec<FileSpec>,
}

pub(crate) struct UserSpec {
    pub email: &'static str,
    pub name: &'static str,
    pub role: MemberRole,
    pub suspended: bool,
}

pub(crate) struct CompanySpec {
    pub name: &'static str,
    pub domain: &'static str,
    pub industry: &'static str,
    pub owner: &'static str,
    pub notes: &'static str,
}

pub(crate) struct ContactSpec {
    pub name: &'static str,
    pub email: &'static str,
    pub phone: &'static str,
    pub title: &'static str,
    pub company: &'static str,
}

pub(crate) struct DealSpec {
    pub title: &'static str,
    pub stage: DealStage,
    /// In major units of the tenant's currency.
    pub value: i64,
    pub probability: i16,
    pub company: &'static str,
    /// The contact's e-mail; empty when the deal has no contact yet.
    pub contact: &'static str,
    pub owner: &'static str,
    /// Days from today to the expected (or actual) close.
    pub close_in_days: i64,
    pub activities: Vec<ActivitySpec>,
}

pub(crate) struct ActivitySpec {
    pub kind: DealActivityKind,
    pub subject: &'static str,
    pub body: &'static str,
    pub days_ago: i64,
    pub actor: &'static str,
}

pub(crate) struct DocSpec {
    pub title: &'static str,
    pub doc_type: DocumentType,
    pub status: DocumentStatus,
    pub source_url: Option<&'static str>,
    pub author: &'static str,
    pub related_deal: Option<&'static str>,
    pub error: Option<&'static str>,
    /// Paragraphs separated by blank lines; each paragraph is one embedded chunk.
    pub text: &'static str,
}

pub(crate) struct MeetingSpec {
    pub title: &'static str,
    pub description: &'static str,
    /// Days from today (negative: in the past) and the starting hour (UTC).
    pub day: i64,
    pub hour: i64,
    pub minutes: i64,
    pub status: MeetingStatus,
    pub location: &'static str,
    pub organizer: &'static str,
    pub attendees: Vec<&'static str>,
    pub guests: Vec<&'static str>,
    pub deal: Option<&'static str>,
    /// (speaker, words) in order; empty when the meeting has no transcript.
    pub transcript: Vec<(&'static str, &'static str)>,
    pub summary: Option<&'static str>,
    /// (text, assignee e-mail, due in days)
    pub action_items: Vec<(&'static str, &'static str, i64)>,
}

pub(crate) struct TaskSpec {
    pub title: &'static str,
    pub description: &'static str,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    pub assignee: Option<&'static str>,
    pub creator: Option<&'static str>,
    pub due_in_days: i64,
    pub deal: Option<&'static str>,
    pub meeting: Option<&'static str>,
}

pub(crate) struct AutomationSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub trigger: Value,
    pub action: Value,
    pub enabled: bool,
    pub creator: &'static str,
    /// One run per entry, in this state.
    pub runs: Vec<JobStatus>,
}

pub(crate) struct JobSpec {
    pub key: &'static str,
    pub kind: &'static str,
    pub input: Value,
    pub status: JobStatus,
    pub requested_by: Option<&'static str>,
    /// Text output of a succeeded job.
    pub output: Option<&'static str>,
    /// Error of a failed or dead job.
    pub error: Option<&'static str>,
}

pub(crate) struct IntegrationSpec {
    pub provider: &'static str,
    pub status: IntegrationStatus,
    pub config: Value,
    pub error: Option<&'static str>,
    pub connected_by: &'static str,
}

pub(crate) struct FileSpec {
    pub name: &'static str,
    pub mime: &'static str,
    pub size: i64,
    pub uploader: &'static str,
    pub company: Option<&'static str>,
}

/// A known demo token: its tenant, the user (session) or invitee (invite) e-mail, the
/// role an invite grants, and the bearer token whose SHA-256 is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoToken {
    /// The tenant's slug.
    pub tenant_slug: &'static str,
    /// The session's user, or the invited address.
    pub email: &'static str,
    /// The role of the user, or the role the invite grants.
    pub role: MemberRole,
    /// The bearer token; only `sha256(token)` is stored.
    pub token: &'static str,
}

pub(crate) const SESSION_TOKENS: &[DemoToken] = &[
    DemoToken {
        tenant_slug: "acme",
        email: "dana.whitfield@acme-logistics.example",
        role: MemberRole::Owner,
        token: "rg_demo_session_acme_owner_5f3c9a1e",
    },
    DemoToken {
        tenant_slug: "acme",
        email: "priya.raman@acme-logistics.example",
        role: MemberRole::Member,
        token: "rg_demo_session_acme_member_0b7d2e44",
    },
    DemoToken {
        tenant_slug: "globex",
        email: "elena.novak@globex-energy.example",
        role: MemberRole::Owner,
        token: "rg_demo_session_globex_owner_c81f6b20",
    },
    DemoToken {
        tenant_slug: "globex",
        email: "chloe.martin@globex-energy.example",
        role: MemberRole::Viewer,
        token: "rg_demo_session_globex_viewer_9e2a7c13",
    },
    DemoToken {
        tenant_slug: "initech",
        email: "nina.park@initech.example",
        role: MemberRole::Owner,
        token: "rg_demo_session_initech_owner_47ad0f98",
    },
];

pub(crate) const INVITE_TOKENS: &[DemoToken] = &[
    DemoToken {
        tenant_slug: "acme",
        email: "jordan.lee@acme-logistics.example",
        role: MemberRole::Member,
        token: "rg_demo_invite_acme_3a9e51c7",
    },
    DemoToken {
        tenant_slug: "globex",
        email: "mateo.silva@globex-energy.example",
        role: MemberRole::Admin,
        token: "rg_demo_invite_globex_d4608b2f",
    },
    DemoToken {
        tenant_slug: "initech",
        email: "sofia.reyes@initech.example",
        role: MemberRole::Viewer,
        token: "rg_demo_invite_initech_72c1e9aa",
    },
];

pub(crate) fn tenants() -> Vec<TenantSpec> {
    vec![acme(), globex(), initech()]
}

fn user(email: &'static str, name: &'static str, role: MemberRole) -> UserSpec {
    UserSpec {
        email,
        name,
        role,
        suspended: false,
    }
}

fn act(
    kind: DealActivityKind,
    subject: &'static str,
    body: &'static str,
    days_ago: i64,
    actor: &'static str,
) -> ActivitySpec {
    ActivitySpec {
        kind,
        subject,
        body,
        days_ago,
        actor,
    }
}

#[allow(clippy::too_many_arguments)]
fn task(
    title: &'static str,
    description: &'static str,
    status: TaskStatus,
    priority: TaskPriority,
    assignee: Option<&'static str>,
    due_in_days: i64,
    deal: Option<&'static str>,
    meeting: Option<&'static str>,
) -> TaskSpec {
    TaskSpec {
        title,
        description,
        status,
        priority,
        assignee,
        creator: assignee,
        due_in_days,
        deal,
        meeting,
    }
}

// ---------------------------------------------------------------------------------
// acme: Acme Logistics, freight forwarding and warehousing; the largest tenant.
// ---------------------------------------------------------------------------------

const DANA: &str = "dana.whitfield@acme-logistics.example";
const MARCUS: &str = "marcus.bell@acme-logistics.example";
const PRIYA: &str = "priya.raman@acme-logistics.example";
const TOM: &str = "tom.okafor@acme-logistics.example";
const LENA: &str = "lena.fischer@acme-logistics.example";
const SAM: &str = "sam.ortiz@acme-logistics.example";

const ACME_CONTOSO_COLD: &str = "Contoso Pharma: cold-chain vaccine distribution";
const ACME_NORTHWIND_LTL: &str = "Northwind Traders: West Coast LTL contract";
const ACME_FABRIKAM_XDOCK: &str = "Fabrikam: cross-dock warehousing for Q3";

fn acme() -> TenantSpec {
    use DealActivityKind as K;
    TenantSpec {
        slug: "acme",
        name: "Acme Logistics",
        plan: TenantPlan::Enterprise,
        domains: &["crm.acme-logistics.example", "acme-logistics.example"],
        settings: json!({"seats": 250, "sso": true, "data_region": "us-west", "ai_employees": true}),
        currency: "USD",
        users: vec![
            user(DANA, "Dana Whitfield", MemberRole::Owner),
            user(MARCUS, "Marcus Bell", MemberRole::Admin),
            user(PRIYA, "Priya Raman", MemberRole::Member),
            user(TOM, "Tom Okafor", MemberRole::Member),
            user(LENA, "Lena Fischer", MemberRole::Viewer),
            UserSpec {
                email: SAM,
                name: "Sam Ortiz",
                role: MemberRole::Member,
                suspended: true,
            },
        ],
        companies: vec![
            CompanySpec { name: "Northwind Traders", domain: "northwind.example", industry: "Retail distribution", owner: PRIYA, notes: "Ships 40 LTL pallets a day from the Oakland DC; price-sensitive, values on-time delivery above all." },
            CompanySpec { name: "Contoso Pharma", domain: "contoso-pharma.example", industry: "Pharmaceuticals", owner: TOM, notes: "Needs GDP-compliant 2-8 °C cold chain with temperature loggers on every shipment." },
            CompanySpec { name: "Fabrikam Furniture", domain: "fabrikam.example", industry: "Furniture manufacturing", owner: PRIYA, notes: "Bulky freight; cross-docks at our Reno facility before final-mile delivery." },
            CompanySpec { name: "Tailspin Toys", domain: "tailspintoys.example", industry: "Consumer goods", owner: TOM, notes: "Extreme seasonality: 60% of annual volume between October and December." },
            CompanySpec { name: "Wide World Importers", domain: "wideworldimporters.example", industry: "Wholesale", owner: MARCUS, notes: "Imports through Long Beach; interested in ocean freight consolidation and customs brokerage." },
        ],
        contacts: vec![
            ContactSpec { name: "Grace Holloway", email: "grace.holloway@northwind.example", phone: "+1 510 555 0142", title: "VP Supply Chain", company: "Northwind Traders" },
            ContactSpec { name: "Ken Watanabe", email: "ken.watanabe@northwind.example", phone: "+1 510 555 0178", title: "Transportation Manager", company: "Northwind Traders" },
            ContactSpec { name: "Dr. Amara Osei", email: "amara.osei@contoso-pharma.example", phone: "+1 617 555 0199", title: "Head of Distribution Quality", company: "Contoso Pharma" },
            ContactSpec { name: "Luis Moreno", email: "luis.moreno@contoso-pharma.example", phone: "+1 617 555 0123", title: "Procurement Lead", company: "Contoso Pharma" },
            ContactSpec { name: "Hannah Schultz", email: "hannah.schultz@fabrikam.example", phone: "+1 775 555 0164", title: "Logistics Director", company: "Fabrikam Furniture" },
            ContactSpec { name: "Oliver Grant", email: "oliver.grant@tailspintoys.example", phone: "+1 206 555 0131", title: "COO", company: "Tailspin Toys" },
            ContactSpec { name: "Mei Chen", email: "mei.chen@wideworldimporters.example", phone: "+1 562 555 0187", title: "Import Operations Manager", company: "Wide World Importers" },
        ],
        deals: vec![
            DealSpec {
                title: ACME_NORTHWIND_LTL, stage: DealStage::Negotiation, value: 480_000, probability: 70,
                company: "Northwind Traders", contact: "grace.holloway@northwind.example", owner: PRIYA, close_in_days: 21,
                activities: vec![
                    act(K::Call, "Rate discussion with Grace", "Grace pushed for a 6% discount on LTL lanes Oakland to Portland and Seattle. We offered 4% with a fuel surcharge cap in exchange for a two-year term.", 9, PRIYA),
                    act(K::Email, "Revised LTL rate card sent", "Sent the revised 2026 rate card with the 4% lane discount and the on-time delivery guarantee of 97%. Grace will take it to their CFO on Friday.", 4, PRIYA),
                ],
            },
            DealSpec {
                title: ACME_CONTOSO_COLD, stage: DealStage::Proposal, value: 1_250_000, probability: 45,
                company: "Contoso Pharma", contact: "amara.osei@contoso-pharma.example", owner: TOM, close_in_days: 45,
                activities: vec![
                    act(K::Meeting, "Cold-chain proposal review", "Walked Dr. Osei through our GDP cold-chain SOP: validated 2-8 °C reefers, continuous temperature logging, excursion alerts within five minutes and a deviation report within 24 hours.", 3, TOM),
                    act(K::Note, "Audit requirement", "Contoso's quality team must audit the Reno cold room before signing. Need calibration certificates for all data loggers.", 2, TOM),
                ],
            },
            DealSpec {
                title: ACME_FABRIKAM_XDOCK, stage: DealStage::Won, value: 310_000, probability: 100,
                company: "Fabrikam Furniture", contact: "hannah.schultz@fabrikam.example", owner: PRIYA, close_in_days: -12,
                activities: vec![act(K::Email, "Contract signed", "Hannah returned the signed cross-dock agreement: 18 dock doors at Reno, 48-hour dwell limit, final-mile with white-glove delivery for sofas.", 12, PRIYA)],
            },
            DealSpec {
                title: "Tailspin Toys: holiday peak season capacity", stage: DealStage::Qualified, value: 220_000, probability: 30,
                company: "Tailspin Toys", contact: "oliver.grant@tailspintoys.example", owner: TOM, close_in_days: 60,
                activities: vec![act(K::Call, "Peak season discovery", "Oliver needs 3,000 extra pallet positions from October through December and guaranteed truck capacity for Black Friday week.", 6, TOM)],
            },
            DealSpec {
                title: "Wide World Importers: ocean freight consolidation", stage: DealStage::Lead, value: 150_000, probability: 10,
                company: "Wide World Importers", contact: "mei.chen@wideworldimporters.example", owner: MARCUS, close_in_days: 90,
                activities: vec![act(K::Email, "Intro from the Long Beach port event", "Mei asked whether we can consolidate LCL containers from Shenzhen and Ningbo into full containers to cut ocean freight cost.", 15, MARCUS)],
            },
            DealSpec {
                title: "Contoso Pharma: returns logistics pilot", stage: DealStage::Lost, value: 60_000, probability: 0,
                company: "Contoso Pharma", contact: "luis.moreno@contoso-pharma.example", owner: TOM, close_in_days: -30,
                activities: vec![act(K::Note, "Lost to incumbent", "Luis chose to keep reverse logistics with their incumbent 3PL for another year; revisit at renewal.", 30, TOM)],
            },
            DealSpec {
                title: "Northwind Traders: customs brokerage add-on", stage: DealStage::Lead, value: 45_000, probability: 15,
                company: "Northwind Traders", contact: "ken.watanabe@northwind.example", owner: PRIYA, close_in_days: 75,
                activities: vec![act(K::Task, "Send customs brokerage FAQ", "Ken wants to understand how we file ISF and entry summaries before he involves their compliance team.", 1, PRIYA)],
            },
        ],
        documents: vec![
            DocSpec {
                title: "Cold-chain handling SOP (GDP)", doc_type: DocumentType::Pdf, status: DocumentStatus::Ready, source_url: None, author: TOM, related_deal: Some(ACME_CONTOSO_COLD), error: None,
                text: "Purpose. This standard operating procedure describes how Acme Logistics receives, stores and ships temperature-sensitive pharmaceutical freight under Good Distribution Practice (GDP).\n\n\
                       Temperature ranges. Refrigerated products are kept between 2 and 8 °C; controlled room temperature products between 15 and 25 °C. Every reefer trailer is pre-cooled for 45 minutes before loading.\n\n\
                       Monitoring. Each pallet carries a calibrated data logger recording every five minutes. A temperature excursion triggers an alert to the dispatcher and the customer's quality contact within five minutes.\n\n\
                       Deviations. Any excursion is quarantined on arrival and documented in a deviation report within 24 hours, including root cause and corrective action. Loggers are recalibrated every twelve months.",
            },
            DocSpec {
                title: "2026 rate card: LTL and FTL lanes", doc_type: DocumentType::Spreadsheet, status: DocumentStatus::Ready, source_url: None, author: PRIYA, related_deal: Some(ACME_NORTHWIND_LTL), error: None,
                text: "LTL pricing. Less-than-truckload rates are quoted per hundredweight by freight class and lane. Oakland to Portland class 70 is 18.40 USD per cwt; Oakland to Seattle is 21.10 USD per cwt.\n\n\
                       FTL pricing. Full truckload dry van is priced per mile: 2.85 USD per mile on West Coast lanes, with a 350 USD minimum. Reefer equipment adds 0.45 USD per mile.\n\n\
                       Fuel surcharge. The fuel surcharge follows the weekly DOE diesel index. Contract customers may cap the surcharge at 32% in exchange for a two-year term.\n\n\
                       Discounts. Volume discounts of 2 to 6% apply above 500 shipments a month. Accessorials such as liftgate, inside delivery and detention are billed separately.",
            },
            DocSpec {
                title: "Warehouse safety checklist: Reno DC", doc_type: DocumentType::Note, status: DocumentStatus::Ready, source_url: None, author: MARCUS, related_deal: Some(ACME_FABRIKAM_XDOCK), error: None,
                text: "Daily checks. Forklift pre-shift inspection, dock leveller and trailer restraint test, clear pedestrian walkways, and working eyewash stations.\n\n\
                       Racking. Inspect pallet racking for damaged uprights weekly; any upright bent more than 5 mm is unloaded and tagged out until repaired.\n\n\
                       Cross-dock. Inbound trailers are unloaded within two hours of arrival; freight may not dwell on the cross-dock floor longer than 48 hours.",
            },
            DocSpec {
                title: "Carrier onboarding guide", doc_type: DocumentType::WebPage, status: DocumentStatus::Ready, source_url: Some("https://acme-logistics.example/carriers/onboarding"), author: MARCUS, related_deal: None, error: None,
                text: "Requirements. Carriers need an active MC number, at least 1,000,000 USD auto liability and 100,000 USD cargo insurance, and a satisfactory FMCSA safety rating.\n\n\
                       Onboarding. Submit the W-9, certificate of insurance and signed broker-carrier agreement. Tendering starts after our compliance team verifies the documents, usually within one business day.\n\n\
                       Payment. Standard payment terms are 30 days from receipt of a clean proof of delivery; quick pay in 2 days is available for a 2% fee.",
            },
            DocSpec {
                title: "Customs brokerage FAQ", doc_type: DocumentType::Note, status: DocumentStatus::Processing, source_url: None, author: PRIYA, related_deal: None, error: None,
                text: "Importer Security Filing. The ISF (10+2) must be filed 24 hours before the container is loaded at the foreign port.\n\n\
                       Entry. We file the entry summary within ten working days of release and pay duties through ACH on the customer's behalf.",
            },
        ],
        meetings: vec![
            MeetingSpec {
                title: "Contoso cold-chain proposal review", description: "Review the GDP cold-chain proposal and the audit plan for the Reno cold room.",
                day: -3, hour: 16, minutes: 60, status: MeetingStatus::Completed, location: "https://meet.example/acme-contoso", organizer: TOM,
                attendees: vec![TOM, DANA], guests: vec!["amara.osei@contoso-pharma.example", "luis.moreno@contoso-pharma.example"], deal: Some(ACME_CONTOSO_COLD),
                transcript: vec![
                    ("Tom Okafor", "Thanks for joining. Today we want to walk through the cold-chain proposal and agree on the audit."),
                    ("Dr. Amara Osei", "Our main concern is temperature excursions during last-mile delivery in summer."),
                    ("Tom Okafor", "Every pallet has a calibrated logger; excursions alert your quality team within five minutes."),
                    ("Luis Moreno", "What does pricing look like if we commit to three years instead of two?"),
                    ("Dana Whitfield", "For a three-year term we can hold the reefer rate flat and cap the fuel surcharge."),
                    ("Dr. Amara Osei", "Then the next step is our audit of the Reno cold room. Can you send the logger calibration certificates?"),
                    ("Tom Okafor", "Yes, we will send them by Friday and propose audit dates for next month."),
                ],
                summary: Some("Contoso is positive about the GDP cold-chain proposal. Open points: summer last-mile excursions, a three-year pricing option (rate held flat, fuel surcharge capped) and a quality audit of the Reno cold room, for which Acme sends logger calibration certificates."),
                action_items: vec![("Send logger calibration certificates to Contoso", TOM, 2), ("Propose audit dates for the Reno cold room", DANA, 5)],
            },
            MeetingSpec {
                title: "Northwind quarterly business review", description: "On-time delivery, claims and the renewal of the West Coast LTL contract.",
                day: 2, hour: 17, minutes: 45, status: MeetingStatus::Scheduled, location: "Northwind HQ, Oakland", organizer: PRIYA,
                attendees: vec![PRIYA, MARCUS], guests: vec!["grace.holloway@northwind.example"], deal: Some(ACME_NORTHWIND_LTL),
                transcript: vec![], summary: None, action_items: vec![],
            },
            MeetingSpec {
                title: "Weekly operations stand-up", description: "Dock capacity, driver availability and open claims.",
                day: -1, hour: 15, minutes: 30, status: MeetingStatus::Completed, location: "Reno DC, room 2", organizer: MARCUS,
                attendees: vec![MARCUS, PRIYA, TOM, LENA], guests: vec![], deal: None,
                transcript: vec![
                    ("Marcus Bell", "Reno is at 86% dock utilisation; Fabrikam cross-dock volume starts Monday."),
                    ("Priya Raman", "Two drivers are out next week, so we should tender the Portland LTL runs to partner carriers."),
                    ("Tom Okafor", "One damage claim is open for Tailspin, a crushed pallet of board games."),
                ],
                summary: Some("Reno dock utilisation is 86% ahead of the Fabrikam cross-dock start; Portland LTL runs go to partner carriers next week; one Tailspin damage claim is open."),
                action_items: vec![("Tender Portland LTL runs to partner carriers", PRIYA, 3)],
            },
        ],
        tasks: vec![
            task("Send logger calibration certificates", "Contoso quality asked for the calibration certificates of every data logger used in the Reno cold room.", TaskStatus::Todo, TaskPriority::High, Some(TOM), 2, Some(ACME_CONTOSO_COLD), Some("Contoso cold-chain proposal review")),
            task("Prepare Northwind QBR deck", "On-time delivery by lane, claims ratio and the renewal proposal.", TaskStatus::InProgress, TaskPriority::Medium, Some(PRIYA), 1, Some(ACME_NORTHWIND_LTL), Some("Northwind quarterly business review")),
            task("Book 18 dock doors at Reno for Fabrikam", "Cross-dock starts Monday; confirm door schedule with the Reno shift leads.", TaskStatus::Done, TaskPriority::High, Some(MARCUS), -2, Some(ACME_FABRIKAM_XDOCK), None),
            task("Tender Portland LTL runs to partner carriers", "Two drivers are out next week.", TaskStatus::Todo, TaskPriority::Medium, Some(PRIYA), 3, None, Some("Weekly operations stand-up")),
            task("Close Tailspin damage claim", "Crushed pallet of board games; photos and proof of delivery are in the claim file.", TaskStatus::InProgress, TaskPriority::Low, Some(TOM), 7, None, None),
            task("Quote peak season pallet positions for Tailspin", "3,000 pallet positions October to December.", TaskStatus::Todo, TaskPriority::Medium, Some(TOM), 10, Some("Tailspin Toys: holiday peak season capacity"), None),
            task("Renew cargo insurance certificate", "Current certificate expires at month end.", TaskStatus::Cancelled, TaskPriority::Low, None, 20, None, None),
            task("Review Q3 fuel surcharge caps", "Check exposure of capped contracts against the DOE index.", TaskStatus::Todo, TaskPriority::Urgent, Some(DANA), 4, None, None),
        ],
        automations: vec![
            AutomationSpec { name: "Notify owner when a deal is won", description: "Posts to #sales-wins and notifies the account owner.", trigger: json!({"event": "deal.won"}), action: json!({"type": "notify", "channel": "slack", "target": "#sales-wins"}), enabled: true, creator: MARCUS, runs: vec![JobStatus::Succeeded, JobStatus::Succeeded] },
            AutomationSpec { name: "Create follow-up task after customer meetings", description: "Every completed meeting with a deal gets a follow-up task for the organiser.", trigger: json!({"event": "meeting.completed", "filter": {"has_deal": true}}), action: json!({"type": "create_task", "title": "Follow up: {{meeting.title}}", "due_in_days": 2}), enabled: true, creator: PRIYA, runs: vec![JobStatus::Succeeded, JobStatus::Failed] },
            AutomationSpec { name: "Escalate temperature excursions", description: "Pages the on-call dispatcher when a logger reports an excursion.", trigger: json!({"event": "shipment.temperature_excursion"}), action: json!({"type": "page", "rotation": "dispatch-on-call"}), enabled: false, creator: TOM, runs: vec![JobStatus::Queued] },
        ],
        jobs: vec![
            JobSpec { key: "draft-contoso-followup", kind: "email.draft_follow_up", input: json!({"deal": ACME_CONTOSO_COLD, "tone": "formal"}), status: JobStatus::Succeeded, requested_by: Some(TOM),
                output: Some("Dear Dr. Osei, thank you for reviewing our cold-chain proposal. As agreed, we will send the calibration certificates for all data loggers by Friday and propose dates for your audit of the Reno cold room next month. For a three-year term we can hold the reefer rate flat and cap the fuel surcharge. Kind regards, Tom Okafor"), error: None },
            JobSpec { key: "brief-wide-world", kind: "research.company_brief", input: json!({"company": "Wide World Importers"}), status: JobStatus::Running, requested_by: Some(MARCUS), output: None, error: None },
            JobSpec { key: "risk-northwind", kind: "deal.risk_review", input: json!({"deal": ACME_NORTHWIND_LTL}), status: JobStatus::Succeeded, requested_by: Some(PRIYA),
                output: Some("Risk: medium. Northwind is price-sensitive and the CFO has not seen the offer yet. The two-year term and the fuel surcharge cap are the strongest arguments; on-time delivery of 97% is above their current carrier."), error: None },
            JobSpec { key: "summarise-standup", kind: "meeting.summarize", input: json!({"meeting": "Weekly operations stand-up"}), status: JobStatus::Queued, requested_by: None, output: None, error: None },
            JobSpec { key: "translate-sop", kind: "document.translate", input: json!({"document": "Cold-chain handling SOP (GDP)", "language": "es"}), status: JobStatus::Dead, requested_by: Some(LENA), output: None, error: Some("translation provider rejected the request: document too long (max 20 pages)") },
        ],
        integrations: vec![
            IntegrationSpec { provider: "slack", status: IntegrationStatus::Active, config: json!({"workspace": "acme-logistics", "default_channel": "#sales"}), error: None, connected_by: MARCUS },
            IntegrationSpec { provider: "google_calendar", status: IntegrationStatus::Active, config: json!({"calendars": ["sales@acme-logistics.example"]}), error: None, connected_by: PRIYA },
            IntegrationSpec { provider: "samsara", status: IntegrationStatus::Error, config: json!({"fleet": "west"}), error: Some("401 Unauthorized: API token revoked"), connected_by: MARCUS },
        ],
        files: vec![
            FileSpec { name: "contoso-cold-chain-proposal.pdf", mime: "application/pdf", size: 1_842_113, uploader: TOM, company: Some("Contoso Pharma") },
            FileSpec { name: "northwind-rate-card-2026.xlsx", mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", size: 88_410, uploader: PRIYA, company: Some("Northwind Traders") },
            FileSpec { name: "reno-dc-floor-plan.png", mime: "image/png", size: 512_004, uploader: MARCUS, company: None },
        ],
    }
}

// ---------------------------------------------------------------------------------
// globex: Globex Energy, commercial solar and battery storage installer (EUR).
// ---------------------------------------------------------------------------------

const ELENA: &str = "elena.novak@globex-energy.example";
const JONAS: &str = "jonas.berg@globex-energy.example";
const AISHA: &str = "aisha.mensah@globex-energy.example";
const PIETER: &str = "pieter.devries@globex-energy.example";
const CHLOE: &str = "chloe.martin@globex-energy.example";

const GLOBEX_BRIGHTFIELD: &str = "Brightfield Farms: 800 kWp rooftop PV";
const GLOBEX_HAVEL_BATTERY: &str = "Havel Cold Storage: battery storage for peak shaving";

fn globex() -> TenantSpec {
    use DealActivityKind as K;
    TenantSpec {
        slug: "globex",
        name: "Globex Energy",
        plan: TenantPlan::Pro,
        domains: &["portal.globex.example"],
        settings: json!({"seats": 40, "sso": false, "data_region": "eu-central", "ai_employees": true}),
        currency: "EUR",
        users: vec![
            user(ELENA, "Elena Novak", MemberRole::Owner),
            user(JONAS, "Jonas Berg", MemberRole::Admin),
            user(AISHA, "Aisha Mensah", MemberRole::Member),
            user(PIETER, "Pieter de Vries", MemberRole::Member),
            user(CHLOE, "Chloe Martin", MemberRole::Viewer),
        ],
        companies: vec![
            CompanySpec { name: "Brightfield Farms", domain: "brightfield-farms.example", industry: "Agriculture", owner: AISHA, notes: "Dairy farm with 9,000 m² of barn roofs; wants to cut grid consumption of milk cooling." },
            CompanySpec { name: "Havel Cold Storage", domain: "havel-coldstorage.example", industry: "Warehousing", owner: PIETER, notes: "Refrigerated warehouse with 1.2 MW peak load; pays high demand charges." },
            CompanySpec { name: "Stadtwerke Nordhafen", domain: "stadtwerke-nordhafen.example", industry: "Municipal utility", owner: ELENA, notes: "Local utility exploring a community solar park and a power purchase agreement." },
            CompanySpec { name: "Lumen Schools Trust", domain: "lumen-schools.example", industry: "Education", owner: AISHA, notes: "Twelve school buildings; installation only during school holidays." },
        ],
        contacts: vec![
            ContactSpec { name: "Henrik Brandt", email: "henrik.brandt@brightfield-farms.example", phone: "+49 40 5550 1201", title: "Owner", company: "Brightfield Farms" },
            ContactSpec { name: "Sabine Krause", email: "sabine.krause@havel-coldstorage.example", phone: "+49 30 5550 3310", title: "Facility Manager", company: "Havel Cold Storage" },
            ContactSpec { name: "Thomas Albers", email: "thomas.albers@havel-coldstorage.example", phone: "+49 30 5550 3302", title: "CFO", company: "Havel Cold Storage" },
            ContactSpec { name: "Ingrid Paulsen", email: "ingrid.paulsen@stadtwerke-nordhafen.example", phone: "+49 471 5550 880", title: "Head of Renewables", company: "Stadtwerke Nordhafen" },
            ContactSpec { name: "Ruth Adeyemi", email: "ruth.adeyemi@lumen-schools.example", phone: "+44 20 5550 7734", title: "Estates Director", company: "Lumen Schools Trust" },
        ],
        deals: vec![
            DealSpec {
                title: GLOBEX_BRIGHTFIELD, stage: DealStage::Proposal, value: 640_000, probability: 50,
                company: "Brightfield Farms", contact: "henrik.brandt@brightfield-farms.example", owner: AISHA, close_in_days: 30,
                activities: vec![act(K::Email, "PV proposal sent", "Sent the 800 kWp rooftop proposal: east-west modules on the barn roofs, expected yield 760 MWh per year, 72% self-consumption thanks to milk cooling during the day.", 5, AISHA)],
            },
            DealSpec {
                title: GLOBEX_HAVEL_BATTERY, stage: DealStage::Negotiation, value: 910_000, probability: 65,
                company: "Havel Cold Storage", contact: "sabine.krause@havel-coldstorage.example", owner: PIETER, close_in_days: 14,
                activities: vec![
                    act(K::Meeting, "Site walk for peak shaving", "Measured the transformer room and the free space for a 1 MWh battery container. Peak load of 1.2 MW occurs when compressors restart after defrost cycles.", 6, PIETER),
                    act(K::Call, "CFO call on financing", "Thomas Albers prefers an energy-as-a-service contract over buying the battery; demand charge savings must cover the monthly fee from year one.", 2, ELENA),
                ],
            },
            DealSpec {
                title: "Stadtwerke Nordhafen: community solar PPA", stage: DealStage::Qualified, value: 2_400_000, probability: 25,
                company: "Stadtwerke Nordhafen", contact: "ingrid.paulsen@stadtwerke-nordhafen.example", owner: ELENA, close_in_days: 120,
                activities: vec![act(K::Note, "Grid connection", "The grid operator confirmed 5 MW of capacity at the Nordhafen substation; the PPA price must stay below 6.5 ct/kWh to beat their wholesale hedge.", 10, ELENA)],
            },
            DealSpec {
                title: "Lumen Schools Trust: solar for 12 school roofs", stage: DealStage::Won, value: 1_100_000, probability: 100,
                company: "Lumen Schools Trust", contact: "ruth.adeyemi@lumen-schools.example", owner: AISHA, close_in_days: -20,
                activities: vec![act(K::Email, "Framework agreement signed", "Ruth signed the framework agreement; installation on the first four schools during the summer holidays.", 20, AISHA)],
            },
            DealSpec {
                title: "Havel Cold Storage: EV charging hub", stage: DealStage::Lost, value: 180_000, probability: 0,
                company: "Havel Cold Storage", contact: "thomas.albers@havel-coldstorage.example", owner: PIETER, close_in_days: -40,
                activities: vec![act(K::Note, "Postponed indefinitely", "Havel postponed fleet electrification until their van leases end; battery storage has priority.", 40, PIETER)],
            },
        ],
        documents: vec![
            DocSpec {
                title: "Battery storage sizing guide", doc_type: DocumentType::Pdf, status: DocumentStatus::Ready, source_url: None, author: PIETER, related_deal: Some(GLOBEX_HAVEL_BATTERY), error: None,
                text: "Load profile. Size a peak-shaving battery from 15-minute interval meter data covering at least one full year, so seasonal peaks such as summer refrigeration are included.\n\n\
                       Power and energy. The inverter power sets how much peak is shaved; the energy capacity sets for how long. A 500 kW / 1 MWh system shaves 500 kW for two hours.\n\n\
                       Demand charges. Savings come from lowering the highest 15-minute peak of the billing period; one missed peak can cancel a month of savings, so keep a reserve of 10% state of charge.\n\n\
                       Degradation. Lithium iron phosphate cells keep about 80% of their capacity after 6,000 full cycles; warranties usually guarantee 70% after ten years.",
            },
            DocSpec {
                title: "Feed-in tariff and PPA pricing 2026", doc_type: DocumentType::Spreadsheet, status: DocumentStatus::Ready, source_url: None, author: ELENA, related_deal: Some(GLOBEX_BRIGHTFIELD), error: None,
                text: "Feed-in tariff. Rooftop systems between 100 and 750 kWp receive a fixed feed-in tariff of 6.2 ct/kWh for twenty years; larger systems must sell through direct marketing.\n\n\
                       Power purchase agreements. On-site PPAs are priced between 9 and 12 ct/kWh depending on self-consumption; utility-scale PPAs currently clear at 5.5 to 6.5 ct/kWh.\n\n\
                       Self-consumption. Every kWh consumed on site saves the retail price of about 24 ct/kWh, which is why daytime loads such as cooling make rooftop solar pay back in six to eight years.",
            },
            DocSpec {
                title: "Rooftop structural survey checklist", doc_type: DocumentType::Note, status: DocumentStatus::Ready, source_url: None, author: AISHA, related_deal: None, error: None,
                text: "Roof. Record roof type, pitch, orientation, covering and age. Trapezoidal metal sheet roofs need a load reserve of at least 15 kg/m² for ballast-free mounting.\n\n\
                       Structure. Ask for the static calculation of the building; without it a structural engineer must inspect purlins and trusses before the offer is final.\n\n\
                       Safety. Plan fall protection, fire service access paths and the cable route to the main distribution board.",
            },
            DocSpec {
                title: "Inverter warranty terms (scanned)", doc_type: DocumentType::Pdf, status: DocumentStatus::Failed, source_url: None, author: JONAS, related_deal: None,
                error: Some("text extraction failed: the PDF contains only scanned images and OCR is not enabled"),
                text: "Scanned warranty terms of the string inverter supplier.",
            },
        ],
        meetings: vec![
            MeetingSpec {
                title: "Havel peak-shaving site walk", description: "Inspect the transformer room and battery location; review last year's load profile.",
                day: -6, hour: 9, minutes: 90, status: MeetingStatus::Completed, location: "Havel Cold Storage, Berlin", organizer: PIETER,
                attendees: vec![PIETER, JONAS], guests: vec!["sabine.krause@havel-coldstorage.example"], deal: Some(GLOBEX_HAVEL_BATTERY),
                transcript: vec![
                    ("Pieter de Vries", "Your meter data shows the 1.2 megawatt peak right after the defrost cycles."),
                    ("Sabine Krause", "Yes, all compressors restart together at six in the morning."),
                    ("Jonas Berg", "A 500 kilowatt battery with one megawatt hour would shave that peak and still keep a reserve."),
                    ("Sabine Krause", "Where would the battery container go? The yard is used by trucks all day."),
                    ("Pieter de Vries", "Next to the transformer room; the foundation needs about forty square metres."),
                ],
                summary: Some("The 1.2 MW peak comes from compressors restarting after defrost. A 500 kW / 1 MWh battery next to the transformer room would shave it; Globex sends a sizing report and a foundation plan."),
                action_items: vec![("Send the battery sizing report to Havel", PIETER, 3), ("Draft the foundation plan for the battery container", JONAS, 7)],
            },
            MeetingSpec {
                title: "Brightfield proposal call", description: "Walk Henrik through the PV proposal, yield estimate and payback.",
                day: 1, hour: 10, minutes: 45, status: MeetingStatus::Scheduled, location: "https://meet.example/globex-brightfield", organizer: AISHA,
                attendees: vec![AISHA, ELENA], guests: vec!["henrik.brandt@brightfield-farms.example"], deal: Some(GLOBEX_BRIGHTFIELD),
                transcript: vec![], summary: None, action_items: vec![],
            },
        ],
        tasks: vec![
            task("Send battery sizing report to Havel", "Based on 15-minute meter data from last year.", TaskStatus::InProgress, TaskPriority::High, Some(PIETER), 3, Some(GLOBEX_HAVEL_BATTERY), Some("Havel peak-shaving site walk")),
            task("Draft foundation plan for battery container", "About 40 m² next to the transformer room.", TaskStatus::Todo, TaskPriority::Medium, Some(JONAS), 7, Some(GLOBEX_HAVEL_BATTERY), Some("Havel peak-shaving site walk")),
            task("Order structural survey for Brightfield barns", "The farm has no static calculation for the older barn.", TaskStatus::Todo, TaskPriority::High, Some(AISHA), 5, Some(GLOBEX_BRIGHTFIELD), None),
            task("Schedule summer installations for Lumen schools", "First four schools during the summer holidays.", TaskStatus::Done, TaskPriority::Medium, Some(AISHA), -5, Some("Lumen Schools Trust: solar for 12 school roofs"), None),
            task("Update PPA price model with new hedge prices", "Nordhafen needs a price below 6.5 ct/kWh.", TaskStatus::Todo, TaskPriority::Urgent, Some(ELENA), 2, Some("Stadtwerke Nordhafen: community solar PPA"), None),
            task("Enable OCR for scanned documents", "Inverter warranty terms failed to process.", TaskStatus::Todo, TaskPriority::Low, None, 14, None, None),
        ],
        automations: vec![
            AutomationSpec { name: "Request structural survey for new rooftop deals", description: "Creates a survey task when a rooftop deal reaches the proposal stage.", trigger: json!({"event": "deal.stage_changed", "filter": {"to": "proposal"}}), action: json!({"type": "create_task", "title": "Structural survey: {{deal.title}}"}), enabled: true, creator: JONAS, runs: vec![JobStatus::Succeeded, JobStatus::Dead] },
            AutomationSpec { name: "Weekly pipeline digest", description: "E-mails the pipeline by stage to the owner every Monday.", trigger: json!({"schedule": "0 7 * * MON"}), action: json!({"type": "email", "to": "owner", "template": "pipeline_digest"}), enabled: true, creator: ELENA, runs: vec![JobStatus::Succeeded, JobStatus::Queued] },
        ],
        jobs: vec![
            JobSpec { key: "sizing-havel", kind: "document.draft_report", input: json!({"deal": GLOBEX_HAVEL_BATTERY, "template": "battery_sizing"}), status: JobStatus::Succeeded, requested_by: Some(PIETER),
                output: Some("Recommended system: 500 kW / 1 MWh lithium iron phosphate battery. Expected peak reduction from 1.2 MW to 0.7 MW, saving about 61,000 EUR in demand charges per year; simple payback 7.5 years."), error: None },
            JobSpec { key: "brief-nordhafen", kind: "research.company_brief", input: json!({"company": "Stadtwerke Nordhafen"}), status: JobStatus::Failed, requested_by: Some(ELENA), output: None, error: Some("search provider timed out after 30 s") },
            JobSpec { key: "followup-brightfield", kind: "email.draft_follow_up", input: json!({"deal": GLOBEX_BRIGHTFIELD}), status: JobStatus::Queued, requested_by: Some(AISHA), output: None, error: None },
        ],
        integrations: vec![
            IntegrationSpec { provider: "microsoft_teams", status: IntegrationStatus::Active, config: json!({"team": "Globex Sales"}), error: None, connected_by: JONAS },
            IntegrationSpec { provider: "datev", status: IntegrationStatus::Pending, config: json!({"client_number": "10442"}), error: None, connected_by: ELENA },
        ],
        files: vec![
            FileSpec { name: "havel-load-profile-2025.csv", mime: "text/csv", size: 2_310_455, uploader: PIETER, company: Some("Havel Cold Storage") },
            FileSpec { name: "brightfield-roof-drone-survey.jpg", mime: "image/jpeg", size: 4_882_001, uploader: AISHA, company: Some("Brightfield Farms") },
        ],
    }
}

// ---------------------------------------------------------------------------------
// initech: Initech, a small B2B expense-management software vendor; the smallest.
// ---------------------------------------------------------------------------------

const NINA: &str = "nina.park@initech.example";
const RAJ: &str = "raj.patel@initech.example";
const OMAR: &str = "omar.haddad@initech.example";
const GRACE: &str = "grace.liu@initech.example";

const INITECH_RIVERSIDE: &str = "Riverside Credit Union: expense automation, 250 seats";

fn initech() -> TenantSpec {
    use DealActivityKind as K;
    TenantSpec {
        slug: "initech",
        name: "Initech",
        plan: TenantPlan::Starter,
        domains: &["intranet.initech.example"],
        settings: json!({"seats": 5, "sso": false, "data_region": "us-east", "ai_employees": false}),
        currency: "USD",
        users: vec![
            user(NINA, "Nina Park", MemberRole::Owner),
            user(RAJ, "Raj Patel", MemberRole::Admin),
            user(OMAR, "Omar Haddad", MemberRole::Member),
            user(GRACE, "Grace Liu", MemberRole::Viewer),
        ],
        companies: vec![
            CompanySpec { name: "Riverside Credit Union", domain: "riverside-cu.example", industry: "Financial services", owner: OMAR, notes: "Regulated; every vendor goes through a security review before purchase." },
            CompanySpec { name: "Bluebird Dental Group", domain: "bluebird-dental.example", industry: "Healthcare", owner: OMAR, notes: "Three clinics; receipts are mostly lab fees and supplies." },
            CompanySpec { name: "Summit Outdoor Gear", domain: "summitoutdoor.example", industry: "Retail", owner: NINA, notes: "Current customer on the monthly plan; asked about annual billing." },
        ],
        contacts: vec![
            ContactSpec { name: "Carla Jimenez", email: "carla.jimenez@riverside-cu.example", phone: "+1 614 555 0102", title: "Controller", company: "Riverside Credit Union" },
            ContactSpec { name: "Derek Stone", email: "derek.stone@riverside-cu.example", phone: "+1 614 555 0119", title: "Information Security Officer", company: "Riverside Credit Union" },
            ContactSpec { name: "Dr. Fiona Walsh", email: "fiona.walsh@bluebird-dental.example", phone: "+1 503 555 0177", title: "Managing Partner", company: "Bluebird Dental Group" },
        ],
        deals: vec![
            DealSpec {
                title: INITECH_RIVERSIDE, stage: DealStage::Negotiation, value: 54_000, probability: 60,
                company: "Riverside Credit Union", contact: "carla.jimenez@riverside-cu.example", owner: OMAR, close_in_days: 25,
                activities: vec![
                    act(K::Meeting, "Security review", "Derek reviewed our SOC 2 Type II report, SSO with SAML and data retention. He asked for a penetration test summary and a signed data processing agreement.", 4, OMAR),
                    act(K::Email, "Pricing for 250 seats", "Offered 18 USD per seat per month on an annual contract, with receipt OCR and card feeds included; Carla wants approval workflows with two levels.", 2, OMAR),
                ],
            },
            DealSpec {
                title: "Bluebird Dental Group: pilot for three clinics", stage: DealStage::Won, value: 7_200, probability: 100,
                company: "Bluebird Dental Group", contact: "fiona.walsh@bluebird-dental.example", owner: OMAR, close_in_days: -8,
                activities: vec![act(K::Email, "Pilot signed", "Dr. Walsh signed a six-month pilot for three clinics; they will import receipts from the practice card.", 8, OMAR)],
            },
            DealSpec {
                title: "Summit Outdoor Gear: annual plan upgrade", stage: DealStage::Lead, value: 9_600, probability: 20,
                company: "Summit Outdoor Gear", contact: "", owner: NINA, close_in_days: 40,
                activities: vec![act(K::Note, "Annual billing question", "Summit asked whether annual billing includes the mileage tracking add-on.", 3, NINA)],
            },
        ],
        documents: vec![
            DocSpec {
                title: "Customer onboarding playbook", doc_type: DocumentType::Note, status: DocumentStatus::Ready, source_url: None, author: RAJ, related_deal: None, error: None,
                text: "Week one. Connect the company card feed, import the chart of accounts and invite approvers. Most customers submit their first expense report within three days.\n\n\
                       Week two. Configure approval workflows and spending policies, such as a 75 USD limit for meals, and turn on receipt OCR.\n\n\
                       Go-live. Sync approved expense reports to the accounting system every night and review the first month-end close with the controller.",
            },
            DocSpec {
                title: "Pricing and discount policy", doc_type: DocumentType::Note, status: DocumentStatus::Ready, source_url: None, author: NINA, related_deal: Some(INITECH_RIVERSIDE), error: None,
                text: "List price. The Team plan costs 12 USD per seat per month and the Business plan 20 USD per seat per month, billed monthly.\n\n\
                       Annual contracts. Annual billing gives a 10% discount; above 200 seats sales may discount the Business plan down to 18 USD per seat.\n\n\
                       Approvals. Discounts beyond 20% need the founder's approval; free pilots are limited to three months and ten seats.",
            },
            DocSpec {
                title: "SOC 2 security overview", doc_type: DocumentType::WebPage, status: DocumentStatus::Ready, source_url: Some("https://initech.example/security"), author: RAJ, related_deal: Some(INITECH_RIVERSIDE), error: None,
                text: "Compliance. Initech holds a SOC 2 Type II report covering security and availability, renewed every year by an independent auditor.\n\n\
                       Data protection. Receipts and expense data are encrypted at rest with AES-256 and in transit with TLS 1.3; customers may choose 1, 3 or 7 years of retention.\n\n\
                       Access. Single sign-on with SAML, enforced two-factor authentication and role-based access control for approvers, accountants and employees.",
            },
        ],
        meetings: vec![
            MeetingSpec {
                title: "Riverside security review", description: "SOC 2 report, SSO and data retention with Riverside's security officer.",
                day: -4, hour: 14, minutes: 60, status: MeetingStatus::Completed, location: "https://meet.example/initech-riverside", organizer: OMAR,
                attendees: vec![OMAR, RAJ], guests: vec!["derek.stone@riverside-cu.example"], deal: Some(INITECH_RIVERSIDE),
                transcript: vec![
                    ("Derek Stone", "We need to see your SOC 2 Type II report and how long you keep receipt images."),
                    ("Raj Patel", "The report is in the trust portal; retention is configurable to one, three or seven years."),
                    ("Derek Stone", "Do you support SAML single sign-on and enforce two-factor authentication?"),
                    ("Omar Haddad", "Both, and we can send a penetration test summary together with the data processing agreement."),
                ],
                summary: Some("Riverside's security officer reviewed SOC 2, retention and SSO. Initech sends a penetration test summary and a signed data processing agreement."),
                action_items: vec![("Send penetration test summary and DPA to Riverside", RAJ, 2)],
            },
            MeetingSpec {
                title: "Summit discovery call", description: "Annual billing and the mileage tracking add-on.",
                day: 3, hour: 18, minutes: 30, status: MeetingStatus::Scheduled, location: "Phone", organizer: NINA,
                attendees: vec![NINA], guests: vec![], deal: Some("Summit Outdoor Gear: annual plan upgrade"),
                transcript: vec![], summary: None, action_items: vec![],
            },
        ],
        tasks: vec![
            task("Send pen test summary and DPA to Riverside", "Derek needs both before procurement can sign.", TaskStatus::Todo, TaskPriority::High, Some(RAJ), 2, Some(INITECH_RIVERSIDE), Some("Riverside security review")),
            task("Configure two-level approvals for Riverside trial", "Carla wants manager and controller approval above 500 USD.", TaskStatus::InProgress, TaskPriority::Medium, Some(OMAR), 5, Some(INITECH_RIVERSIDE), None),
            task("Kick-off call with Bluebird clinics", "Connect the practice card feed for all three clinics.", TaskStatus::Done, TaskPriority::Medium, Some(OMAR), -3, Some("Bluebird Dental Group: pilot for three clinics"), None),
            task("Answer Summit's annual billing question", "Does annual billing include mileage tracking?", TaskStatus::Todo, TaskPriority::Low, Some(NINA), 1, Some("Summit Outdoor Gear: annual plan upgrade"), None),
        ],
        automations: vec![AutomationSpec {
            name: "Welcome e-mail for new customers", description: "Sends the onboarding playbook when a deal is won.",
            trigger: json!({"event": "deal.won"}), action: json!({"type": "email", "to": "deal.contact", "template": "welcome"}), enabled: true, creator: RAJ,
            runs: vec![JobStatus::Succeeded],
        }],
        jobs: vec![JobSpec {
            key: "followup-riverside", kind: "email.draft_follow_up", input: json!({"deal": INITECH_RIVERSIDE}), status: JobStatus::Succeeded, requested_by: Some(OMAR),
            output: Some("Hi Derek, thanks for the thorough security review. Attached are our penetration test summary and the signed data processing agreement. Let us know if procurement needs anything else. Best, Omar"), error: None,
        }],
        integrations: vec![IntegrationSpec { provider: "quickbooks", status: IntegrationStatus::Active, config: json!({"realm": "initech-prod", "sync": "nightly"}), error: None, connected_by: RAJ }],
        files: vec![FileSpec { name: "initech-soc2-type2-2026.pdf", mime: "application/pdf", size: 3_204_887, uploader: RAJ, company: Some("Riverside Credit Union") }],
    }
}
