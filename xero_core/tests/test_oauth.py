import time
from urllib.parse import parse_qs, urlsplit

import pytest

from casemgr_xero_core import oauth
from casemgr_xero_core.endpoints import XeroEndpoints
from casemgr_xero_core.errors import ReconnectRequired, XeroError


def test_endpoints():
    real = XeroEndpoints()
    assert real.api_url == "https://api.xero.com/api.xro/2.0"
    local = XeroEndpoints.for_base("http://h:1/")
    assert local.token_url == "http://h:1/connect/token"
    assert local.authorize_url == "http://h:1/identity/connect/authorize"
    assert local.connections_url == "http://h:1/connections"


def test_authorization_url_shape():
    url = oauth.authorization_url(XeroEndpoints(), "CID", "https://odoo.test/cb", "st4te")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://login.xero.com/identity/connect/authorize"
    )
    q = parse_qs(parts.query)
    assert q == {
        "response_type": ["code"],
        "client_id": ["CID"],
        "redirect_uri": ["https://odoo.test/cb"],
        "scope": [oauth.SCOPES],
        "state": ["st4te"],
    }
    assert "offline_access" in oauth.SCOPES.split()


def _check_token(tok):
    assert set(tok) <= set(oauth.TOKEN_KEYS)
    assert "authentication_event_id" not in tok
    assert tok["access_token"] and tok["refresh_token"]
    assert 1700 < tok["expires_at"] - time.time() <= 1800
    assert not oauth.token_expired(tok)


def test_flows_against_xero_local(xero, xero_proxy):
    ep = XeroEndpoints.for_base(xero_proxy.url)
    tok = oauth.exchange_code(ep, "cid", "sec", "the-code", "https://odoo.test/cb")
    _check_token(tok)
    req = xero_proxy.requests[-1]
    assert req.method == "POST" and req.path == "/connect/token"
    assert b"grant_type=authorization_code" in req.body and b"code=the-code" in req.body
    assert req.headers["Authorization"].startswith("Basic ")
    new = oauth.refresh_token(ep, "cid", "sec", tok["refresh_token"])
    _check_token(new)
    assert new["refresh_token"] != tok["refresh_token"]
    cc = oauth.client_credentials_token(ep, "cid", "sec", scopes="accounting.invoices")
    _check_token(cc)
    conns = oauth.list_connections(ep, cc["access_token"])
    assert [c["tenantId"] for c in conns] == [xero.tenant_id()]
    assert conns[0]["tenantName"] and conns[0]["tenantType"] == "ORGANISATION"


def test_refresh_invalid_grant_means_reconnect(xero, xero_proxy):
    ep = XeroEndpoints.for_base(xero_proxy.url)
    xero_proxy.respond(400, b'{"error":"invalid_grant"}', method="POST", path_prefix="/connect")
    with pytest.raises(ReconnectRequired) as ei:
        oauth.refresh_token(ep, "cid", "sec", "old")
    assert "reconnect" in ei.value.message.lower()


def test_token_expired():
    now = 1000.0
    assert oauth.token_expired(None)
    assert oauth.token_expired({"access_token": ""})
    assert oauth.token_expired({"access_token": "a", "expires_at": now + 30}, now=now)
    assert not oauth.token_expired({"access_token": "a", "expires_at": now + 120}, now=now)
    assert not oauth.token_expired({"access_token": "a"}, now=now)


def test_rotation_policy_uses_a_pair_another_worker_rotated():
    import time as _time

    from casemgr_xero_core.oauth import still_valid

    fresh = {"access_token": "new", "refresh_token": "r2", "expires_at": _time.time() + 1800}
    assert still_valid(fresh, {"access_token": "old"})
    assert not still_valid(fresh, {"access_token": "new"})  # the one we found stale
    assert not still_valid({**fresh, "expires_at": _time.time()}, {"access_token": "old"})
    assert not still_valid({"access_token": None}, None)


def test_renew_without_refresh_token_needs_reconnect():
    import pytest

    from casemgr_xero_core.endpoints import XeroEndpoints
    from casemgr_xero_core.errors import ReconnectRequired
    from casemgr_xero_core.oauth import renew

    with pytest.raises(ReconnectRequired):
        renew(XeroEndpoints(), "cid", "secret", {"refresh_token": None}, custom=False)


def test_revoked_refresh_token_is_refused(xero_proxy):
    """Xero's revocation endpoint (played by the test proxy as Xero documents it): the app's
    Basic credentials and the refresh token, 200; that refresh token is refused afterwards."""
    ep = XeroEndpoints.for_base(xero_proxy.url)
    token = oauth.refresh_token(ep, "cid", "secret", "first-refresh")
    oauth.revoke_token(ep, "cid", "secret", token["refresh_token"])
    (call,) = [r for r in xero_proxy.requests if r.path == "/connect/revocation"]
    assert parse_qs(call.body.decode()) == {"token": [token["refresh_token"]]}
    assert call.headers["Authorization"].startswith("Basic ")
    with pytest.raises(ReconnectRequired):
        oauth.refresh_token(ep, "cid", "secret", token["refresh_token"])
    assert oauth.refresh_token(ep, "cid", "secret", "another-grant")["access_token"]


def test_revocation_not_confirmed_raises(xero_proxy):
    ep = XeroEndpoints.for_base(xero_proxy.url)
    xero_proxy.respond(503, method="POST", path_prefix="/connect/revocation")
    with pytest.raises(XeroError) as caught:
        oauth.revoke_token(ep, "cid", "secret", "some-refresh")
    assert caught.value.status == 503
    assert not xero_proxy.revoked_tokens
