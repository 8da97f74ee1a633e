"""What every service shares: configuration, database, metrics, messaging, contracts."""

import warnings

# eventlet announces its bugfix-only status on import (nameko imports it); the notice
# is known, and repeated by every process it only hides real warnings.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
