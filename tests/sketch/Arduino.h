// Just enough of the Arduino core to run firmware/arduino/agentlight on a PC,
// for tests/test_sketch.py: serial in/out through memory, PWM writes recorded,
// millis() set by the test.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>

#define PROGMEM
#define F(text) (text)
#define OUTPUT 1

inline uint8_t pgm_read_byte(const uint8_t *address) { return *address; }

extern unsigned long fakeMillis;
inline unsigned long millis() { return fakeMillis; }

extern int pinDuty[64];
inline void pinMode(uint8_t, uint8_t) {}
inline void analogWrite(uint8_t pin, int duty) { pinDuty[pin] = duty; }

struct FakeSerial {
  std::deque<char> input;
  std::string output;
  void begin(unsigned long) {}
  int available() { return (int)input.size(); }
  int read() {
    if (input.empty()) return -1;
    char c = input.front();
    input.pop_front();
    return (unsigned char)c;
  }
  void print(const char *text) { output += text; }
  void print(int value) { output += std::to_string(value); }
  void println(const char *text) { output += text; output += "\r\n"; }
  void println(int value) { output += std::to_string(value); output += "\r\n"; }
};
extern FakeSerial Serial;
