"""Where Xero lives (real Xero or the xero-local emulator)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class XeroEndpoints:
    api_url: str = "https://api.xero.com/api.xro/2.0"
    connections_url: str = "https://api.xero.com/connections"
    token_url: str = "https://identity.xero.com/connect/token"
    authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    revocation_url: str = "https://identity.xero.com/connect/revocation"

    @classmethod
    def for_base(cls, base_url: str) -> XeroEndpoints:
        """The xero-local layout: everything under one base URL."""
        base = base_url.rstrip("/")
        return cls(
            api_url=f"{base}/api.xro/2.0",
            connections_url=f"{base}/connections",
            token_url=f"{base}/connect/token",
            authorize_url=f"{base}/identity/connect/authorize",
            revocation_url=f"{base}/connect/revocation",
        )
