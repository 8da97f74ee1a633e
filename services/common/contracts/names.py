"""The processes by name, their operations ports, and the roles and realm of sign-in."""

from __future__ import annotations

from typing import Final

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

# Roles a token carries in ``realm_access.roles`` (vai trò).
ROLES: Final = frozenset({"admin", "unit_leader", "unit_staff", "appraiser", "viewer"})
# The realm and client the gateway signs in with, the same names in the shipped
# Keycloak realm (deploy/keycloak/realm-cchc.json) and in the local provider.
DEFAULT_REALM: Final = "cchc"
DEFAULT_CLIENT_ID: Final = "cchc-gateway"
