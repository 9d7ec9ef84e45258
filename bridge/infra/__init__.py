"""What every layer uses: config, logging, signals, back-off, secrets, credentials, errors."""
