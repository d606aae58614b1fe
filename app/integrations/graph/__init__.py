"""Microsoft Graph mail: app-only tokens from MSAL, messages sent as MIME through ``sendMail``."""

from .errors import GraphError, GraphRequestError, GraphRetryableError
from .mailer import GraphMailer, mask_address
from .mime import Attachment, Email, build_mime

__all__ = [
    "Attachment",
    "Email",
    "GraphError",
    "GraphMailer",
    "GraphRequestError",
    "GraphRetryableError",
    "build_mime",
    "mask_address",
]
