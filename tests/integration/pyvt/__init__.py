"""pyvt — the mod_voxtwilio integration harness: a throwaway PostgreSQL, a real Apache
loading the built module, the admin tool, an independent Twilio signer and a stand-in for
the Twilio REST API. Used by the pytest suite (tests/integration) and by scripts/demo.sh."""
from .util import Paths, Capture, free_port, wait_until, make_key_file, read_key_file, is_root
from .pg import PgCluster, PgError
from .admin import Admin, AdminResult
from .apache import Apache, ApacheError, scan_log_text
from .twilio import (TwilioSigner, WebhookClient, voice_params, message_params,
                     new_message_sid, new_call_sid, new_account_sid,
                     new_auth_token, new_number, param, replace_param, encode_form)
from .standin import TwilioAPIStandIn
from .openai_standin import OpenAIStandIn
from . import openai_standin
from .twiml import parse_twiml, Twiml
from . import checks

__all__ = [n for n in dir() if not n.startswith("_")]
