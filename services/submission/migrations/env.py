from services.common import outbox
from services.common.migrate import run_env
from services.submission import rounds  # noqa: F401  (its Supplement table)
from services.submission.models import Base

run_env([Base.metadata, outbox.metadata])
