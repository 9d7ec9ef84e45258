// agentlight: RGB LEDs on an Arduino Uno or Nano, driven by `agentlight run`
// with a [[devices]] entry of type = "serial", protocol = "line".
//
// The bridge sends one text line per change; this sketch runs blink and pulse
// itself, so nothing crosses the USB link while a look stays the same (apart
// from a refresh every 5 s).
//
// Protocol (115200 baud, lines end with '\n'):
//   host -> board   ?                         say hello again
//                   L <led> <rrggbb> <effect> <ms>
//                                             show a look on LED <led> (0-based):
//                                             effect solid|blink|pulse, <ms> the
//                                             period, colour already at its brightness
//                   O                         all off, stop the watchdog
//   board -> host   agentlight 1 leds=<n>     hello: at boot and after '?'
//                   err <text>                a line it did not understand
// After an L line the board expects another line within 15 s; when none comes
// the bridge is gone, and LED 0 blinks dim white slowly ("no bridge").
//
// Wiring: each RGB LED on three PWM pins, each leg through its own resistor
// (about 220 ohm for red, 150 ohm for green and blue at 5 V). Common cathode:
// the shared leg to GND. Common anode: the shared leg to 5 V and set
// COMMON_ANODE to true below. Plain Arduino C++: no libraries needed.

#include <Arduino.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- settings -------------------------------------------------------------

// Red, green, blue PWM pins of each LED. The Uno and Nano have PWM on 3, 5, 6,
// 9, 10 and 11: room for two RGB LEDs.
const uint8_t LED_PINS[][3] = {
  {9, 10, 11},
  // {3, 5, 6},  // a second LED: one session each (layout = "segments")
};
const bool COMMON_ANODE = false;
const unsigned long BAUD = 115200;
const unsigned long WATCHDOG_MS = 15000;
const unsigned long FRAME_MS = 10;  // 100 steps a second: smooth to the eye

// ---- state ------------------------------------------------------------------

const uint8_t PROTOCOL_VERSION = 1;
const uint8_t NUM_LEDS = sizeof(LED_PINS) / sizeof(LED_PINS[0]);
const float PULSE_FLOOR = 0.08;  // as the bridge: a breathing LED never goes fully dark

enum Effect { SOLID, BLINK, PULSE };

struct Look {
  uint8_t r, g, b;
  Effect effect;
  unsigned long period;  // ms
  unsigned long start;   // millis() when this look began
};

Look looks[NUM_LEDS];
char line[48];
uint8_t lineLength = 0;
bool lineTooLong = false;
bool watchdogArmed = false;
unsigned long lastLineAt = 0;
unsigned long lastFrameAt = 0;

// Perceptual level -> PWM duty (gamma 2.2), so a pulse looks even to the eye.
// A lit level never rounds down to 0.
const uint8_t GAMMA[256] PROGMEM = {
    0,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,
    1,   1,   1,   1,   1,   1,   1,   1,   1,   2,   2,   2,   2,   2,   2,   2,
    3,   3,   3,   3,   3,   4,   4,   4,   4,   5,   5,   5,   5,   6,   6,   6,
    6,   7,   7,   7,   8,   8,   8,   9,   9,   9,  10,  10,  11,  11,  11,  12,
   12,  13,  13,  13,  14,  14,  15,  15,  16,  16,  17,  17,  18,  18,  19,  19,
   20,  20,  21,  22,  22,  23,  23,  24,  25,  25,  26,  26,  27,  28,  28,  29,
   30,  30,  31,  32,  33,  33,  34,  35,  35,  36,  37,  38,  39,  39,  40,  41,
   42,  43,  43,  44,  45,  46,  47,  48,  49,  49,  50,  51,  52,  53,  54,  55,
   56,  57,  58,  59,  60,  61,  62,  63,  64,  65,  66,  67,  68,  69,  70,  71,
   73,  74,  75,  76,  77,  78,  79,  81,  82,  83,  84,  85,  87,  88,  89,  90,
   91,  93,  94,  95,  97,  98,  99, 100, 102, 103, 105, 106, 107, 109, 110, 111,
  113, 114, 116, 117, 119, 120, 121, 123, 124, 126, 127, 129, 130, 132, 133, 135,
  137, 138, 140, 141, 143, 145, 146, 148, 149, 151, 153, 154, 156, 158, 159, 161,
  163, 165, 166, 168, 170, 172, 173, 175, 177, 179, 181, 182, 184, 186, 188, 190,
  192, 194, 196, 197, 199, 201, 203, 205, 207, 209, 211, 213, 215, 217, 219, 221,
  223, 225, 227, 229, 231, 234, 236, 238, 240, 242, 244, 246, 248, 251, 253, 255,
};

// ---- output -----------------------------------------------------------------

void writeChannel(uint8_t pin, uint8_t level) {
  uint8_t duty = pgm_read_byte(&GAMMA[level]);
  analogWrite(pin, COMMON_ANODE ? 255 - duty : duty);
}

void writeLed(uint8_t led, uint8_t r, uint8_t g, uint8_t b) {
  writeChannel(LED_PINS[led][0], r);
  writeChannel(LED_PINS[led][1], g);
  writeChannel(LED_PINS[led][2], b);
}

// Brightness factor 0..1 of a look at time `now` (the bridge's effects, same shape).
float levelAt(const Look &look, unsigned long now) {
  if (look.effect == SOLID || look.period == 0) {
    return 1.0;
  }
  float phase = (float)((now - look.start) % look.period) / (float)look.period;
  if (look.effect == BLINK) {
    return phase < 0.5 ? 1.0 : 0.0;  // on first, so a change is seen at once
  }
  float wave = 0.5 + 0.5 * cos(2.0 * M_PI * phase);  // starts bright
  return PULSE_FLOOR + (1.0 - PULSE_FLOOR) * wave;
}

void render(unsigned long now) {
  bool orphaned = watchdogArmed && now - lastLineAt > WATCHDOG_MS;
  for (uint8_t i = 0; i < NUM_LEDS; i++) {
    if (orphaned) {
      // No word from the bridge: LED 0 says so (dim white, slow blink).
      bool on = i == 0 && ((now / 1500) % 2 == 0);
      writeLed(i, on ? 40 : 0, on ? 40 : 0, on ? 40 : 0);
      continue;
    }
    float level = levelAt(looks[i], now);
    writeLed(i, (uint8_t)(looks[i].r * level + 0.5), (uint8_t)(looks[i].g * level + 0.5),
             (uint8_t)(looks[i].b * level + 0.5));
  }
}

void allOff() {
  for (uint8_t i = 0; i < NUM_LEDS; i++) {
    looks[i] = Look{0, 0, 0, SOLID, 0, millis()};
  }
}

// ---- input ------------------------------------------------------------------

void sayHello() {
  Serial.print(F("agentlight "));
  Serial.print(PROTOCOL_VERSION);
  Serial.print(F(" leds="));
  Serial.println(NUM_LEDS);
}

void sayError(const char *what) {
  Serial.print(F("err "));
  Serial.println(what);
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parseColour(const char *text, uint8_t rgb[3]) {
  if (strlen(text) != 6) return false;
  for (uint8_t i = 0; i < 3; i++) {
    int hi = hexDigit(text[2 * i]);
    int lo = hexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    rgb[i] = (uint8_t)(hi * 16 + lo);
  }
  return true;
}

// "L <led> <rrggbb> <effect> <ms>"
void handleLook(char *args) {
  char *ledText = strtok(args, " ");
  char *colourText = strtok(NULL, " ");
  char *effectText = strtok(NULL, " ");
  char *periodText = strtok(NULL, " ");
  if (!ledText || !colourText || !effectText || !periodText) {
    sayError("L needs: led rrggbb effect ms");
    return;
  }
  int led = atoi(ledText);
  if (led < 0 || led >= NUM_LEDS) {
    sayError("no such led");
    return;
  }
  uint8_t rgb[3];
  if (!parseColour(colourText, rgb)) {
    sayError("colour must be rrggbb");
    return;
  }
  Effect effect;
  if (strcmp(effectText, "solid") == 0) {
    effect = SOLID;
  } else if (strcmp(effectText, "blink") == 0) {
    effect = BLINK;
  } else if (strcmp(effectText, "pulse") == 0) {
    effect = PULSE;
  } else {
    sayError("effect must be solid, blink or pulse");
    return;
  }
  unsigned long period = strtoul(periodText, NULL, 10);
  if (effect != SOLID && period < 50) {
    sayError("period must be >= 50 ms");
    return;
  }
  Look &look = looks[led];
  bool same = look.r == rgb[0] && look.g == rgb[1] && look.b == rgb[2] && look.effect == effect &&
              look.period == period;
  if (!same) {
    // A new look starts its effect now; a refresh of the same look keeps its phase.
    look = Look{rgb[0], rgb[1], rgb[2], effect, period, millis()};
  }
  watchdogArmed = true;
}

void handleLine(char *text) {
  lastLineAt = millis();
  switch (text[0]) {
    case '?':
      sayHello();
      break;
    case 'O':
      allOff();
      watchdogArmed = false;
      break;
    case 'L':
      handleLook(text + 1);
      break;
    case '\0':
      break;
    default:
      sayError("unknown command");
  }
}

void readSerial() {
  while (Serial.available() > 0) {
    char c = (char)Serial.read();
    if (c == '\r') continue;
    if (c == '\n') {
      line[lineLength] = '\0';
      if (lineTooLong) {
        sayError("line too long");
      } else {
        handleLine(line);
      }
      lineLength = 0;
      lineTooLong = false;
    } else if (lineLength < sizeof(line) - 1) {
      line[lineLength++] = c;
    } else {
      lineTooLong = true;
    }
  }
}

// ---- main -------------------------------------------------------------------

void setup() {
  for (uint8_t i = 0; i < NUM_LEDS; i++) {
    for (uint8_t c = 0; c < 3; c++) {
      pinMode(LED_PINS[i][c], OUTPUT);
    }
  }
  allOff();
  render(millis());
  Serial.begin(BAUD);
  sayHello();
}

void loop() {
  readSerial();
  unsigned long now = millis();
  if (now - lastFrameAt >= FRAME_MS) {
    lastFrameAt = now;
    render(now);
  }
}
