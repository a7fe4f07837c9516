"""Settings of the photos: limits, and where the files are kept (``CPTED_PHOTO_*``).

Read once by the app factory and kept on ``app.state.photo_settings``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class PhotoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CPTED_PHOTO_", extra="ignore")

    # A phone's full-resolution JPEG is 3-12 MB; the limit leaves room without inviting raw camera files.
    max_bytes: int = 15_000_000
    # 50 megapixels holds any phone or compact camera; decoding more would cost hundreds of megabytes of memory.
    max_pixels: int = 50_000_000
    thumbnail_px: int = 320

    storage: Literal["local", "s3"] = "local"
    # Local storage: default <var_dir>/photos, beside the rest of the platform's data.
    dir: Path | None = None
    # S3-compatible storage (AWS, MinIO, Ceph...). Credentials come from boto3's usual chain
    # (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile or an instance role), never from here.
    s3_bucket: str | None = None
    s3_prefix: str = "photos/"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None


@lru_cache
def get_photo_settings() -> PhotoSettings:
    """The app factory's one read of the environment (cached: every app of a process shares it)."""
    return PhotoSettings()
