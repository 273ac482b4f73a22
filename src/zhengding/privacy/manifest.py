"""The privacy domain (个人信息保护): masking, revealing a field with a reason, exports."""

from __future__ import annotations

from zhengding.core.manifest import Manifest, Permission, Plug

manifest = Manifest(
    name="privacy",
    label="个人信息保护",
    routers=(Plug("zhengding.privacy.router:router", order=32),),
    permissions=(Permission("personal_data.reveal", "查看完整个人信息"),),
)
