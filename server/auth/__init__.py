"""Who may call what: identities from client certificates or HelseID tokens, roles, units (docs/security.md)."""

from .config import AuthConfig, AuthConfigError, load_auth_config
from .identity import LOCAL, ROLES, Identity, identity_of
from .interceptor import METHOD_ROLES, OPEN_SERVICES, Authenticator, AuthInterceptor

__all__ = ["LOCAL", "METHOD_ROLES", "OPEN_SERVICES", "ROLES", "AuthConfig", "AuthConfigError", "AuthInterceptor",
           "Authenticator", "Identity", "identity_of", "load_auth_config"]
