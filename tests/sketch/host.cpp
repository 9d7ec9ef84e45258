// Runs the sketch on a PC. Commands on stdin, one per line:
//   > TEXT    the board receives TEXT and a newline, then loop() runs
//   t MS      millis() becomes MS, then loop() runs
//   p         print the PWM duty of every pin written so far
// Whatever the sketch printed is echoed as "serial <text>".
#include "Arduino.h"

unsigned long fakeMillis = 0;
int pinDuty[64];
FakeSerial Serial;

#include AGENTLIGHT_SKETCH

static void flushSerial() {
  if (!Serial.output.empty()) {
    std::printf("serial %s", Serial.output.c_str());
    if (Serial.output.back() != '\n') std::printf("\n");
    Serial.output.clear();
  }
  std::fflush(stdout);
}

int main() {
  for (int &duty : pinDuty) duty = -1;
  setup();
  flushSerial();
  char command[256];
  while (std::fgets(command, sizeof command, stdin)) {
    command[std::strcspn(command, "\n")] = '\0';
    if (command[0] == '>') {
      for (const char *c = command + 2; *c; ++c) Serial.input.push_back(*c);
      Serial.input.push_back('\n');
      loop();
    } else if (command[0] == 't') {
      fakeMillis = std::strtoul(command + 2, nullptr, 10);
      loop();
    } else if (command[0] == 'p') {
      std::printf("pins");
      for (int pin = 0; pin < 64; ++pin) {
        if (pinDuty[pin] >= 0) std::printf(" %d=%d", pin, pinDuty[pin]);
      }
      std::printf("\n");
    }
    flushSerial();
  }
  return 0;
}
