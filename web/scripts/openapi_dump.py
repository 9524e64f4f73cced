"""Print the API's OpenAPI document, built from the app's own routes (no server, no database)."""

from __future__ import annotations

import json
import sys
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from msm_api import openapi
from msm_api.app import create_app
from msm_api.bootstrap import bootstrap
from msm_api.security import keys
from msm_api.settings import ApiSettings
from pymongo import MongoClient


def main() -> None:
    # A client that never connects: building the document reads routes and models only.
    db: Any = MongoClient("mongodb://127.0.0.1:1", connect=False)["openapi"]
    key = keys.from_private_key(ed25519.Ed25519PrivateKey.generate())
    settings = ApiSettings(env="test")
    app = create_app(settings, deps=bootstrap(settings, db=db, signing_key=key), prepare=False)
    json.dump(openapi.build(app), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
