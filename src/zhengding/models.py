"""Every domain's models, imported once so that the metadata (Alembic, tests) is complete."""

from zhengding.accounts import models as accounts_models  # noqa: F401
from zhengding.audit import models as audit_models  # noqa: F401
from zhengding.core import files as files_models  # noqa: F401
from zhengding.core import outbox as outbox_models  # noqa: F401
from zhengding.core.models import Base
from zhengding.divisions import models as divisions_models  # noqa: F401
from zhengding.notify import models as notify_models  # noqa: F401
from zhengding.orgs import models as orgs_models  # noqa: F401
from zhengding.returnees import models as returnees_models  # noqa: F401
from zhengding.returnees import models_nat as returnees_nat_models  # noqa: F401
from zhengding.supervision import models as supervision_models  # noqa: F401
from zhengding.verification import models as verification_models  # noqa: F401

metadata = Base.metadata
