"""Every contract between the processes: the gateway and the services import them from
here and from nowhere else, so a reader learns the whole bus from this package. It must
not import nameko or eventlet: the gateway is asyncio and imports it too.

- names.py: the services, their ports, the roles and the realm;
- one module per service (identity, criteria, submission, evidence, appraisal, notify)
  with a ``typing.Protocol`` whose methods are its RPCs: parameters, defaults, what
  they take and answer as TypedDicts, the refusals in the docstring (the larger shapes
  of submission and appraisal in ``<service>_shapes.py``); every service also serves
  ``ServiceRpc.health`` (shared.py, with the actor and the result every service uses);
- events.py: every event, its payload's TypedDict, and ``EVENTS``.

``RPC`` maps each service to its Protocol and ``RPC_METHODS`` is derived from it.
tests/test_contracts.py walks the code: a method served that is not declared (or
declared and not served), an @rpc signature that differs from its Protocol method, a
call of an undeclared method or with arguments the method does not take, an event
published or handled that is not declared, a payload whose keys differ from its
TypedDict: each fails it.
"""

from __future__ import annotations

import inspect
from typing import Final

from services.common.contracts.appraisal import AppraisalRpc
from services.common.contracts.criteria import CriteriaRpc
from services.common.contracts.events import (
    ASSESSMENT_FINALIZED,
    ASSESSMENT_RETURNED,
    ASSESSMENT_SUBMITTED,
    ASSESSMENT_WITHDRAWN,
    CRITERIA_RETURNED,
    CRITERION_APPRAISED,
    ENTRIES_ASSIGNED,
    EVENTS,
    RESULTS_PUBLISHED,
    USER_CREATED,
    WINDOW_LOCKED,
    WINDOW_OPENED,
    AssessmentFinalized,
    AssessmentReturned,
    AssessmentSubmitted,
    AssessmentWithdrawn,
    Assignment,
    CriteriaReturned,
    CriterionAppraised,
    EntriesAssigned,
    ResultsPublished,
    ReturnedItem,
    UserCreated,
    WindowLocked,
    WindowOpened,
)
from services.common.contracts.evidence import EvidenceRpc
from services.common.contracts.identity import IdentityRpc
from services.common.contracts.names import (
    APPRAISAL,
    CRITERIA,
    DEFAULT_CLIENT_ID,
    DEFAULT_REALM,
    EVIDENCE,
    IDENTITY,
    NOTIFY,
    ROLES,
    SERVICE_PORTS,
    SERVICES,
    SUBMISSION,
)
from services.common.contracts.notify import NotifyRpc
from services.common.contracts.shared import (
    Actor,
    Change,
    Created,
    Health,
    Result,
    ServiceRpc,
    SignedActor,
)
from services.common.contracts.submission import (
    SIGNED_SUMMARY_PREFIX,
    SUMMARY_MARKER_PREFIX,
    SubmissionRpc,
)

# Each service's RPCs, as a Protocol.
RPC: Final[dict[str, type]] = {
    IDENTITY: IdentityRpc,
    CRITERIA: CriteriaRpc,
    SUBMISSION: SubmissionRpc,
    EVIDENCE: EvidenceRpc,
    APPRAISAL: AppraisalRpc,
    NOTIFY: NotifyRpc,
}


def rpc_methods(protocol: type) -> dict[str, inspect.Signature]:
    """The RPC methods a Protocol declares, its bases' included, with their signatures."""
    methods: dict[str, inspect.Signature] = {}
    for cls in reversed(protocol.__mro__):
        for name, value in vars(cls).items():
            if inspect.isfunction(value) and not name.startswith("_"):
                methods[name] = inspect.signature(value)
    return methods


# Every RPC method each service serves, by name.
RPC_METHODS: Final[dict[str, frozenset[str]]] = {
    service: frozenset(rpc_methods(protocol)) for service, protocol in RPC.items()
}

__all__ = [
    "APPRAISAL", "ASSESSMENT_FINALIZED", "ASSESSMENT_RETURNED", "ASSESSMENT_SUBMITTED",
    "ASSESSMENT_WITHDRAWN", "CRITERIA", "CRITERIA_RETURNED", "CRITERION_APPRAISED",
    "DEFAULT_CLIENT_ID", "DEFAULT_REALM", "ENTRIES_ASSIGNED", "EVENTS",
    "EVIDENCE", "IDENTITY", "NOTIFY", "RESULTS_PUBLISHED", "ROLES", "RPC", "RPC_METHODS",
    "SERVICES", "SERVICE_PORTS", "SIGNED_SUMMARY_PREFIX", "SUBMISSION",
    "SUMMARY_MARKER_PREFIX", "USER_CREATED", "WINDOW_LOCKED", "WINDOW_OPENED",
    "Actor", "AppraisalRpc", "AssessmentFinalized", "AssessmentReturned",
    "AssessmentSubmitted", "AssessmentWithdrawn", "Assignment", "Change", "Created",
    "CriteriaReturned", "CriteriaRpc", "CriterionAppraised", "EntriesAssigned",
    "EvidenceRpc", "Health", "IdentityRpc", "NotifyRpc", "Result",
    "ResultsPublished", "ReturnedItem", "ServiceRpc", "SignedActor", "SubmissionRpc",
    "UserCreated", "WindowLocked", "WindowOpened", "rpc_methods",
]
