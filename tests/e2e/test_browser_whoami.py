"""GET /v1/whoami: a token asks what it is (its id, scopes, the stations it acts for, its
expiry), so that a phone app signed in with a station token alone learns its station. Never
the token itself; a revoked or unknown token is 401 like anywhere."""

from harness import wait_for


def test_a_station_token_learns_its_station(svc):
    minted = svc.ok("POST", "/v1/tokens", {"scopes": ["station:2001"], "expires_in_s": 3600},
                    status=201)
    me = svc.ok("GET", "/v1/whoami", token=minted["token"])
    assert me == {"id": minted["id"], "scopes": ["station:2001"], "stations": ["2001"],
                  "expires_at": minted["expires_at"]}
    assert minted["token"] not in str(me)


def test_every_kind_of_token_and_none(svc):
    assert svc.ok("GET", "/v1/whoami") == {"id": None, "scopes": ["admin"], "stations": [],
                                           "expires_at": None}  # the bootstrap token
    op = svc.ok("POST", "/v1/tokens", {"scopes": ["operator"]}, status=201)
    assert svc.ok("GET", "/v1/whoami", token=op["token"]) == {
        "id": op["id"], "scopes": ["operator"], "stations": [], "expires_at": None}
    two = svc.ok("POST", "/v1/tokens", {"scopes": ["station:2002", "station:*41"]}, status=201)
    me = svc.ok("GET", "/v1/whoami", token=two["token"])
    assert me["stations"] == ["2002", "*41"]
    assert me["scopes"] == ["station:2002", "station:*41"]
    svc.error("GET", "/v1/whoami", token=None, status=401, code="unauthorized")
    svc.error("GET", "/v1/whoami", token="cbk_" + "0" * 48, status=401, code="unauthorized")
    st, _, h = svc.call("PUT", "/v1/whoami", {})
    assert st == 405 and h["Allow"] == "GET"


def test_a_revoked_token_is_refused(svc):
    minted = svc.ok("POST", "/v1/tokens", {"scopes": ["station:2001"]}, status=201)
    assert svc.ok("GET", "/v1/whoami", token=minted["token"])["stations"] == ["2001"]
    svc.ok("DELETE", f"/v1/tokens/{minted['id']}", status=204)
    wait_for(lambda: svc.call("GET", "/v1/whoami", token=minted["token"])[0] == 401,
             msg="revoked token refused")
