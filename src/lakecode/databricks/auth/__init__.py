"""Databricks authentication: strategies -> one refreshing TokenSource per identity -> httpx.Auth.

Where things live (import from the modules; this package imports nothing eagerly)::

    resolve.py       resolve_auth(settings.databricks, secrets=, sdk_auth_type=, applied=, explicit=,
                                  clock=) -> ResolvedAuth(host, auth_type, method, profile, client_id,
                                  identity, token_source, auth, sources, details)
                     u2m_identity(host, client_id="databricks-cli", profile=None)
    token_source.py  Token (repr hides the secret), TokenSource protocol, RefreshingTokenSource
                     (early refresh, single flight, refresh(rejected=...)), TokenSourceRegistry and
                     the process-wide ``registry``, jwt_claims
    httpx_auth.py    BearerAuth(source): Authorization: Bearer per request; refresh + retry once
                     on 401 / 400-403 "Invalid Token"; AuthenticationError with a re-login hint
    strategies.py    StaticTokenFetcher (pat), ClientCredentialsFetcher (oauth-m2m),
                     RefreshTokenFetcher (external-browser), SdkTokenFetcher (everything else)
    oauth_login.py   BrowserLogin (async U2M: start/authorize_url/submit_redirect_url/cancel/wait),
                     OAuthApp, LoginProgress, open_in_browser, browser_available
    login.py         verify(resolved) -> WhoAmI; login_with_pat / login_with_m2m /
                     login_with_profile / complete_browser_login -> LoginResult(settings to save)
    store.py         TokenStore (0600 files, file locks): save_token/load_token, put_secret/
                     get_secret with pat_key / client_secret_key / api_key_key, forget_host
    oidc.py          discover (OIDC endpoints from the workspace origin), request_token, user_agent
    identity.py      AuthIdentity (host, auth type, client id, profile, scopes), login_command

Typical use by a provider::

    resolved = resolve_auth(overrides.settings.databricks, secrets=overrides.secrets,
                            sdk_auth_type=overrides.sdk_auth_type, applied=overrides.applied,
                            clock=clock)
    http = httpx.AsyncClient(base_url=resolved.host, auth=resolved.auth)  # never follow redirects
"""
