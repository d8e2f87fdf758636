"""``GET /api/2.0/preview/scim/v2/Me`` names the identity behind each kind of credential."""

from __future__ import annotations

import httpx

from lakecode.emulator import Emulator


def test_me_for_pat_and_m2m(emulator: Emulator) -> None:
    me = httpx.get(f"{emulator.url}/api/2.0/preview/scim/v2/Me",
                   headers={"Authorization": f"Bearer {emulator.pat}"})
    assert me.status_code == 200
    assert me.json()["userName"] == "emulator-user@example.com"
    assert me.headers["content-type"].startswith("application/json")

    token = httpx.post(f"{emulator.url}/oidc/v1/token", auth=(emulator.client_id, emulator.client_secret),
                       data={"grant_type": "client_credentials", "scope": "all-apis"}).json()["access_token"]
    sp = httpx.get(f"{emulator.url}/api/2.0/preview/scim/v2/Me", headers={"Authorization": f"Bearer {token}"})
    assert sp.status_code == 200
    assert sp.json()["userName"] == emulator.client_id


def test_me_rejects_missing_and_unknown_credentials(emulator: Emulator) -> None:
    assert httpx.get(f"{emulator.url}/api/2.0/preview/scim/v2/Me").status_code == 401
    bad = httpx.get(f"{emulator.url}/api/2.0/preview/scim/v2/Me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code in (400, 401, 403)
