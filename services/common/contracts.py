"""Every contract between the processes, in one file.

The gateway and the services import names from here and from nowhere else, so a
reader learns the whole bus from this module. It must not import nameko or eventlet:
the gateway is asyncio and imports it too.

RPC methods are listed per service with their arguments and what they return.
Events are published by the service that owns the fact, through its outbox; every
payload carries ``event_id`` so that consumers can drop a redelivery.
"""

from __future__ import annotations

from typing import Any, Final, TypedDict

IDENTITY: Final = "identity"
CRITERIA: Final = "criteria"
SUBMISSION: Final = "submission"
EVIDENCE: Final = "evidence"
APPRAISAL: Final = "appraisal"
NOTIFY: Final = "notify"

SERVICES: Final = (IDENTITY, CRITERIA, SUBMISSION, EVIDENCE, APPRAISAL, NOTIFY)

# Operations port of each service (/healthz, /readyz, /metrics); the gateway uses 8000.
SERVICE_PORTS: Final = {
    IDENTITY: 8101,
    CRITERIA: 8102,
    SUBMISSION: 8103,
    EVIDENCE: 8104,
    APPRAISAL: 8105,
    NOTIFY: 8106,
}

# --- Identity: roles and the OpenID realm ------------------------------------------
# Roles a token carries in ``realm_access.roles`` (vai trò).
ROLES: Final = frozenset({"admin", "unit_leader", "unit_staff", "appraiser", "viewer"})
# The realm and client the gateway signs in with, the same names in the shipped
# Keycloak realm (deploy/keycloak/realm-cchc.json) and in the local provider.
DEFAULT_REALM: Final = "cchc"
DEFAULT_CLIENT_ID: Final = "cchc-gateway"

# --- RPC -------------------------------------------------------------------------
# Every service:
#   health() -> {"service": str, "status": "ok", "database": "ok"}
#
# identity:
#   upsert_units(units: list[{code, name, type, parent_code}]) -> {"created": int, "updated": int}
#   list_units(type: str | None) -> list[{code, name, type, parent_code}]
#   create_user(user: {username, full_name, email, zalo_phone, roles, unit_code,
#               department_code}, password: str | None, actor: actor | None,
#               ip: str | None) -> {username, initial_password}
#               (actor is the gateway's Principal.as_actor(): {username, roles, unit_code,
#               department_code}; usernames are stored in lower case)
#   ensure_admin(password: str | None) -> {username, password | None, created: bool}
#   create_users(users: list[user], actor: actor | None, ip: str | None)
#               -> list[{username, initial_password}]   (all or nothing; 409 lists the taken)
#   get_user(username) -> {username, full_name, email, zalo_phone, roles, unit_code,
#                          department_code, must_change_password}
#   list_users(unit_code: str | None, role: str | None, department_code: str | None)
#               -> list[same as get_user]   (e.g. a unit's leaders, to notify them)
#   set_roles(username, roles: list[str], actor: actor | None, ip) -> {username, roles}
#   sign_in_gate(username) -> None; DomainError 429 account_locked {retry_after} while locked
#   record_sign_in(username, ok: bool, ip: str | None, reason: str | None)
#               -> {locked: bool, retry_after: int}
#   set_password(username, new_password, ip, old_password) -> {username}
#               (the caller checked the old one with the provider; 422 weak_password)
#   rotate_signing_key() -> {kid}                             (local provider only)
#   audit_log(subject: str | None, action: str | None, limit: int) -> list[{at, action,
#             actor, subject, ip, detail}]
# The identity service also serves, on its own HTTP port, Keycloak's OpenID paths
# under /realms/{realm}/ (discovery, token, certs, userinfo) when
# CCHC_IDENTITY_PROVIDER=local.
#
# criteria (decimals travel as strings, e.g. "1.25"):
#   create_catalog(data: dict) -> {"id": int}          # the API.md YAML/JSON shape; 422
#       DomainError "catalog_invalid" with extra {"problems": [{code, node, message}]}
#   list_catalogs() -> list[{id, name, year, unit_type, version, in_use}]
#   get_catalog(catalog_id: int) -> {id, name, year, unit_type, version, in_use, bands,
#       bonus_max, penalty_max (caps of bonus / penalty points, "0" when the set has none),
#       nodes: [{code, title, max, rule, evidence, not_applicable_allowed, appraised_by,
#                form_allowed, children: [...]}]}
#   use_catalog(catalog_id: int) -> None      # a campaign uses it: immutable from now on
#   score_entry(catalog_id: int, code: str, inputs: dict) -> {"score": str}
#       inputs by rule: options {option}, ratio {done, planned}, range {self_score},
#       deduction {count}; 422 DomainError "score_rejected" with the reason
#   compute_result(catalog_id: int, scores: {code: str | None}, not_applicable: [code])
#       -> {"total": str, "max": str, "index": str | None, "classification": str | None}
#       (services/common/scoring.py; classification None below every band)
#   update_catalog(catalog_id: int, data: dict) -> {id, version, new_version: bool}
#       edits the version in place until a campaign uses it, else makes a new version
#   clone_catalog(catalog_id: int, year: int, name: str | None) -> {"id": int}
#       the set for another year (a new, unused version); 422 "catalog_invalid"
#   import_xlsx(content_b64: str) -> {"id": int}   # the XLSX template, base64; 413
#       "too_large" past 2 MiB, 422 "catalog_invalid" as create_catalog
#   export_xlsx(catalog_id: int) -> {"content_b64": str}   # the same template back
#
# submission (actor = the gateway's Principal.as_actor(): {username, roles, unit_code,
# department_code}; times ISO 8601 in Asia/Ho_Chi_Minh; decimals as strings; every
# write is refused with 423 "window_locked" / "window_not_open" outside its window,
# judged by the database's clock inside the write's transaction, 423
# "assessment_submitted" once sent, 403 "forbidden_unit" / "not_assigned" / "leader_only"):
#   create_campaign(data: {name, year, catalog_id, unit_codes, windows: {kind: {opens_at,
#       locks_at}}, data_cutoff_date?, reminders_minutes_before_lock?,
#       unranked_unit_codes? (a subset of unit_codes)}, actor) -> {"id": int}
#       # admin; 422 unknown_units
#   list_campaigns() -> list[{id, name, year, catalog_id}]
#   get_campaign(campaign_id) -> {id, name, year, catalog_id, bands, data_cutoff_date
#       ("YYYY-MM-DD" | None), reminders_minutes_before_lock: [int] (default
#       [4320, 1440, 120]), unranked_unit_codes: [code], units: [{unit_code,
#       unit_name, assessment_id}], windows: {kind: {kind, opens_at, locks_at, state, is_open}}}
#   add_window(campaign_id, data: {kind, opens_at, locks_at}, actor) -> window  # admin; 409
#   progress(campaign_id) -> list[{assessment_id, unit_code, unit_name, status, submitted,
#       submitted_at, total, done, last_change}]
#   get_assessment(campaign_id, unit_code, actor) / get_assessment_by_id(assessment_id, actor)
#       -> {id, campaign_id, unit_code, unit_name, status, round, version,
#           proposed_classification, signed_summary, submitted_at, submitted_by,
#           total, max, index, classification, entries: [{code, title, max, rule,
#           evidence_rule, not_applicable_allowed, assignee, inputs, self_score,
#           not_applicable, explanation, evidence: [{id, name}], status, returned,
#           version, updated_at, updated_by, appraisal}]}
#   assign(assessment_id, assignments: {code: username | None}, actor,
#       idempotency_key=None) -> {"assigned": [{code, assignee, version}]}   # leader
#       422 "assignee_not_in_unit" {usernames}: only people of the unit (identity.list_users)
#   save_entry(assessment_id, code, data: {option | done+planned | count | self_score,
#       not_applicable, explanation}, actor, if_match=None, idempotency_key=None)
#       -> entry + {"totals": {total, max, index, classification}} (the applicable
#       entries' sums in SQL, then services/common/scoring.py: the same answer as
#       criteria.compute_result); score from criteria.score_entry; 422 "score_rejected"
#       (from criteria), "not_applicable_not_allowed";
#       409 "stale_version" {current_version}
#   complete_entry(assessment_id, code, actor, if_match=None, idempotency_key=None)
#       -> entry + totals; 422 "explanation_missing" | "evidence_missing" |
#       "score_missing" with extra {"reasons": [...]}
#   attach_evidence(assessment_id, code, evidence: {id, name, sha256?, checks?, doc_number?,
#       doc_date?, title?, section?}, actor) -> entry + totals   (precheck reads them)
#   check_writable(assessment_id, code, actor) -> None: raises what a write would
#       (403, 404, 423) without writing; evidence asks it before a signature check
#   detach_evidence(assessment_id, code, evidence_id, actor) -> entry + totals
#       (called by the evidence service; same scope and lock as a save)
#   submit(assessment_id, data: {signed_summary: {ref, filename, sha256, size},
#       proposed_classification}, actor, idempotency_key=None) -> assessment + result
#       # leader; 422 "assessment_incomplete" {incomplete: [code]}, "unknown_classification",
#       # "signed_summary_unsigned" | "signed_summary_signature_broken" |
#       # "signed_summary_outdated" | "signed_summary_other_assessment" |
#       # "signed_summary_not_generated" (asks evidence.check_signed_summary first);
#       # the assessment's signed_summary then carries "signature": {state, signer, issuer,
#       # signing_time, trusted} (an untrusted signer is reported, not refused)
#   withdraw(assessment_id, actor, idempotency_key=None) -> assessment + result   # leader;
#       takes a sending back to edit while its window is still open (423 after the lock),
#       409 "not_submitted" when there is nothing to take back
#   return_entries(assessment_id, codes: [code], actor) -> assessment   # admin; reopens
#       the returned criteria for the supplement window
#   history(assessment_id, actor) -> list[{id, code, action, actor, at, before, after}]
#   precheck(assessment_id, actor) -> list[{code, problem, detail, predicted_score}]
#       before sending, what the council will refuse per criterion; problem one of
#       signature_absent | signature_broken | file_type_refused | doc_number_letter_suffix
#       | doc_date_after_cutoff | explanation_no_citation | evidence_missing;
#       predicted_score a decimal string ("0" when the council will score 0)
#   summary(assessment_id, actor) -> {campaign, unit_code, unit_name, status, generated_at,
#       total, max, index, classification, digest, marker, rows: [{code, title, depth, max,
#       is_leaf, score, not_applicable, explanation, evidence: [name], status}]}
#       (the PDF carries marker, "cchc-summary:<id>:<digest>": see SUMMARY_MARKER_PREFIX)
#   Same Idempotency-Key (per username) twice -> the first answer, nothing changed;
#   reused with another request -> 422 "idempotency_key_reused".
#
# evidence (tài liệu kiểm chứng). File bytes never cross the bus: the gateway streams an
# upload into the store (services/common/objectstore.py: a folder, or S3 through minio),
# content-addressed as "sha256/<hex>", and sends what it saw.
#   add_evidence(assessment_id: int, code: str,
#                upload: {sha256, size, kind: pdf|jpeg|png|office|archive|executable|unknown,
#                         original_name},
#                meta: {doc_number, doc_date: "YYYY-MM-DD" | None, title, section},
#                actor: dict) -> evidence
#       one evidence per (assessment, code, content, description): the same bytes under
#       another doc_number/doc_date/title/section are a new evidence with its own checks
#       (the bytes stored once); the same description again answers the existing one
#       415 "file_type_refused" (office files only where the criterion has form_allowed),
#       403/404 as submission.get_assessment_by_id, 404 unknown criterion,
#       423 "window_locked" / 403 from submission.attach_evidence (the upload is undone),
#       422 "invalid_input" / "upload_missing"
#   get_evidence(evidence_id: int) -> evidence                       # 404
#   check_signed_summary(ref: str) -> {state, signatures: [{..., signed_markers: [str]}]}
#       the evidence checker on a stored signed summary ("signed-summaries/..."); 404
#       when no such object; called by submission.submit
#   list_evidence(assessment_id: int, code: str | None) -> list[evidence]
#   remove_evidence(assessment_id: int, code: str, evidence_id: int, actor: dict) -> None
#       asks submission.detach_evidence first (423 once locked); the stored object goes
#       with the last evidence that links to it
#   (a timer drops stored files no evidence records, an hour after they were stored)
#   evidence = {id, assessment_id, code, sha256, size, kind, media_type, doc_number,
#       doc_date, title, section, original_name, canonical_name ("2.3_so 25BC-UBND_BC CCHC
#       quy I.2023"), filename (canonical_name + extension), uploaded_by, created_at,
#       checks: {type: {kind, media_type}, sha256, size, campaign_year,
#                signature: {state: valid|untrusted|broken|modified|unreadable|absent,
#                            signatures: [{field, state, intact, trusted, signer, issuer,
#                                          signing_time, changed_after_signing, coverage,
#                                          modification_level, summary}]},
#                flags: [{code: doc_number_letter_suffix|doc_date_outside_year, detail}]}}
#   evidence calls: submission.check_writable(assessment_id, code, actor) before checking
#       a PDF, submission.get_assessment_by_id(assessment_id, actor) (campaign_id,
#       entries' codes; the caller's right to see it), submission.get_campaign(campaign_id)
#       (year, catalog_id), criteria.get_catalog(catalog_id) (form_allowed),
#       submission.attach_evidence(assessment_id, code, {id, name, sha256, checks}, actor),
#       submission.detach_evidence(assessment_id, code, evidence_id, actor)
#
#   pending_units(campaign_id, kind="self_assessment") -> list[{assessment_id, unit_code,
#       unit_name, status, incomplete: [{code, title, assignee}]}]: units that have not
#       sent in that window (supplement: only returned criteria count); notify's reminders
# submission, round 2 (services/submission/rounds.py):
#   supplement_entry(assessment_id, code, data: {explanation, proposed_score?}, actor)
#       -> {code, explanation, proposed_score, updated_at, updated_by, status, version,
#           problems}   # the unit, returned criteria only, in the supplement window:
#       423 "not_returned" / "window_locked" / "assessment_submitted", 422 "score_rejected"
#       (proposed score outside [0, max]), "explanation_missing"
#   round_two(assessment_id, actor) -> {code: {code, explanation, proposed_score,
#       updated_at, updated_by}}
#
# appraisal (scores as decimal strings; the council's windows appraisal/final_appraisal
# lock at their instant, judged in appraisal's transaction by its database clock: 423):
#   queue(campaign_id, actor, unit=None, status=None) -> list[queue_item]   # the actor's
#       department's criteria of every unit that sent; status pending | appraised |
#       needs_supplement | returned
#   queue_item = {assessment_id, unit_code, unit_name, code, title, max, rule, appraised_by,
#       self_score, not_applicable, explanation, evidence, problems (precheck's),
#       predicted_score, status, version, round1: {score, reason, needs_supplement, by, at},
#       returned, round2: {explanation, new_evidence, proposed_score, score, reason, by, at},
#       survey_score}
#   appraise(assessment_id, code, body: {round, score, reason, needs_supplement}, actor)
#       -> queue_item; 403 "other_department", 422 "score_rejected" | "reason_required",
#       409 "round_closed" | "not_returned" | "assessment_finalized", 423
#   return_criteria(assessment_id, actor) -> {assessment_id, status, round, items}  # admin;
#       calls submission.return_entries; 409 "nothing_flagged" | "not_returnable"
#   assessment_view(assessment_id, actor) -> council: result + entries (queue_items);
#       the unit: {assessment_id, status, round, published, entries: [{code, title, returned,
#       red, reason, round1, round2}], result, adjustments}
#   history(assessment_id, actor) -> list[{id, code, action, actor, at, before, after}]
#   comments(assessment_id, code, actor) -> list[{id, code, author, side, text, created_at}]
#   add_comment(assessment_id, code, {text}, actor) -> comment     # 403 "forbidden_comment"
#   set_survey(campaign_id, {unit_code: {code: score}}, actor) -> {saved}  # admin;
#       422 "not_survey" | "unknown_units", 409 "results_published" | "assessment_finalized"
#   set_adjustments(assessment_id, [{kind: bonus|penalty, points, reason}], actor)
#       -> {assessment_id, items, bonus, penalty}    # 422 "adjustment_over_cap"
#   finalize(assessment_id, actor) -> result; finalize_campaign(campaign_id, actor)
#       -> {campaign_id, finalized}      # 422 "appraisal_incomplete" {missing}
#   publish(campaign_id, actor) -> {campaign_id, published_at, published_by, units}
#       # 409 "not_finalized" {unit_codes}; publishing again changes nothing
#   results(campaign_id, actor) -> {campaign, results: [{assessment_id, unit_code, unit_name,
#       unit_type, total, max, index, classification, rank, ranked, bonus, penalty,
#       proposed_classification, finalized_at}]}   # 403 "results_not_published" before
#       publication for anyone but admin and appraisers
#   criteria_report(campaign_id, actor) -> {campaign_id, name, year, basis, rows: [{code,
#       title, kind, max, units, mean, min, max_score, full_score_units, returned_units}]}
#   trend(unit_code, actor) -> {unit_code, years: [{year, campaign_id, campaign_name, index,
#       total, max, classification, rank, fields: [{code, title, score, max}]}]}
#   deductions(assessment_id, actor) -> {campaign, unit_code, unit_name, rows: [{code, title,
#       max, self_score, round1_score, round1_reason, returned, round2_explanation,
#       round2_evidence, proposed_score, final_score}], totals, lost, adjustments, result}
#   appraisal listens to submission.assessment_submitted / assessment_withdrawn /
#   window_opened and calls submission.get_campaign, get_assessment_by_id, precheck,
#   round_two, return_entries and criteria.get_catalog.
#
# notify (usernames as identity stores them; notify keeps its own inbox per person):
#   inbox(username, limit=50, before_id=None) -> list[{id, kind, title, body, created_at,
#       created_at_display, read_at, deliveries: [{channel: email|zalo, to, status:
#       queued|sent|delivered|failed, attempts, last_error, sent_at}]}]   newest first
#   mark_read(username, notification_id) -> {id, read_at}; 404 not_found (also someone
#       else's)
#   get_preferences(username) -> {email: bool, zalo: bool, always_sent: [kind]}
#   set_preferences(username, {email?: bool, zalo?: bool}) -> same; 422 invalid_input
#   notify calls: identity.list_users (leaders, appraisers, a unit's people),
#       submission.get_campaign, submission.get_assessment_by_id (as a system actor
#       with the admin role, for the assignees of returned criteria),
#       submission.pending_units (at each reminder instant)

# The summary to sign carries "cchc-summary:<assessment id>:<digest>" (its PDF's
# Keywords and the footer's text), where digest is submission.summary's "digest" (the
# SHA-256 of what the table shows). The evidence checker lists the markers each
# signature covers; submission.submit accepts a signed summary only when one intact
# signature covers this assessment's marker with its current digest.
SUMMARY_MARKER_PREFIX: Final = "cchc-summary"
# Where the gateway stores signed summaries in the shared file store.
SIGNED_SUMMARY_PREFIX: Final = "signed-summaries/"

# --- Events (source service, event type) -----------------------------------------
# identity.user_created {event_id, username, full_name, email, zalo_phone, roles, unit_code}
USER_CREATED: Final = "user_created"

# submission.entry_saved {event_id, assessment_id, campaign_id, unit_code, code, action
#   (save | complete | attach_evidence | detach_evidence), version, score, not_applicable,
#   status, actor}
ENTRY_SAVED: Final = "entry_saved"
# submission.assessment_submitted {event_id, assessment_id, campaign_id, unit_code, round,
#   proposed_classification, submitted_by, submitted_at, total, max, index, classification}
ASSESSMENT_SUBMITTED: Final = "assessment_submitted"
# submission.assessment_withdrawn {event_id, assessment_id, campaign_id, unit_code, round,
#   withdrawn_by, withdrawn_at}
ASSESSMENT_WITHDRAWN: Final = "assessment_withdrawn"
# submission.assessment_returned {event_id, assessment_id, campaign_id, unit_code, codes, round}
ASSESSMENT_RETURNED: Final = "assessment_returned"
# submission.window_locked {event_id, campaign_id, window_id, kind, locks_at}: once per
#   window, after every write accepted before its instant has committed
WINDOW_LOCKED: Final = "window_locked"
# submission.window_opened {event_id, campaign_id, campaign_name, year, window_id, kind,
#   opens_at, locks_at, unit_codes, reminders_minutes_before_lock}: once per window, the
#   windows created with the campaign included
WINDOW_OPENED: Final = "window_opened"
# submission.entries_assigned {event_id, assessment_id, campaign_id, unit_code,
#   assignments: [{code, title, assignee}], actor}
ENTRIES_ASSIGNED: Final = "entries_assigned"

# appraisal.criterion_appraised {event_id, assessment_id, campaign_id, unit_code, code,
#   round, score, reason, needs_supplement, appraiser}
CRITERION_APPRAISED: Final = "criterion_appraised"
# appraisal.criteria_returned {event_id, assessment_id, campaign_id, unit_code, round,
#   items: [{code, title, reason}]}: after submission reopened them for the supplement
CRITERIA_RETURNED: Final = "criteria_returned"
# appraisal.assessment_finalized {event_id, assessment_id, campaign_id, unit_code, total,
#   max, index, classification}
ASSESSMENT_FINALIZED: Final = "assessment_finalized"
# appraisal.results_published {event_id, campaign_id, name, year, published_at, unit_codes}
RESULTS_PUBLISHED: Final = "results_published"


# --- The same, as data: what the contract test (tests/test_contracts.py) checks -------
# Every RPC method each service serves. The test walks the code: a method served and
# not listed, listed and not served, or called by any process and not listed fails it.
RPC_METHODS: Final[dict[str, frozenset[str]]] = {
    IDENTITY: frozenset({
        "health", "upsert_units", "list_units", "create_user", "ensure_admin",
        "create_users", "get_user", "list_users", "set_roles", "sign_in_gate",
        "record_sign_in", "set_password", "rotate_signing_key", "audit_log"}),
    CRITERIA: frozenset({
        "health", "create_catalog", "list_catalogs", "get_catalog", "use_catalog",
        "score_entry", "compute_result", "update_catalog", "clone_catalog", "import_xlsx",
        "export_xlsx"}),
    SUBMISSION: frozenset({
        "health", "create_campaign", "list_campaigns", "get_campaign", "add_window",
        "progress", "get_assessment", "get_assessment_by_id", "assign", "save_entry",
        "complete_entry", "attach_evidence", "check_writable", "detach_evidence", "submit",
        "withdraw", "return_entries", "history", "precheck", "summary", "pending_units",
        "supplement_entry", "round_two"}),
    EVIDENCE: frozenset({
        "health", "add_evidence", "get_evidence", "check_signed_summary", "list_evidence",
        "remove_evidence"}),
    APPRAISAL: frozenset({
        "health", "queue", "appraise", "return_criteria", "assessment_view", "history",
        "comments", "add_comment", "set_survey", "set_adjustments", "finalize",
        "finalize_campaign", "publish", "results", "criteria_report", "trend",
        "deductions"}),
    NOTIFY: frozenset({
        "health", "inbox", "mark_read", "get_preferences", "set_preferences"}),
}


# Event payloads. ``event_id`` is added by the outbox (services/common/outbox.py).
class UserCreated(TypedDict):
    event_id: str
    username: str
    full_name: str
    email: str | None
    zalo_phone: str | None
    roles: list[str]
    unit_code: str | None


class EntrySaved(TypedDict):
    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    code: str
    action: str  # save | complete | attach_evidence | detach_evidence
    version: int
    score: str | None
    not_applicable: bool
    status: str
    actor: str


class AssessmentSubmitted(TypedDict):
    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    round: int
    proposed_classification: str | None
    submitted_by: str
    submitted_at: str
    total: str
    max: str
    index: str | None
    classification: str | None


class AssessmentWithdrawn(TypedDict):
    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    round: int
    withdrawn_by: str
    withdrawn_at: str


class AssessmentReturned(TypedDict):
    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    codes: list[str]
    round: int


class WindowLocked(TypedDict):
    event_id: str
    campaign_id: int
    window_id: int
    kind: str
    locks_at: str


class WindowOpened(TypedDict):
    event_id: str
    campaign_id: int
    campaign_name: str
    year: int
    window_id: int
    kind: str
    opens_at: str
    locks_at: str
    unit_codes: list[str]
    reminders_minutes_before_lock: list[int]


class Assignment(TypedDict):
    code: str
    title: str
    assignee: str | None


class EntriesAssigned(TypedDict):
    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    assignments: list[Assignment]
    actor: str


class CriterionAppraised(TypedDict):
    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    code: str
    round: int
    score: str | None
    reason: str | None
    needs_supplement: bool
    appraiser: str


class ReturnedItem(TypedDict):
    code: str
    title: str
    reason: str | None


class CriteriaReturned(TypedDict):
    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    round: int
    items: list[ReturnedItem]


class AssessmentFinalized(TypedDict):
    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    total: str
    max: str
    index: str | None
    classification: str | None


class ResultsPublished(TypedDict):
    event_id: str
    campaign_id: int
    name: str
    year: int
    published_at: str
    unit_codes: list[str]


# Every event each service publishes, with its payload's shape.
EVENTS: Final[dict[str, dict[str, type[Any]]]] = {
    IDENTITY: {USER_CREATED: UserCreated},
    SUBMISSION: {
        ENTRY_SAVED: EntrySaved, ASSESSMENT_SUBMITTED: AssessmentSubmitted,
        ASSESSMENT_WITHDRAWN: AssessmentWithdrawn, ASSESSMENT_RETURNED: AssessmentReturned,
        WINDOW_LOCKED: WindowLocked, WINDOW_OPENED: WindowOpened,
        ENTRIES_ASSIGNED: EntriesAssigned},
    APPRAISAL: {
        CRITERION_APPRAISED: CriterionAppraised, CRITERIA_RETURNED: CriteriaReturned,
        ASSESSMENT_FINALIZED: AssessmentFinalized, RESULTS_PUBLISHED: ResultsPublished},
}
