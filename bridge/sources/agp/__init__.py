"""H Company AgP: session status by polling."""

from bridge.infra.family import Credential
from bridge.sources.family import SourceFamily

FAMILY = SourceFamily(
    type="agp",
    options="bridge.sources.agp.options:Options",
    source="bridge.sources.agp.source:AgpSource",
    connects_to="url",
    credentials=(Credential("agp-api-key", "H Company AgP API key (api_key, H_API_KEY)"),),
)
