"""The complete metadata (Alembic, tests): every installed manifest's models modules."""

from zhengding import domains
from zhengding.core.models import Base

domains.install(domains.MANIFESTS)

metadata = Base.metadata
