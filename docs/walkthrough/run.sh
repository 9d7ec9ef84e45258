#!/usr/bin/env bash
# The README's "Raspberry Pi" steps 3-7 and "Desktop: a user service", followed as far as a
# container allows, in a throwaway prefix (nothing outside it is changed):
#
#   bash docs/walkthrough/run.sh          # from the checkout; needs python3 and PyPI
#
# What a container cannot do is said as it goes (SKIP): no Pi hardware (the LED runs on
# gpiozero's mock pins), no systemd as PID 1 (the unit is checked with systemd-analyze
# verify, and its ExecStart is run as systemd would: NOTIFY_SOCKET, WATCHDOG_USEC, a
# credentials directory; see service.py), no udev (the rules are installed, not loaded).
set -euo pipefail

CHECKOUT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$CHECKOUT/docs/walkthrough"
WORK=$(mktemp -d /tmp/agentlight-walkthrough.XXXXXX)
SIM_PID=""
cleanup() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }
skip() { printf 'SKIP: %s\n' "$*"; }

say "step 3: a venv with the system's site packages, agentlight[gpio] from the checkout"
skip "apt install python3-venv / python3-lgpio: not run here (it changes the machine; python3-lgpio is in Raspberry Pi OS's archive only)"
VENV="$WORK/opt/agentlight/venv"
python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/pip" install -q "$CHECKOUT[gpio]"
"$VENV/bin/agentlight" --version
AL="$VENV/bin/agentlight"
if "$VENV/bin/python" -c "import lgpio" 2>/dev/null; then
  echo "lgpio: importable"
else
  skip "lgpio: not on this machine's architecture (the [gpio] extra brings it on aarch64/armv7l)"
fi

say "step 4: a user for the service"
skip "useradd/usermod change this machine's users; the service runs as the current user here"

say "step 5: the config, checked (the README's, then pointed at a simulator)"
ETC="$WORK/etc/agentlight"
install -d "$ETC"
cat > "$ETC/config.toml" <<'TOML'
[[sources]]
type = "pocketpaw"
url = "http://laptop.local:8888"   # the machine running `pocketpaw serve`

[[devices]]
type = "gpio"
name = "led"
red = 17
green = 27
blue = 22
TOML
GPIOZERO_PIN_FACTORY=mock "$AL" check -c "$ETC/config.toml"
echo "(the dashboard-token warning is expected: step 6 gives the token)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KEY="walkthrough-status-key"
"$AL" simulate --port "$PORT" --api-key "$KEY" 2>/dev/null &
SIM_PID=$!
sed -i "s#http://laptop.local:8888#http://127.0.0.1:$PORT#" "$ETC/config.toml"

say "step 6: secrets as systemd credentials (a credentials directory, as LoadCredential= makes)"
CREDS="$WORK/run/credentials/agentlight.service"
install -d -m 700 "$CREDS"
printf '%s' "$KEY" > "$CREDS/pocketpaw-status-key" && chmod 600 "$CREDS/pocketpaw-status-key"
GPIOZERO_PIN_FACTORY=mock CREDENTIALS_DIRECTORY="$CREDS" "$AL" check -c "$ETC/config.toml"
skip "systemd-creds encrypt: needs this machine's credential key (systemd running)"

say "step 7: the unit and the rules installed, the unit verified"
sed -e "s#/opt/agentlight/venv#$VENV#" -e "s#/etc/agentlight/config.toml#$ETC/config.toml#" \
  "$CHECKOUT/systemd/agentlight.service" > "$WORK/agentlight.service"
install -D -m 644 "$CHECKOUT/systemd/70-agentlight-usblights.rules" \
  "$WORK/etc/udev/rules.d/70-agentlight-usblights.rules"
install -D -m 644 "$CHECKOUT/systemd/agentlight-modules.conf" \
  "$WORK/etc/modules-load.d/agentlight.conf"
if command -v systemd-analyze >/dev/null; then
  # User=agentlight does not exist here (step 4 was skipped): verify a copy without it.
  install -d "$WORK/verify"
  grep -v -e '^User=' -e '^Group=' "$WORK/agentlight.service" > "$WORK/verify/agentlight.service"
  systemd-analyze verify "$WORK/verify/agentlight.service" && echo "systemd-analyze verify: clean"
else
  skip "systemd-analyze is not installed"
fi
skip "udevadm control/trigger: no udev here"
echo "the service as systemd would run it:"
python3 "$HERE/service.py" --connected "$WORK/agentlight.service" "$WORK" -- \
  GPIOZERO_PIN_FACTORY=mock CREDENTIALS_DIRECTORY="$CREDS"

say "step 8: watch it"
skip "systemctl status / journalctl / systemd-analyze security: need systemd as PID 1"

say "desktop: a user service from a pipx install"
export HOME="$WORK/home"
install -d "$HOME/.config/agentlight" "$HOME/.config/systemd/user"
if command -v pipx >/dev/null; then
  PIPX_HOME="$WORK/pipx" PIPX_BIN_DIR="$HOME/.local/bin" pipx install -q "$CHECKOUT[streamdeck,usb]"
else
  skip "pipx is not installed: the same install into a venv, linked into ~/.local/bin"
  python3 -m venv "$WORK/pipx-venv"
  "$WORK/pipx-venv/bin/pip" install -q "$CHECKOUT[streamdeck,usb]"
  install -d "$HOME/.local/bin" && ln -s "$WORK/pipx-venv/bin/agentlight" "$HOME/.local/bin/agentlight"
fi
cp "$CHECKOUT/config.example.toml" "$HOME/.config/agentlight/config.toml"
cp "$CHECKOUT/systemd/user/agentlight.service" "$HOME/.config/systemd/user/"
"$HOME/.local/bin/agentlight" check -c "$HOME/.config/agentlight/config.toml" | tail -3
if "$HOME/.local/bin/agentlight" check -c "$HOME/.config/agentlight/config.toml" | grep -q '^warning:'; then
  echo "FAIL: the example config, as copied, has warnings" && exit 1
fi
echo "the example config runs as copied: no warnings"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify --user "$HOME/.config/systemd/user/agentlight.service" 2>&1 \
    && echo "systemd-analyze --user verify: clean" \
    || skip "systemd-analyze --user verify needs a user manager (above)"
fi
python3 "$HERE/service.py" "$HOME/.config/systemd/user/agentlight.service" "$WORK" --
skip "systemctl --user enable --now / journalctl --user: need a user manager"

say "walkthrough done"
