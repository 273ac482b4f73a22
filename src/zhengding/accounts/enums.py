from enum import StrEnum


class UserStatus(StrEnum):
    PENDING = "pending"  # created, waiting for activation with a one-time code
    ACTIVE = "active"
    DISABLED = "disabled"


class MfaState(StrEnum):
    NONE = "none"  # fully authenticated
    REQUIRED = "required"  # password ok, TOTP code still needed
    SETUP_REQUIRED = "setup_required"  # administrator without TOTP: must bind one first


STATUS_LABELS = {UserStatus.PENDING: "待激活", UserStatus.ACTIVE: "已激活", UserStatus.DISABLED: "已停用"}
