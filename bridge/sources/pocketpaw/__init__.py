"""PocketPaw: its status stream, REST snapshot and event bus."""

from bridge.infra.family import Credential
from bridge.sources.family import SourceFamily

FAMILY = SourceFamily(
    type="pocketpaw",
    options="bridge.sources.pocketpaw.options:Options",
    source="bridge.sources.pocketpaw.source:PocketPawSource",
    connects_to="url",
    credentials=(
        Credential(
            "pocketpaw-status-key", "PocketPaw status API key (api_key, POCKETPAW_STATUS_API_KEY)"
        ),
        Credential("pocketpaw-token", "PocketPaw dashboard token (token, POCKETPAW_TOKEN)"),
    ),
    secret_files=("token_file",),
    hints="bridge.sources.pocketpaw.hints:hint",
)
