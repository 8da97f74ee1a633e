"""The shipped Keycloak realm gives tokens exactly what the gateway reads."""

import json
from pathlib import Path

from services.common.contracts import DEFAULT_CLIENT_ID, DEFAULT_REALM, ROLES

REALM = Path(__file__).resolve().parents[3] / "deploy" / "keycloak" / "realm-cchc.json"


def _realm() -> dict:
    return json.loads(REALM.read_text(encoding="utf-8"))


def test_realm_roles_and_client_are_ours() -> None:
    realm = _realm()
    assert realm["realm"] == DEFAULT_REALM
    assert {r["name"] for r in realm["roles"]["realm"]} == ROLES
    client = next(c for c in realm["clients"] if c["clientId"] == DEFAULT_CLIENT_ID)
    # The gateway signs in with the password grant as a confidential client.
    assert client["directAccessGrantsEnabled"] and not client["publicClient"]
    audience = next(m for m in client["protocolMappers"]
                    if m["protocolMapper"] == "oidc-audience-mapper")
    assert audience["config"]["included.client.audience"] == DEFAULT_CLIENT_ID
    assert audience["config"]["access.token.claim"] == "true"


def test_unit_and_department_codes_are_declared_and_mapped_into_tokens() -> None:
    realm = _realm()
    client = next(c for c in realm["clients"] if c["clientId"] == DEFAULT_CLIENT_ID)
    mapped = {m["config"]["user.attribute"]: m["config"] for m in client["protocolMappers"]
              if m["protocolMapper"] == "oidc-usermodel-attribute-mapper"}
    for claim in ("unit_code", "department_code", "must_change_password"):
        assert mapped[claim]["claim.name"] == claim
        assert mapped[claim]["access.token.claim"] == "true"
    assert mapped["must_change_password"]["jsonType.label"] == "boolean"
    # Keycloak 24+ drops attributes its user profile does not declare.
    provider = realm["components"]["org.keycloak.userprofile.UserProfileProvider"][0]
    profile = json.loads(provider["config"]["kc.user.profile.config"][0])
    declared = {a["name"] for a in profile["attributes"]}
    assert {"unit_code", "department_code", "must_change_password", "zalo_phone"} <= declared
    last_name = next(a for a in profile["attributes"] if a["name"] == "lastName")
    assert "required" not in last_name  # Vietnamese full names go whole into firstName


def test_the_service_account_may_provision_users() -> None:
    account = next(u for u in _realm()["users"] if u.get("serviceAccountClientId"))
    assert {"manage-users", "view-users", "view-realm"} <= set(
        account["clientRoles"]["realm-management"])
