from tests.conftest import Personas


async def test_health(client):
    r = await client.get("/api/health")
    assert r.status_code == 200 and r.json() == {"ok": True}


async def test_personas_can_read_me(client, personas: Personas):
    r = await client.get("/api/auth/me", headers=personas.town.headers)
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["name"] == "林镇干" and "directory.read" in me["permissions"]
    assert me["phone_masked"] == "138****0004"


def test_each_router_is_registered_once():
    from zhengding import domains

    ROUTERS = domains.router_refs()

    assert len(ROUTERS) == len(set(ROUTERS)), [r for r in ROUTERS if ROUTERS.count(r) > 1]
