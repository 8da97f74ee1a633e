from services.appraisal.models import Base
from services.common import outbox
from services.common.migrate import run_env

run_env([Base.metadata, outbox.metadata])
